"""The situation page's poll: redraw only on change, survive outages, and a sound layout."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dash import no_update

from config.settings import Settings
from dashboard.situation import (
    OUTPUTS,
    Frame,
    PollState,
    frame_outputs,
    layout,
    must_redraw,
    poll,
)
from incidents.live import LiveUnavailable
from incidents.model import Incident, IncidentStatus, Level, UnitState

NOW = datetime(2025, 6, 1, 8, 0, 0, tzinfo=UTC)
ONLINE_S = 300
ASSETS = Path(__file__).resolve().parents[3] / "dashboard" / "assets"


class FakeReader:
    """A LiveReader over lists, counting the snapshots it served."""

    def __init__(self, version: int, units: list[UnitState], incidents: list[Incident]) -> None:
        self.current = version
        self.units = units
        self.incidents = incidents
        self.snapshots = 0
        self.down = False

    def version(self) -> int:
        if self.down:
            raise LiveUnavailable("Redis is unavailable: connection refused")
        return self.current

    def snapshot(self) -> tuple[list[UnitState], list[Incident]]:
        self.snapshots += 1
        return list(self.units), list(self.incidents)


def unit(name: str, age_s: float) -> UnitState:
    return UnitState(unit=name, agency="fire", lat=37.0, lon=114.5,
                     ts=NOW - timedelta(seconds=age_s))


def incident(ident: str, level: Level) -> Incident:
    return Incident(id=ident, type="flood", level=level, status=IncidentStatus.VERIFIED,
                    title="河道漫堤", lat=37.2, lon=114.9, reported_at=NOW, updated_at=NOW,
                    agency="water")


@pytest.fixture
def reader() -> FakeReader:
    return FakeReader(7, [unit("F-1", 20), unit("F-2", 250), unit("F-3", 4000)],
                      [incident("i-1", Level.II), incident("i-2", Level.IV)])


def test_first_poll_draws_everything(reader: FakeReader) -> None:
    frame = poll(None, reader, NOW, ONLINE_S)
    assert frame.state == PollState(version=7, redraw_at=(NOW + timedelta(seconds=50)).timestamp(),
                                    ok=True)
    assert frame.units is not None and frame.incidents is not None
    assert [f["id"] for f in frame.units["features"]] == ["F-1", "F-2", "F-3"]
    assert [f["id"] for f in frame.incidents["features"]] == ["i-2", "i-1"]
    assert frame.kpis is not None
    assert (frame.kpis.units_online, frame.kpis.units_total) == (2, 3)
    assert frame.live_ok is True
    assert reader.snapshots == 1


def test_unchanged_version_reads_nothing_more_and_updates_nothing(reader: FakeReader) -> None:
    first = poll(None, reader, NOW, ONLINE_S)
    assert first.state is not None
    again = poll(first.state.to_data(), reader, NOW + timedelta(seconds=1), ONLINE_S)
    assert again == Frame(state=None)
    assert reader.snapshots == 1
    assert all(value is no_update for value in frame_outputs(again))


def test_new_version_redraws_without_touching_the_live_badge(reader: FakeReader) -> None:
    first = poll(None, reader, NOW, ONLINE_S)
    assert first.state is not None
    reader.current = 8
    reader.units.append(unit("F-4", 0))
    frame = poll(first.state.to_data(), reader, NOW, ONLINE_S)
    assert frame.state is not None and frame.state.version == 8
    assert frame.units is not None and len(frame.units["features"]) == 4
    assert frame.live_ok is None
    assert reader.snapshots == 2


def test_a_lower_version_redraws_too(reader: FakeReader) -> None:
    """Redis restarted and was rebuilt: its counter starts again from 1."""
    assert must_redraw(PollState(version=7, redraw_at=None, ok=True), 1, NOW)


def test_redraws_when_a_unit_is_due_to_turn_offline(reader: FakeReader) -> None:
    first = poll(None, reader, NOW, ONLINE_S)
    assert first.state is not None
    later = NOW + timedelta(seconds=51)  # F-2 (250 s old) passes 300 s
    frame = poll(first.state.to_data(), reader, later, ONLINE_S)
    assert frame.kpis is not None and frame.kpis.units_online == 1
    assert frame.state is not None
    assert frame.state.redraw_at == (NOW + timedelta(seconds=280)).timestamp()


def test_outage_shows_once_then_recovery_redraws(reader: FakeReader) -> None:
    first = poll(None, reader, NOW, ONLINE_S)
    assert first.state is not None
    reader.down = True
    down = poll(first.state.to_data(), reader, NOW, ONLINE_S)
    assert down.state == PollState(version=7, redraw_at=first.state.redraw_at, ok=False)
    assert down.live_ok is False and down.units is None
    outputs = frame_outputs(down)
    assert outputs[-3:] == ("● 数据中断 OFFLINE", "shell-live live-down",
                            "Redis is unavailable: connection refused")
    assert down.state is not None
    assert poll(down.state.to_data(), reader, NOW, ONLINE_S) == Frame(state=None)
    reader.down = False
    back = poll(down.state.to_data(), reader, NOW, ONLINE_S)
    assert back.live_ok is True and back.units is not None
    assert frame_outputs(back)[-3:] == ("● 实时 LIVE", "shell-live live-ok", "")


def test_outage_before_the_first_read(reader: FakeReader) -> None:
    reader.down = True
    frame = poll(None, reader, NOW, ONLINE_S)
    assert frame.state == PollState(version=None, redraw_at=None, ok=False)
    assert frame.live_ok is False


def test_frame_outputs_match_the_declared_outputs(reader: FakeReader) -> None:
    outputs = frame_outputs(poll(None, reader, NOW, ONLINE_S))
    assert len(outputs) == len(OUTPUTS)
    by_id = {f"{o.component_id}.{o.component_property}": v for o, v in zip(OUTPUTS, outputs,
                                                                          strict=True)}
    assert by_id["kpi-units.children"] == "2 / 3"
    assert by_id["kpi-incidents.children"] == "2"
    assert [by_id[f"kpi-level-{n}.children"] for n in ("i", "ii", "iii", "iv")] == [
        "0", "1", "0", "1"]
    assert by_id["map-state.data"]["version"] == 7
    assert by_id["map-units.data"]["type"] == "FeatureCollection"


def _walk(component: Any) -> Iterator[Any]:
    yield component
    children = getattr(component, "children", None)
    if children is None or isinstance(children, str | int | float):
        return
    for child in children if isinstance(children, list | tuple) else [children]:
        yield from _walk(child)


def test_layout_has_the_prefixed_ids_no_tiles_and_only_shipped_functions() -> None:
    page = layout(Settings(redis_url="redis://127.0.0.1:6379/0", live_poll_ms=500))
    components = list(_walk(page))
    ids = {c.id for c in components if getattr(c, "id", None)}
    for expected in ("map-view", "map-units", "map-incidents", "map-districts", "map-poll",
                     "map-state", "kpi-units", "kpi-level-i", "kpi-level-iv", "kpi-incidents",
                     "shell-clock"):
        assert expected in ids
    names = [type(c).__name__ for c in components]
    assert "TileLayer" not in names and "WMSTileLayer" not in names
    poll_timer = next(c for c in components if getattr(c, "id", None) == "map-poll")
    assert poll_timer.interval == 500
    script = (ASSETS / "sitroom_map.js").read_text("utf-8")
    defined = set(re.findall(r"^\s+(\w+): \w+,$", script, flags=re.MULTILINE))
    used = {value["variable"] for c in components for value in vars(c).values()
            if isinstance(value, dict) and "variable" in value}
    assert used and {name.removeprefix("sitroom.map.") for name in used} <= defined
    assert all(name.startswith("sitroom.map.") for name in used)


def test_assets_reference_no_remote_url() -> None:
    for asset in ASSETS.iterdir():
        text = asset.read_text("utf-8")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), asset.name
