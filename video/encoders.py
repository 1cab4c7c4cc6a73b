"""The shared encoders: one VP8 and one Opus encoder per stream, whatever the viewer count.

Each turns decoded frames into `av.Packet`s stamped on the relay's own clock, ready for any
number of RTCRtpSenders (which only packetize packets) and for recorders (which mux them).
"""

from __future__ import annotations

import fractions
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.video.frame import PictureType, VideoFrame

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
OPUS_FRAME = 960
"""Samples per 20 ms Opus packet at 48 kHz."""
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)
MIN_KEYFRAME_GAP_S = 0.25
"""Keyframe requests (joins, PLIs) closer than this share one keyframe: no storms."""


@dataclass(frozen=True, slots=True)
class Encoded:
    """One encoded packet, shared by every subscriber of its stream."""

    packet: av.Packet[Any]
    """The packet; senders only read it."""
    keyframe: bool
    """Whether a decoder can start here."""
    captured_at: float
    """Relay clock (monotonic seconds) when it was encoded."""
    width: int = 0
    """Picture size, for recorders (video only)."""
    height: int = 0


class VideoEncoder:
    """The one VP8 encoder of a stream; thread-safe, as it runs in the default executor.

    It keeps the configured bit rate: viewers' REMB estimates reach only their own senders'
    (unused) encoders, so one viewer on a poor link cannot lower everyone's picture.
    """

    def __init__(self, bitrate: int, keyframe_interval_s: float,
                 clock: Callable[[], float]) -> None:
        self._bitrate = bitrate
        self._interval = keyframe_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._codec: av.VideoCodecContext | None = None
        self._size = (0, 0)
        self._want_keyframe = False
        self._last_keyframe = -math.inf
        self.contexts_created = 0
        """How many codec contexts were opened (one, unless the picture size changed)."""
        self.calls = 0
        """Frames encoded."""

    def request_keyframe(self) -> None:
        """Make one of the next frames a keyframe (at most one per MIN_KEYFRAME_GAP_S)."""
        self._want_keyframe = True

    def encode(self, frame: VideoFrame, pts: int) -> list[Encoded]:
        """Encode one frame stamped `pts` (90 kHz)."""
        with self._lock:
            if frame.format.name != "yuv420p":
                frame = frame.reformat(format="yuv420p")
            size = (frame.width, frame.height)
            if self._codec is None or size != self._size:
                self._codec = self._open(*size)
                self._size = size
            now = self._clock()
            gap = now - self._last_keyframe
            if (self._want_keyframe and gap >= MIN_KEYFRAME_GAP_S) or gap >= self._interval:
                frame.pict_type = PictureType.I
                self._want_keyframe = False
            frame.pts = pts
            frame.time_base = VIDEO_TIME_BASE
            self.calls += 1
            found = []
            for packet in self._codec.encode(frame):
                packet.pts = packet.dts = pts
                packet.time_base = VIDEO_TIME_BASE
                if packet.is_keyframe:
                    self._last_keyframe = now
                found.append(Encoded(packet, packet.is_keyframe, now, *size))
            return found

    def _open(self, width: int, height: int) -> av.VideoCodecContext:
        codec = av.CodecContext.create("libvpx", "w")
        assert isinstance(codec, av.VideoCodecContext)
        codec.width, codec.height = width, height
        codec.pix_fmt = "yuv420p"
        codec.bit_rate = self._bitrate
        codec.time_base = VIDEO_TIME_BASE
        codec.gop_size = 100_000  # keyframes come on request and every keyframe_interval_s
        codec.qmin, codec.qmax = 2, 56
        # One thread: with two, libvpx's worker sync cost 5-15x the CPU per frame on a busy
        # 2-core machine (measured: ~2.3 ms against 11-40 ms per 640×480 frame).
        codec.thread_count = 1
        # Real-time settings close to aiortc's own VP8 encoder. A negative cpu-used fixes the
        # speed: a positive one lets libvpx spend the whole frame interval (tens of ms per
        # 640×480 frame here, against ~2 ms).
        codec.options = {"deadline": "realtime", "cpu-used": "-6", "lag-in-frames": "0",
                         "error-resilient": "1", "static-thresh": "1",
                         "undershoot-pct": "100", "overshoot-pct": "15",
                         "minrate": str(self._bitrate), "maxrate": str(self._bitrate),
                         "bufsize": str(self._bitrate)}
        self.contexts_created += 1
        # A new context starts with a keyframe by itself.
        self._want_keyframe = False
        return codec


class AudioEncoder:
    """The one Opus encoder of a stream (cheap: runs on the event loop)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        codec = av.CodecContext.create("libopus", "w")
        assert isinstance(codec, av.AudioCodecContext)
        codec.sample_rate = AUDIO_RATE
        codec.format = "s16"
        codec.layout = "stereo"
        codec.bit_rate = 64_000
        codec.time_base = AUDIO_TIME_BASE
        codec.options = {"application": "voip"}
        codec.open()  # now, so that recorders can copy its header (extradata) at once
        self._codec = codec
        self._resampler = AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE,
                                         frame_size=OPUS_FRAME)
        self._origin = clock()
        self._pts = 0
        self.calls = 0
        """Frames encoded."""

    @property
    def extradata(self) -> bytes | None:
        """The Opus header a Matroska file needs."""
        data: bytes | None = self._codec.extradata
        return data

    def resync(self) -> None:
        """A new source: jump the timeline to now, so it never runs behind the wall clock."""
        self._pts = max(self._pts, int((self._clock() - self._origin) * AUDIO_RATE))
        self._resampler = AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE,
                                         frame_size=OPUS_FRAME)

    def request_keyframe(self) -> None:
        """Audio has no keyframes."""

    def encode(self, frame: AudioFrame) -> list[Encoded]:
        """Encode one frame; packets are stamped by counting samples."""
        self.calls += 1
        now = self._clock()
        found = []
        for chunk in self._resampler.resample(frame):
            for packet in self._codec.encode(chunk):
                packet.pts = packet.dts = self._pts
                packet.time_base = AUDIO_TIME_BASE
                self._pts += OPUS_FRAME
                found.append(Encoded(packet, True, now))
        return found
