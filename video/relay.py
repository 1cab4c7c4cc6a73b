"""The relay: one source per stream, many viewers, one encode per stream.

aiortc's receiver decodes the publisher's media once (its decoder thread). Here each stream
encodes those frames once — VP8 for video, Opus for audio — into `av.Packet`s, and every
viewer's track hands the same packets to its RTCRtpSender. The sender's `_next_encoded_frame`
(aiortc 1.16 rtcrtpsender.py) only calls `encoder.encode()` for an `av.Frame`; for an
`av.Packet` it calls `encoder.pack()`, which merely splits the bitstream into RTP payloads
(codecs/vpx.py `Vp8Encoder.pack`, codecs/opus.py `OpusEncoder.pack`). So a viewer costs RTP
packing and SRTP, never an encode. aiortc's MediaRelay, by contrast, gives each consumer decoded
frames and each sender encodes its own copy.

The relay keeps its own media clock, so when a publisher drops and a new one takes the same
stream id, viewers' senders keep their tracks: the relay switches the source, forces a
keyframe, and the RTP timestamps just move on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from video.encoders import VIDEO_CLOCK, AudioEncoder, Encoded, VideoEncoder

log = logging.getLogger("sitroom.video.relay")

VIDEO_QUEUE = 30
"""Packets a slow viewer may fall behind (1 s at 30 fps) before it skips to a keyframe."""
AUDIO_QUEUE = 50


class Subscription:
    """One consumer of a stream's packets (a viewer's sender, or a recorder)."""

    def __init__(self, source: KindRelay, maxsize: int) -> None:
        self.kind = source.kind
        """audio or video."""
        self._source = source
        self._queue: asyncio.Queue[Encoded | None] = asyncio.Queue(maxsize)
        self._waiting_keyframe = source.kind == "video"
        self.delivered = 0
        """Packets queued for this consumer."""
        self.skipped = 0
        """Times it fell behind and skipped to the next keyframe."""
        self.closed = False

    def offer(self, item: Encoded) -> None:
        """Queue a packet, or skip ahead when the consumer is too slow."""
        if self._waiting_keyframe:
            if not item.keyframe:
                return
            self._waiting_keyframe = False
        if self._queue.full():
            self.skipped += 1
            self._drain()
            if self.kind == "video":
                # Inter frames after a gap cannot be decoded: wait for a fresh keyframe.
                self._waiting_keyframe = True
                self._source.request_keyframe()
                return
        self._queue.put_nowait(item)
        self.delivered += 1

    async def get(self) -> Encoded:
        """The next packet; MediaStreamError once the subscription is closed."""
        item = await self._queue.get()
        if item is None:
            raise MediaStreamError
        return item

    def request_keyframe(self) -> None:
        """Ask the stream's encoder for a keyframe (a viewer's PLI or FIR)."""
        self._source.request_keyframe()

    def close(self) -> None:
        """Stop receiving; a pending `get` raises MediaStreamError."""
        if self.closed:
            return
        self.closed = True
        self._source.unsubscribe(self)
        self._drain()
        self._queue.put_nowait(None)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()


class RelayTrack(MediaStreamTrack):
    """A viewer's track: yields the stream's encoded packets to one RTCRtpSender."""

    def __init__(self, subscription: Subscription) -> None:
        super().__init__()
        self.kind = subscription.kind
        self.subscription = subscription
        """Where the packets come from."""

    async def recv(self) -> av.Packet[Any]:
        """The next packet (the sender packs it without encoding)."""
        if self.readyState != "live":
            raise MediaStreamError
        return (await self.subscription.get()).packet

    def stop(self) -> None:
        """Called by the sender when it stops: release the subscription."""
        super().stop()
        self.subscription.close()


class KindRelay:
    """One kind (audio or video) of one stream: a switchable source, an encoder, subscribers."""

    def __init__(self, name: str, kind: str, encoder: VideoEncoder | AudioEncoder,
                 clock: Callable[[], float]) -> None:
        self.name = name
        """Stream id, for task names and logs."""
        self.kind = kind
        self.encoder = encoder
        """The stream's one encoder."""
        self._clock = clock
        self._origin = clock()
        self._last_pts = -1
        self._subscribers: set[Subscription] = set()
        self._source: MediaStreamTrack | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_end: Callable[[], None] | None = None
        self.source_frames = 0
        """Decoded frames read from the sources."""

    @property
    def subscribers(self) -> int:
        """How many consumers are subscribed."""
        return len(self._subscribers)

    @property
    def source(self) -> MediaStreamTrack | None:
        """The current source track, if any."""
        return self._source

    def attach(self, track: MediaStreamTrack, on_end: Callable[[], None]) -> None:
        """Read from `track` from now on (replacing any source); call `on_end` if it ends."""
        self.detach()
        self._source, self._on_end = track, on_end
        if isinstance(self.encoder, AudioEncoder):
            self.encoder.resync()
        self.encoder.request_keyframe()
        self._task = asyncio.create_task(self._pump(track), name=f"relay-{self.kind}-{self.name}")

    def detach(self) -> asyncio.Task[None] | None:
        """Stop reading the current source (the track itself is its owner's to stop)."""
        task, self._task = self._task, None
        self._source = self._on_end = None
        if task is not None:
            task.cancel()
        return task

    def subscribe(self) -> Subscription:
        """A new consumer; video consumers start at the next keyframe, requested now."""
        sub = Subscription(self, VIDEO_QUEUE if self.kind == "video" else AUDIO_QUEUE)
        self._subscribers.add(sub)
        self.encoder.request_keyframe()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Remove a consumer."""
        self._subscribers.discard(sub)

    def request_keyframe(self) -> None:
        """Ask the encoder for a keyframe."""
        self.encoder.request_keyframe()

    async def close(self) -> None:
        """Stop the pump and end every subscription."""
        task = self.detach()
        for sub in list(self._subscribers):
            sub.close()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _video_pts(self) -> int:
        pts = max(self._last_pts + 1, int((self._clock() - self._origin) * VIDEO_CLOCK))
        self._last_pts = pts
        return pts

    async def _pump(self, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                frame = await track.recv()
                self.source_frames += 1
                if not self._subscribers:
                    continue  # keep draining the source; encode only for someone
                if isinstance(self.encoder, VideoEncoder):
                    assert isinstance(frame, VideoFrame)
                    items = await loop.run_in_executor(None, self.encoder.encode, frame,
                                                       self._video_pts())
                else:
                    assert isinstance(frame, AudioFrame)
                    items = self.encoder.encode(frame)
                for item in items:
                    for sub in list(self._subscribers):
                        sub.offer(item)
        except MediaStreamError:
            log.info("source of %s %s ended", self.name, self.kind)
        if self._source is track:
            on_end = self._on_end
            self._source = self._on_end = self._task = None
            if on_end is not None:
                on_end()


@dataclass(frozen=True, slots=True)
class RelayStats:
    """Counters of one stream's relay."""

    source_frames: int
    """Decoded video frames read from the sources."""
    video_encodes: int
    """Video frames encoded (once per frame, whatever the number of viewers)."""
    encoder_contexts: int
    """VP8 encoder contexts opened for the stream."""
    viewers: int
    """Video subscribers right now."""


class StreamRelay:
    """Both kinds of one stream."""

    def __init__(self, stream_id: str, *, video_bitrate: int, keyframe_interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream_id = stream_id
        self.video = KindRelay(stream_id, "video",
                               VideoEncoder(video_bitrate, keyframe_interval_s, clock), clock)
        """The video side."""
        self.audio = KindRelay(stream_id, "audio", AudioEncoder(clock), clock)
        """The audio side."""

    def kinds(self) -> tuple[KindRelay, KindRelay]:
        """Video, then audio."""
        return self.video, self.audio

    def side(self, kind: str) -> KindRelay:
        """The relay of one kind."""
        return self.video if kind == "video" else self.audio

    def stats(self) -> RelayStats:
        """A snapshot of the counters."""
        encoder = self.video.encoder
        assert isinstance(encoder, VideoEncoder)
        return RelayStats(self.video.source_frames, encoder.calls, encoder.contexts_created,
                          self.video.subscribers)

    async def close(self) -> None:
        """Stop both pumps and end every subscription."""
        await self.video.close()
        await self.audio.close()
