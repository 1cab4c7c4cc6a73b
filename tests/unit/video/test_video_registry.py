"""Stream states, distances and the in-memory registry (Redis is covered by integration)."""

from __future__ import annotations

import pytest

from video.registry import (
    InvalidTransition,
    PositionSource,
    StreamEvent,
    StreamKind,
    StreamRegistry,
    StreamState,
    nearest,
    transition,
)

LIVE, INTERRUPTED, ENDED = StreamState.LIVE, StreamState.INTERRUPTED, StreamState.ENDED
STARTED, LOST, STOPPED = StreamEvent.STARTED, StreamEvent.LOST, StreamEvent.STOPPED


@pytest.mark.parametrize(("state", "event", "after"), [
    (None, STARTED, LIVE),
    (LIVE, LOST, INTERRUPTED), (INTERRUPTED, STARTED, LIVE), (INTERRUPTED, LOST, INTERRUPTED),
    (LIVE, STOPPED, ENDED), (INTERRUPTED, STOPPED, ENDED), (ENDED, STARTED, LIVE),
    (ENDED, LOST, ENDED), (LIVE, STARTED, LIVE),
])
def test_transitions(state: StreamState | None, event: StreamEvent, after: StreamState) -> None:
    assert transition(state, event) is after


@pytest.mark.parametrize("event", [LOST, STOPPED])
def test_a_stream_that_never_started_cannot_be_lost_or_stopped(event: StreamEvent) -> None:
    with pytest.raises(InvalidTransition):
        transition(None, event)


async def test_the_registry_records_a_drop_and_a_return() -> None:
    times = iter(range(100, 200))
    registry = StreamRegistry(None, "t:", clock=lambda: float(next(times)))
    first = await registry.apply("car-7", STARTED, owner="car-7", kind=StreamKind.FIELD,
                                 title="", lat=37.0, lon=114.5,
                                 position_source=PositionSource.PUBLISH)
    assert (first.state, first.title, first.started_at) == (LIVE, "car-7", 100.0)
    assert (await registry.apply("car-7", LOST)).state is INTERRUPTED
    back = await registry.apply("car-7", STARTED, owner="car-7", kind=StreamKind.FIELD,
                                title="7号车")
    # A return without a position keeps the last one, and the first start time.
    assert (back.state, back.lat, back.lon, back.started_at) == (LIVE, 37.0, 114.5, 100.0)
    assert back.position_source is PositionSource.PUBLISH and back.title == "7号车"
    assert (await registry.apply("car-7", STOPPED)).state is ENDED
    await registry.remove("car-7")
    assert registry.all() == []


async def test_nearest_streams_first_within_the_radius() -> None:
    registry = StreamRegistry(None, "t:")
    for name, lat in (("far", 37.5), ("near", 37.001), ("nearer", 37.0005), ("mid", 37.01)):
        await registry.apply(name, STARTED, owner=name, lat=lat, lon=114.5)
    await registry.apply("nowhere", STARTED, owner="nowhere")
    found = nearest(registry.all(), 37.0, 114.5, radius_m=2_000, limit=2)
    assert [(i.id, round(m)) for i, m in found] == [("nearer", 56), ("near", 111)]
    assert [i.id for i, _ in nearest(registry.all(), 37.0, 114.5, 2_000, 10)] == [
        "nearer", "near", "mid"]
