"""The pure half of live push: SSE frames, the worker's mirror of the live state, and the
bounded per-browser queues it fans out to. No I/O here; `dashboard.live_push` runs it.

Messages (SSE `event:` names, JSON `data:`; rows as in incidents.live_wire):
- `snapshot` `{v, w, online_s, u: [UnitRow], i: [IncidentRow]}`: everything, on connect and
  after any resync; the browser replaces its state with it.
- `units` `{v, u}`: units that moved; `incidents` `{v, i, r}`: incidents opened or changed,
  and the ids of those closed.
- `heartbeat` `{v, t, w, live, feeds}` every few seconds: the version, the server's time
  (epoch ms), the worker, whether the worker is following Redis right now, and which
  agencies' feeds are silent (FeedsBeat).
- `signedout` `{}`: the session ended; the page goes to the sign-in form.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from enum import StrEnum

import msgspec

from incidents.live_wire import IncidentRow, LiveDelta, LiveSnapshot, UnitRow


class EventName(StrEnum):
    """The SSE event types of /live/stream."""

    SNAPSHOT = "snapshot"
    UNITS = "units"
    INCIDENTS = "incidents"
    HEARTBEAT = "heartbeat"
    SIGNED_OUT = "signedout"


class SnapshotMessage(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the worker's mirror holds."""

    v: int
    """Live-state version of the rows."""
    w: str
    """The worker (process id) that sent it."""
    online_s: int
    """A unit is online while its last fix is at most this many seconds old."""
    u: list[UnitRow]
    """Every unit."""
    i: list[IncidentRow]
    """Every open incident."""


class UnitsMessage(msgspec.Struct, frozen=True, kw_only=True):
    """Units that moved."""

    v: int
    """Live-state version after the change."""
    u: list[UnitRow]
    """The changed units only."""


class IncidentsMessage(msgspec.Struct, frozen=True, kw_only=True):
    """Incidents that changed."""

    v: int
    """Live-state version after the change."""
    i: list[IncidentRow]
    """Incidents opened or changed."""
    r: list[str]
    """Ids of incidents closed."""


class SilentFeed(msgspec.Struct, frozen=True, kw_only=True):
    """An agency whose feed is not arriving."""

    a: str
    """Agency code."""
    zh: str
    """Its short name in Chinese (the taxonomy's)."""
    en: str
    """Its short name in English."""
    age: int | None
    """Whole seconds since its newest message; None when it was never heard."""


class FeedsBeat(msgspec.Struct, frozen=True, kw_only=True):
    """Whether the agencies' feeds are arriving (dashboard.feed_watch)."""

    stale_s: float
    """The threshold: silent longer than this is stale."""
    ingest: bool
    """False when no ingest worker reports: then every feed is stale."""
    silent: list[SilentFeed]
    """The stale feeds, in the configured order; empty while every feed arrives."""


class HeartbeatMessage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Proof of life, so the page can tell fresh data from stale."""

    v: int
    """Version of the mirror."""
    t: int
    """Server time, epoch milliseconds."""
    w: str
    """The worker that sent it."""
    live: bool
    """False while the worker cannot follow Redis (the data may be stale)."""
    feeds: FeedsBeat | None = None
    """The feeds' state; absent when the worker could not read it (or watches none)."""


_encoder = msgspec.json.Encoder()

RETRY_FRAME = b"retry: 2000\n\n"
"""First bytes of every stream: the browser reconnects 2 s after losing it."""


def sse_frame(event: EventName, message: msgspec.Struct | dict[str, object]) -> bytes:
    """One SSE event. JSON escapes line breaks, so the data is always a single line."""
    return b"event: " + event.value.encode() + b"\ndata: " + _encoder.encode(message) + b"\n\n"


def parse_sse(buffer: bytes) -> tuple[list[tuple[str, bytes]], bytes]:
    """Complete events in `buffer` as (event, data), and the incomplete rest (for clients)."""
    events: list[tuple[str, bytes]] = []
    while (end := buffer.find(b"\n\n")) >= 0:
        block, buffer = buffer[:end], buffer[end + 2:]
        name, data = "message", []
        for line in block.split(b"\n"):
            field, _, value = line.partition(b":")
            value = value.removeprefix(b" ")
            if field == b"event":
                name = value.decode()
            elif field == b"data":
                data.append(value)
        if data:
            events.append((name, b"\n".join(data)))
    return events, buffer


class Mirror:
    """The worker's copy of the live state, kept by snapshots and deltas in version order."""

    def __init__(self, worker: str, online_s: int) -> None:
        self.worker = worker
        self.online_s = online_s
        self.version = 0
        self.synced = False
        """False until the first snapshot: nothing can be sent to browsers before it."""
        self.units: dict[str, UnitRow] = {}
        self.incidents: dict[str, IncidentRow] = {}
        self._frame: tuple[int, bytes] | None = None

    def load(self, snapshot: LiveSnapshot) -> bytes:
        """Replace everything with `snapshot`; returns its frame for every browser."""
        self.units = {row[0]: row for row in snapshot.units}
        self.incidents = {row[0]: row for row in snapshot.incidents}
        self.version = snapshot.version
        self.synced = True
        self._frame = None
        return self.snapshot_frame()

    def apply(self, delta: LiveDelta) -> list[bytes]:
        """Apply the next delta; returns its frames (units, then incidents)."""
        frames: list[bytes] = []
        if delta.u:
            self.units.update((row[0], row) for row in delta.u)
            frames.append(sse_frame(EventName.UNITS, UnitsMessage(v=delta.v, u=delta.u)))
        if delta.i or delta.r:
            self.incidents.update((row[0], row) for row in delta.i)
            for gone in delta.r:
                self.incidents.pop(gone, None)
            frames.append(sse_frame(EventName.INCIDENTS,
                                    IncidentsMessage(v=delta.v, i=delta.i, r=delta.r)))
        self.version = delta.v
        return frames

    def snapshot_frame(self) -> bytes:
        """The `snapshot` event of the current state (encoded once per version)."""
        if self._frame is None or self._frame[0] != self.version:
            message = SnapshotMessage(v=self.version, w=self.worker, online_s=self.online_s,
                                      u=sorted(self.units.values()),
                                      i=sorted(self.incidents.values()))
            self._frame = (self.version, sse_frame(EventName.SNAPSHOT, message))
        return self._frame[1]

    def heartbeat_frame(self, now_s: float, live: bool, feeds: FeedsBeat | None = None
                        ) -> bytes:
        """The `heartbeat` event."""
        return sse_frame(EventName.HEARTBEAT, HeartbeatMessage(
            v=self.version, t=int(now_s * 1000), w=self.worker, live=live and self.synced,
            feeds=feeds))


class Stream:
    """One browser's connection: a bounded queue of frames, filled by the hub's loop and
    drained by the WSGI thread that writes the response."""

    def __init__(self, size: int) -> None:
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=size)
        self.dropped = False
        """Set when the queue overflowed or the hub closed: the response ends."""

    def push(self, frame: bytes) -> bool:
        """Queue a frame without waiting; False (and dropped) when the queue is full."""
        if self.dropped:
            return False
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self.dropped = True
            return False
        return True

    def close(self) -> None:
        """End the stream; the writer notices within its wait."""
        self.dropped = True
        try:
            self._queue.put_nowait(b"")  # wake the writer if it is waiting
        except queue.Full:
            pass  # it is not waiting: the queue has frames, and it checks `dropped` first

    def frames(self, wait_s: float = 1.0) -> Iterator[bytes]:
        """The frames to write, starting with the retry hint, until the stream is dropped."""
        yield RETRY_FRAME
        while not self.dropped:
            try:
                frame = self._queue.get(timeout=wait_s)
            except queue.Empty:
                continue
            if frame and not self.dropped:
                yield frame


class Fanout:
    """The worker's open streams; a stream that cannot keep up is dropped, never waited for."""

    def __init__(self, max_streams: int) -> None:
        self.max_streams = max_streams
        self._streams: set[Stream] = set()
        self.dropped = 0
        """Streams dropped because their queue was full."""

    def __len__(self) -> int:
        return len(self._streams)

    def add(self, stream: Stream) -> bool:
        """Take a stream; False when the worker already serves `max_streams`."""
        if len(self._streams) >= self.max_streams:
            return False
        self._streams.add(stream)
        return True

    def discard(self, stream: Stream) -> None:
        """Forget a stream (its browser went away)."""
        self._streams.discard(stream)

    def publish(self, frame: bytes) -> int:
        """Queue `frame` on every stream; returns how many were dropped for being full."""
        full = 0
        for stream in list(self._streams):
            if stream.dropped:  # closed by its writer; the discard is on its way
                self._streams.discard(stream)
            elif not stream.push(frame):
                full += 1
                self._streams.discard(stream)
                stream.close()
        self.dropped += full
        return full

    def close_all(self) -> None:
        """End every stream (the worker is stopping)."""
        for stream in self._streams:
            stream.close()
        self._streams.clear()



