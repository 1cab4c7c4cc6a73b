"""The map's layer switcher and draw tool as components: no tile layer at all unless one is
configured, local tiles in the file's own format, WMTS templates, escaped bilingual names."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dash_leaflet as dl
import pytest
from dash.development.base_component import Component
from pydantic import ValidationError

from config.settings import MapSettings, Settings, TileServer
from dashboard.i18n import Lang
from dashboard.map_layers import (
    INSIDE_ID,
    draw_control,
    filter_id,
    overlay_layers,
    with_map_features,
)
from tests.support.tiles import write_mbtiles

TIANDITU = ("http://t{s}.tianditu.example/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
            "&LAYER=vec&TILEMATRIXSET=w&TILEMATRIX={TileMatrix}&TILEROW={TileRow}"
            "&TILECOL={TileCol}")


def walk(components: Sequence[Component]) -> Iterator[Component]:
    for component in components:
        yield component
        yield from component._traverse()  # type: ignore[no-untyped-call]


def of_type(components: Sequence[Component], kind: type[Any]) -> list[Any]:
    return [c for c in walk(components) if isinstance(c, kind)]


def test_nothing_configured_means_no_tile_layer_at_all() -> None:
    found = overlay_layers(Settings())
    assert of_type(found, dl.TileLayer) == []
    assert of_type(found, dl.BaseLayer) == []
    (control,) = of_type(found, dl.LayersControl)
    names = [o.name for o in of_type(found, dl.Overlay)]
    assert names[0] == "力量 · 公安" and "事件 · I级 特别重大" in names
    assert {"医院", "重大危险源", "视频监控", "人口分布", "河流", "道路"} <= set(names)


def test_switches_cover_every_agency_and_level() -> None:
    ids = {g.id for g in of_type(overlay_layers(Settings(agencies=("police", "metro"))),
                                 dl.LayerGroup)}
    assert {filter_id("units", "police"), filter_id("units", "metro"),
            filter_id("incidents", "IV")} <= ids


def test_local_tiles_in_the_files_format_with_escaped_credits(tmp_path: Path) -> None:
    tile = b"RIFF\x10\x00\x00\x00WEBPVP8 "
    path = write_mbtiles(tmp_path / "t.mbtiles", {(9, 418, 196): tile, (11, 1675, 785): tile},
                         fmt="webp", attribution="<b>测绘院</b>")
    settings = Settings(map=MapSettings(tiles_file=path, max_zoom=15))
    (layer,) = of_type(overlay_layers(settings, "en"), dl.TileLayer)
    assert layer.url == "/tiles/{z}/{x}/{y}.webp"
    assert (layer.minNativeZoom, layer.maxNativeZoom, layer.maxZoom) == (9, 11, 15)
    assert layer.attribution == "&lt;b&gt;测绘院&lt;/b&gt;"
    bases = of_type(overlay_layers(settings, "en"), dl.BaseLayer)
    assert [(b.name, b.checked) for b in bases] == [("Local tiles", True),
                                                    ("Vector basemap", False)]


def test_a_missing_tiles_file_falls_back_to_the_vector_basemap(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(map=MapSettings(tiles_file=tmp_path / "gone.pmtiles"))
    assert of_type(overlay_layers(settings), dl.TileLayer) == []
    assert "local tiles left out" in caplog.text


def test_wmts_services_become_leaflet_templates_and_annotations_overlays() -> None:
    vec = TileServer(name="天地图矢量", name_en="Tianditu", url=TIANDITU, subdomains="01234567",
                     attribution="天地图 <GS(2024)>", max_zoom=18)
    labels = TileServer(name="注记", name_en="Labels", url="/mirror/cva/{z}/{x}/{y}.png",
                        attribution="天地图", overlay=True)
    assert vec.url.endswith("TILEMATRIX={z}&TILEROW={y}&TILECOL={x}")
    found = overlay_layers(Settings(map=MapSettings(tile_servers=(vec, labels))))
    bases = of_type(found, dl.BaseLayer)
    assert [b.name for b in bases] == ["天地图矢量", "矢量底图"]
    tiles = of_type(found, dl.TileLayer)
    assert [t.subdomains for t in tiles[:1]] == ["01234567"]
    assert tiles[0].attribution == "天地图 &lt;GS(2024)&gt;"
    overlay_names = [o.name for o in of_type(found, dl.Overlay)]
    assert "注记" in overlay_names


@pytest.mark.parametrize(("server", "message"), [
    ({"url": "http://tiles.example/{z}/{x}.png"}, "lacks {y}"),
    ({"url": "http://t{s}.example/{z}/{x}/{y}.png"}, "subdomains"),
    ({"url": "ftp://tiles.example/{z}/{x}/{y}.png"}, "must start with"),
    ({"url": "/t/{z}/{x}/{y}.png", "min_zoom": 9, "max_zoom": 3}, "min_zoom"),
])
def test_bad_tile_services_are_refused(server: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TileServer(name="x", name_en="x", attribution="x", **server)


def test_layer_names_are_escaped_for_the_switcher() -> None:
    evil = TileServer(name="<img src=x onerror=alert(1)>", name_en="x", attribution="x",
                      url="/t/{z}/{x}/{y}.png")
    bases = of_type(overlay_layers(Settings(map=MapSettings(tile_servers=(evil,)))),
                    dl.BaseLayer)
    assert bases[0].name == "&lt;img src=x onerror=alert(1)&gt;"


def test_the_draw_panel_carries_its_labels_in_the_pages_language() -> None:
    toolbar_group, component = draw_control(Lang.EN)
    panel: Any = component
    assert panel.id == INSIDE_ID and panel.hidden is True
    labels = json.loads(getattr(panel, "data-labels"))
    assert labels["inside_population"] == "Estimated population"
    assert labels["kind_hazardous_site"] == "Hazardous sites"
    (edit,) = of_type([toolbar_group], dl.EditControl)
    assert edit.draw["polyline"] is False and edit.draw["circle"]
    zh = json.loads(getattr(draw_control()[1], "data-labels"))
    assert zh["inside_population"] == "估算人口"
    # Units inside a drawn area are named with the taxonomy's agency names.
    assert (zh["agency_fire"], labels["agency_fire"]) == ("消防救援", "Fire and rescue")


def test_features_are_added_to_a_pages_map() -> None:
    leaflet = with_map_features(dl.Map(children=[dl.Pane(name="base")]), Settings())
    assert isinstance(leaflet.children, list)
    kinds = [type(c).__name__ for c in leaflet.children]
    assert kinds[0] == "Pane" and "LayersControl" in kinds and "FeatureGroup" in kinds
