"""The situation page: a sound layout that goes live by push (no poll), only shipped assets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from config.settings import Settings
from dashboard.situation import LIVE_IDS, layout
from incidents.model import Level

ASSETS = Path(__file__).resolve().parents[3] / "dashboard" / "assets"


def _walk(component: Any) -> Iterator[Any]:
    yield component
    children = getattr(component, "children", None)
    if children is None or isinstance(children, str | int | float):
        return
    for child in children if isinstance(children, list | tuple) else [children]:
        yield from _walk(child)


def test_layout_has_the_prefixed_ids_no_tiles_no_poll_and_only_shipped_functions() -> None:
    page = layout(Settings(redis_url="redis://127.0.0.1:6379/0", unit_online_s=120))
    components = list(_walk(page))
    ids = {c.id for c in components if getattr(c, "id", None)}
    for expected in ("map-view", "map-districts", "map-live-config", "kpi-units", "kpi-level-i",
                     "kpi-level-iv", "kpi-incidents", "shell-clock", "shell-live"):
        assert expected in ids
    names = [type(c).__name__ for c in components]
    assert "TileLayer" not in names and "WMSTileLayer" not in names
    # Push, not polling: the only timer is the clock's, and no Store carries map state.
    timers = [c for c in components if type(c).__name__ == "Interval"]
    assert [t.id for t in timers] == ["shell-tick"]
    assert "Store" not in names
    # Every JS function the layout names is defined in the asset of its namespace.
    scripts = {"map": "sitroom_map.js", "layers": "sitroom_layers.js"}
    defined = {
        (space, name) for space, file in scripts.items()
        for name in re.findall(r"^\s+(\w+): \w+,$", (ASSETS / file).read_text("utf-8"),
                               flags=re.MULTILINE)}
    used = {tuple(value["variable"].split(".")[1:]) for c in components
            for value in vars(c).values() if isinstance(value, dict) and "variable" in value}
    assert used
    assert used <= defined, used - defined


def test_the_live_configuration_names_elements_of_the_page() -> None:
    page = layout(Settings(redis_url="redis://127.0.0.1:6379/0", unit_online_s=120))
    components = list(_walk(page))
    ids = {c.id for c in components if getattr(c, "id", None)}
    element = next(c for c in components if getattr(c, "id", None) == "map-live-config")
    config = json.loads(getattr(element, "data-config"))
    assert config["stream"] == "/live/stream" and config["online_s"] == 120
    named = [config["ids"]["map"], config["ids"]["badge"], config["ids"]["units"],
             config["ids"]["total"], config["ids"]["feeds"], *config["ids"]["levels"].values()]
    assert set(named) <= ids
    assert set(config["ids"]["levels"]) == {level.value for level in Level}
    assert config["levels"]["II"]["colour"] == Level.II.colour
    assert LIVE_IDS.map == "map-view"


def test_assets_reference_no_remote_url() -> None:
    for asset in ASSETS.iterdir():
        text = asset.read_text("utf-8")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), asset.name
