"""A numbered test pattern: each frame carries its number as black and white blocks.

Used to check a video link end to end (and by the benchmark to measure glass-to-glass
latency): the sender remembers when it produced frame n; the receiver reads n back from the
decoded picture. The blocks survive lossy VP8 compression at any sensible bit rate.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.frame import VideoFrame

BITS = 20
"""Frame-number bits; a 4-bit check follows them."""
CHECK_BITS = 4
BLOCK = 24
"""Block side in pixels; the row starts at (BLOCK, BLOCK)."""
MASK = (1 << BITS) - 1


def _check(number: int) -> int:
    folded = number ^ (number >> 4) ^ (number >> 8) ^ (number >> 12) ^ (number >> 16)
    return (folded ^ 0b1010) & 0xF


def _bits(number: int) -> list[int]:
    value = ((number & MASK) << CHECK_BITS) | _check(number & MASK)
    return [(value >> (BITS + CHECK_BITS - 1 - i)) & 1 for i in range(BITS + CHECK_BITS)]


def draw_number(luma: np.ndarray, number: int) -> None:
    """Write `number` into a luma plane (uint8, height × width) in place."""
    for i, bit in enumerate(_bits(number)):
        x = BLOCK + i * BLOCK
        luma[BLOCK:2 * BLOCK, x:x + BLOCK] = 235 if bit else 16


def read_number(luma: np.ndarray) -> int | None:
    """The number written by `draw_number`, or None when the check fails."""
    half = BLOCK // 2
    value = 0
    for i in range(BITS + CHECK_BITS):
        x = BLOCK + i * BLOCK
        centre = luma[BLOCK + half - 4:BLOCK + half + 4, x + half - 4:x + half + 4]
        value = (value << 1) | int(centre.mean() > 128)
    number = value >> CHECK_BITS
    return number if (value & 0xF) == _check(number) else None


def frame_number(frame: VideoFrame) -> int | None:
    """The pattern number of a decoded frame, or None."""
    luma = frame.to_ndarray(format="gray")
    return read_number(luma)


class PatternTrack(MediaStreamTrack):
    """A video source of numbered frames at a steady rate, with a moving bar (real motion)."""

    kind = "video"

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0,
                 clock: Callable[[], float] = time.time, first_number: int = 1) -> None:
        super().__init__()
        if width < BLOCK * (BITS + CHECK_BITS + 2) or height < 3 * BLOCK:
            raise ValueError("the picture is too small for the number blocks")
        self._width, self._height, self._fps = width, height, fps
        self._clock = clock
        self._start: float | None = None
        self._first = first_number
        self._number = first_number - 1
        rows = np.arange(height, dtype=np.uint16)[:, None]
        cols = np.arange(width, dtype=np.uint16)[None, :]
        self._background = ((rows + cols) % 200 + 28).astype(np.uint8)
        self._chroma = np.full((height // 2, width), 128, dtype=np.uint8)
        self.sent: dict[int, float] = {}
        """Frame number → clock time when it was handed to the sender."""

    async def recv(self) -> VideoFrame:
        """The next numbered frame, paced to `fps`."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = self._clock()
        self._number += 1
        due = self._start + (self._number - self._first) / self._fps
        wait = due - self._clock()
        if wait > 0:
            await asyncio.sleep(wait)
        luma = self._background.copy()
        bar = (self._number * 8) % self._width
        luma[3 * BLOCK:, bar:bar + 16] = 250
        draw_number(luma, self._number)
        frame = VideoFrame.from_ndarray(np.vstack([luma, self._chroma]), format="yuv420p")
        frame.pts = int(self._number * 90_000 / self._fps)
        frame.time_base = fractions.Fraction(1, 90_000)
        self.sent[self._number] = self._clock()
        if len(self.sent) > 10_000:
            del self.sent[next(iter(self.sent))]  # oldest first (insertion order)
        return frame
