"""Recording: the relay's encoded packets muxed into Matroska, one file per participant.

The recorder subscribes to a stream like a viewer does and writes the same VP8 and Opus packets
into the file: recording costs no encode. A file starts at a keyframe (requested when the
recorder subscribes); timestamps are the relay's capture times, so audio and video line up.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import av
from aiortc.mediastreams import MediaStreamError

from video.encoders import AudioEncoder, Encoded
from video.relay import StreamRelay, Subscription

log = logging.getLogger("sitroom.video.recording")

MS = fractions.Fraction(1, 1000)


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """A finished recording of one stream."""

    stream_id: str
    path: Path
    started_at: datetime
    ended_at: datetime
    packets: int
    """Packets written (audio and video)."""


class StreamRecorder:
    """Writes one stream to one .mkv file until stopped."""

    def __init__(self, relay: StreamRelay, path: Path,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream_id = relay.stream_id
        self.path = path
        self._clock = clock
        self._origin = clock()
        self._started_at = datetime.now(UTC)
        self._has_video = relay.video.source is not None
        encoder = relay.audio.encoder
        assert isinstance(encoder, AudioEncoder)
        self._opus_extradata = encoder.extradata
        self._container: av.container.OutputContainer | None = None
        self._streams: dict[str, av.stream.Stream] = {}
        self._last: dict[str, int] = {"video": -1, "audio": -1}
        self._subs = [relay.video.subscribe(), relay.audio.subscribe()]
        self.packets = 0
        """Packets written so far."""
        self.video_packets = 0
        """Video packets written so far."""
        self._tasks = [asyncio.create_task(self._drain(sub), name=f"record-{sub.kind}-{path.name}")
                       for sub in self._subs]

    async def _drain(self, sub: Subscription) -> None:
        try:
            while True:
                self._write(sub.kind, await sub.get())
        except MediaStreamError:
            return

    def _open(self, first: Encoded) -> av.container.OutputContainer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format="matroska")
        if self._has_video:
            video = container.add_stream("libvpx", rate=30)
            video.width, video.height = first.width or 640, first.height or 480
            video.pix_fmt = "yuv420p"
            self._streams["video"] = video
        audio = container.add_stream("libopus", rate=48_000)
        if self._opus_extradata:
            audio.codec_context.extradata = self._opus_extradata
        self._streams["audio"] = audio
        return container

    def _write(self, kind: str, item: Encoded) -> None:
        if self._container is None:
            if self._has_video and kind != "video":
                return  # the file starts with the first video keyframe
            self._container = self._open(item)
        stream = self._streams.get(kind)
        if stream is None:
            return
        pts = max(self._last[kind] + 1, int((item.captured_at - self._origin) * 1000))
        self._last[kind] = pts
        # A copy: the original packet is shared with the viewers' senders.
        packet = av.Packet(bytes(item.packet))
        packet.pts = packet.dts = pts
        packet.time_base = MS
        packet.stream = stream
        packet.is_keyframe = item.keyframe
        self._container.mux(packet)
        self.packets += 1
        self.video_packets += kind == "video"

    async def stop(self) -> RecordedFile | None:
        """Finish the file; None when nothing was written."""
        for sub in self._subs:
            sub.close()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._container is None:
            return None
        self._container.close()
        return RecordedFile(self.stream_id, self.path, self._started_at, datetime.now(UTC),
                            self.packets)


class RoomRecording:
    """The recording of one conference room: a recorder per participant's stream."""

    def __init__(self, room_id: str, directory: Path) -> None:
        self.room_id = room_id
        self.started_at = datetime.now(UTC)
        """When recording was started."""
        self._directory = directory / room_id
        self._stamp = self.started_at.strftime("%Y%m%dT%H%M%SZ")
        self._recorders: dict[str, StreamRecorder] = {}
        self._finished: list[RecordedFile] = []

    def add(self, relay: StreamRelay) -> None:
        """Record this stream too (a participant present at the start, or joining later)."""
        if relay.stream_id not in self._recorders:
            path = self._directory / f"{self._stamp}_{relay.stream_id}.mkv"
            self._recorders[relay.stream_id] = StreamRecorder(relay, path)

    def least_video_packets(self) -> int:
        """Video packets in the emptiest file being written (0 when none is)."""
        return min((r.video_packets for r in self._recorders.values()), default=0)

    async def remove(self, stream_id: str) -> None:
        """Finish one participant's file (they left)."""
        recorder = self._recorders.pop(stream_id, None)
        done = await recorder.stop() if recorder else None
        if done is not None:
            self._finished.append(done)

    async def stop(self) -> list[RecordedFile]:
        """Finish every file; return all that hold something, including those of leavers."""
        for stream_id in list(self._recorders):
            await self.remove(stream_id)
        return list(self._finished)
