"""Live push, the pure half: wire rows, SSE frames, the worker's mirror, bounded fan-out."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from dashboard.live_frames import (
    RETRY_FRAME,
    EventName,
    Fanout,
    FeedsBeat,
    Mirror,
    SilentFeed,
    Stream,
    parse_sse,
    sse_frame,
)
from incidents.live_wire import (
    LiveDelta,
    LiveSnapshot,
    decode_delta,
    encode_delta,
    encode_row,
    incident_row,
    unit_row,
)
from incidents.model import Incident, IncidentStatus, Level, UnitState
from incidents.outage import backoff_s

T0 = datetime(2025, 6, 1, 8, 0, 0, 123000, tzinfo=UTC)
T0_MS = 1748764800123


def unit(name: str, lat: float = 37.0612345, heading: float | None = 123.4) -> UnitState:
    return UnitState(unit=name, agency="fire", lat=lat, lon=114.5098765, ts=T0, speed=12.345,
                     heading=heading, unit_type="fire_engine")


def incident(ident: str, level: Level = Level.II) -> Incident:
    return Incident(id=ident, type="flood", level=level, status=IncidentStatus.VERIFIED,
                    title="河道漫堤\n第二行", lat=37.2, lon=114.9, reported_at=T0, updated_at=T0,
                    agency="water")


def frames_of(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    events, rest = parse_sse(data)
    assert rest == b""
    return [(name, json.loads(body)) for name, body in events]


# --- wire rows -----------------------------------------------------------------------------

def test_rows_are_compact_arrays_with_rounded_coordinates_and_epoch_ms() -> None:
    assert unit_row(unit("F-1")) == ("F-1", "fire", "fire_engine", 37.06123, 114.50988, 123.0,
                                     T0_MS, 12.3)
    assert unit_row(unit("F-1", heading=None))[5] is None
    row = incident_row(incident("i-1"))
    assert row == ("i-1", "flood", "II", "verified", "河道漫堤\n第二行", 37.2, 114.9, T0_MS,
                   T0_MS, "water")
    assert len(encode_row(unit_row(unit("F-1")))) < 80  # what 10,000 units a second cost


def test_the_delta_the_apply_script_splices_decodes_as_a_live_delta() -> None:
    # The Lua script builds this text from rows encoded one by one (incidents.live).
    units = b",".join(encode_row(unit_row(unit(n))) for n in ("F-1", "F-2"))
    text = (b'{"v":42,"u":[' + units + b'],"i":[' + encode_row(incident_row(incident("i-1")))
            + b'],"r":[' + encode_row("i-0") + b"]}")
    delta = decode_delta(text)
    assert delta.v == 42 and [u[0] for u in delta.u] == ["F-1", "F-2"]
    assert delta.i == [incident_row(incident("i-1"))] and delta.r == ["i-0"]
    assert not delta.rebuilt
    assert decode_delta(encode_delta(LiveDelta(v=7, rebuilt=True))) == LiveDelta(v=7,
                                                                                  rebuilt=True)


# --- SSE frames ----------------------------------------------------------------------------

def test_frames_are_single_line_events_that_parse_back_even_split_anywhere() -> None:
    frame = sse_frame(EventName.INCIDENTS, {"i": [incident_row(incident("i-1"))], "r": []})
    assert frame.startswith(b"event: incidents\ndata: ") and frame.count(b"\n") == 3
    stream = RETRY_FRAME + frame + sse_frame(EventName.HEARTBEAT, {"v": 1})
    for cut in range(len(stream)):
        first, rest = parse_sse(stream[:cut])
        second, tail = parse_sse(rest + stream[cut:])
        assert [name for name, _ in first + second] == ["incidents", "heartbeat"]
        assert tail == b""


# --- the mirror ----------------------------------------------------------------------------

def snapshot(version: int = 5) -> LiveSnapshot:
    return LiveSnapshot(version=version, units=[unit_row(unit("F-1")), unit_row(unit("F-2"))],
                        incidents=[incident_row(incident("i-1"))])


def test_nothing_is_live_before_the_first_snapshot() -> None:
    mirror = Mirror("w1", online_s=300)
    assert not mirror.synced
    (heartbeat,) = frames_of(mirror.heartbeat_frame(1000.0, live=True))
    assert heartbeat == ("heartbeat", {"v": 0, "t": 1_000_000, "w": "w1", "live": False})


def test_the_heartbeat_names_the_silent_feeds_when_told_them() -> None:
    mirror = Mirror("w1", online_s=300)
    mirror.load(snapshot())
    feeds = FeedsBeat(stale_s=5.0, ingest=True,
                      silent=[SilentFeed(a="fire", zh="消防救援", en="Fire and rescue", age=7),
                              SilentFeed(a="water", zh="水利", en="Water resources", age=None)])
    (heartbeat,) = frames_of(mirror.heartbeat_frame(1000.0, live=True, feeds=feeds))
    assert heartbeat[1]["live"] is True
    assert heartbeat[1]["feeds"] == {
        "stale_s": 5.0, "ingest": True,
        "silent": [{"a": "fire", "zh": "消防救援", "en": "Fire and rescue", "age": 7},
                   {"a": "water", "zh": "水利", "en": "Water resources", "age": None}]}


def test_snapshot_then_deltas_update_the_mirror_and_produce_their_frames() -> None:
    mirror = Mirror("w1", online_s=300)
    (name, body), = frames_of(mirror.load(snapshot()))
    assert name == "snapshot" and body["v"] == 5 and body["online_s"] == 300
    assert [u[0] for u in body["u"]] == ["F-1", "F-2"]

    moved = unit_row(unit("F-2", lat=37.5))
    frames = mirror.apply(LiveDelta(v=6, u=[moved]))
    assert frames_of(b"".join(frames)) == [("units", {"v": 6, "u": [list(moved)]})]
    frames = mirror.apply(LiveDelta(v=7, i=[incident_row(incident("i-2", Level.I))],
                                    r=["i-1"]))
    ((name, body),) = frames_of(b"".join(frames))
    assert name == "incidents" and body["r"] == ["i-1"]
    assert mirror.version == 7 and set(mirror.incidents) == {"i-2"}
    assert mirror.units["F-2"][3] == 37.5

    (name, body), = frames_of(mirror.snapshot_frame())
    assert body["v"] == 7 and [i[0] for i in body["i"]] == ["i-2"]
    assert mirror.snapshot_frame() is mirror.snapshot_frame()  # encoded once per version


# --- streams and fan-out -------------------------------------------------------------------

def test_a_slow_browser_is_dropped_and_the_others_get_everything() -> None:
    fanout = Fanout(max_streams=10)
    fast, slow = Stream(size=100), Stream(size=2)
    assert fanout.add(fast) and fanout.add(slow)
    assert fanout.publish(b"a") == 0 and fanout.publish(b"b") == 0
    assert fanout.publish(b"c") == 1  # slow's queue (2 frames) is full
    assert slow.dropped and len(fanout) == 1 and fanout.dropped == 1
    fanout.publish(b"d")
    received = list(_take(fast, 5))
    assert received == [RETRY_FRAME, b"a", b"b", b"c", b"d"]
    # The dropped stream's writer ends instead of waiting for more.
    assert list(slow.frames(wait_s=0.01)) == [RETRY_FRAME]


def _take(stream: Stream, count: int) -> list[bytes]:
    frames = stream.frames(wait_s=0.01)
    return [next(frames) for _ in range(count)]


def test_a_worker_refuses_streams_beyond_its_limit_and_closing_ends_them_all() -> None:
    fanout = Fanout(max_streams=2)
    streams = [Stream(size=4) for _ in range(3)]
    assert [fanout.add(s) for s in streams] == [True, True, False]
    fanout.close_all()
    assert len(fanout) == 0 and all(s.dropped for s in streams[:2])


def test_closing_a_stream_wakes_its_waiting_writer() -> None:
    stream = Stream(size=4)
    done = threading.Event()

    def write() -> None:
        for _ in stream.frames(wait_s=30):
            pass
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    stream.close()
    assert done.wait(5), "the writer kept waiting after close"
    writer.join()


def test_a_stream_closed_by_its_browser_is_forgotten_not_counted_as_slow() -> None:
    fanout = Fanout(max_streams=4)
    gone = Stream(size=4)
    fanout.add(gone)
    gone.close()
    assert fanout.publish(b"x") == 0 and len(fanout) == 0 and fanout.dropped == 0


@pytest.mark.parametrize("attempt", [0, 1, 3, 10, 100])
def test_backoff_doubles_to_a_cap_with_jitter(attempt: int) -> None:
    low = backoff_s(attempt, base_s=0.5, cap_s=15.0, rand=lambda: 0.0)
    high = backoff_s(attempt, base_s=0.5, cap_s=15.0, rand=lambda: 1.0)
    ceiling = min(15.0, 0.5 * 2 ** attempt)
    assert low == pytest.approx(ceiling / 2) and high == pytest.approx(ceiling)
