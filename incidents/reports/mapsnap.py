"""The report's map snapshot: districts, incident, units and facilities, laid out once, drawn
as inline SVG here and as PDF vector graphics by `pdf.py`.

`layout_map` projects everything into a width × height box (any unit: pixels for SVG,
millimetres for PDF) with an equirectangular projection scaled by cos(latitude) at the frame's
middle, which keeps circles round and distances true to a few per mille across a city.
Deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from incidents.geo import KM_PER_DEGREE as KM_PER_DEGREE  # tests read it from here
from incidents.model import Level
from incidents.reports.model import (
    Lang,
    LocalText,
    MapDistrict,
    MapInput,
    MapZone,
    PointKind,
    ZoneKind,
)
from incidents.reports.texts import agency_name, label, level_name

MIN_SPAN_DEG = 0.005
"""Smallest frame, in degrees: a bbox around one point still frames a few hundred metres."""

AGENCY_COLOURS: dict[str, str] = {
    "police": "#1d4ed8", "fire": "#c2410c", "weather": "#0891b2", "water": "#0f766e",
    "safety": "#a16207", "civil_defence": "#7e22ce", "health": "#15803d", "command": "#334155",
}
"""Marker colour of each built-in agency; others get one from `_SPARE_COLOURS`."""
_SPARE_COLOURS = ("#be185d", "#4d7c0f", "#9333ea", "#0369a1", "#b45309", "#475569")
FACILITY_COLOUR = "#4b5563"
"""Marker colour of facilities."""
ZONE_COLOURS: dict[ZoneKind, tuple[str, str]] = {
    ZoneKind.CORDON: ("#fca5a5", "#b91c1c"), ZoneKind.DOWNWIND: ("#fde68a", "#b45309")}
"""Fill and outline colour of each kind of area."""
ZONE_OPACITY = 0.35
"""Fill opacity of areas: the districts and markers under and over them stay readable."""
RADIUS_COLOUR = "#b91c1c"
"""Outline colour of the assessment radius."""

Pt = tuple[float, float]
"""A projected point (x right, y down)."""


def agency_colour(code: str) -> str:
    """Colour of an agency's units: fixed for the built-in agencies, stable for others."""
    if code in AGENCY_COLOURS:
        return AGENCY_COLOURS[code]
    return _SPARE_COLOURS[zlib.crc32(code.encode("utf-8")) % len(_SPARE_COLOURS)]


@dataclass(frozen=True, slots=True)
class Projection:
    """Equirectangular projection of a lat/lon frame into a width × height box."""

    west: float
    """Longitude at x = left edge of the frame."""
    north: float
    """Latitude at y = top edge of the frame."""
    kx: float
    """cos(latitude at the frame's middle): shrinks degrees of longitude to true length."""
    scale: float
    """Box units per degree of latitude."""
    left: float
    """x of the frame's west edge."""
    top: float
    """y of the frame's north edge."""

    def point(self, lat: float, lon: float) -> Pt:
        """Box coordinates of a WGS-84 point."""
        return (self.left + (lon - self.west) * self.kx * self.scale,
                self.top + (self.north - lat) * self.scale)

    @property
    def units_per_km(self) -> float:
        """Box units per kilometre, in both directions."""
        return self.scale / KM_PER_DEGREE


def fit(south: float, west: float, north: float, east: float, width: float, height: float,
        margin: float) -> Projection:
    """The projection that centres the frame in the box, keeping its aspect, inside `margin`."""
    mid_lat = (south + north) / 2.0
    if north - south < MIN_SPAN_DEG:
        south, north = mid_lat - MIN_SPAN_DEG / 2, mid_lat + MIN_SPAN_DEG / 2
    if east - west < MIN_SPAN_DEG:
        mid_lon = (west + east) / 2.0
        west, east = mid_lon - MIN_SPAN_DEG / 2, mid_lon + MIN_SPAN_DEG / 2
    kx = math.cos(math.radians(mid_lat))
    span_x, span_y = (east - west) * kx, north - south
    scale = min((width - 2 * margin) / span_x, (height - 2 * margin) / span_y)
    return Projection(west=west, north=north, kx=kx, scale=scale,
                      left=(width - span_x * scale) / 2.0, top=(height - span_y * scale) / 2.0)


@dataclass(frozen=True, slots=True)
class DistrictShape:
    """A projected district outline and where its name goes."""

    name: str
    """The name to write."""
    rings: tuple[tuple[Pt, ...], ...]
    """Every ring (outer and holes) of every polygon."""
    label_at: Pt | None
    """Where the name goes; None when it falls outside the frame."""


@dataclass(frozen=True, slots=True)
class Marker:
    """A projected point marker."""

    kind: PointKind
    """What it stands for: decides the shape (circle, dot, triangle)."""
    x: float
    """Centre x."""
    y: float
    """Centre y."""
    size: float
    """Radius of the marker."""
    fill: str
    """Fill colour."""
    label: str
    """Text written to its right; empty for none."""


@dataclass(frozen=True, slots=True)
class ZoneShape:
    """A projected area (cordon, downwind zone)."""

    kind: ZoneKind
    """What it is: decides the colours."""
    rings: tuple[tuple[Pt, ...], ...]
    """Every ring of every polygon."""


@dataclass(frozen=True, slots=True)
class LinkShape:
    """A projected order line, unit → incident."""

    start: Pt
    """The unit's end."""
    end: Pt
    """The incident's end."""
    colour: str
    """The unit's agency colour."""


@dataclass(frozen=True, slots=True)
class LegendEntry:
    """One line of the legend."""

    kind: PointKind | ZoneKind | None
    """Swatch of the line: a marker shape, an area, or None for a dashed line."""
    colour: str
    """Marker colour."""
    text: str
    """What it means."""


@dataclass(frozen=True, slots=True)
class MapLayout:
    """Everything to draw, in box coordinates; `pdf.py` and `to_svg` draw the same thing."""

    width: float
    """Box width."""
    height: float
    """Box height."""
    font: float
    """Base text size."""
    districts: tuple[DistrictShape, ...]
    """District outlines."""
    radii: tuple[tuple[Pt, float], ...]
    """Decision-support circles: centre and radius."""
    zones: tuple[ZoneShape, ...]
    """Areas, drawn over the districts and under the rest."""
    links: tuple[LinkShape, ...]
    """Order lines, drawn under the markers."""
    markers: tuple[Marker, ...]
    """Point markers, in drawing order."""
    scale_bar: tuple[Pt, float, str]
    """Left end, length and caption of the scale bar."""
    north: Pt
    """Tip of the north arrow."""
    north_text: str
    """Letter under the north arrow."""
    legend: tuple[LegendEntry, ...]
    """Legend lines."""


def _rings(geometry: Mapping[str, Any]) -> list[Sequence[Sequence[float]]]:
    """Every ring of a GeoJSON Polygon or MultiPolygon; nothing for other types."""
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


def _project_ring(ring: Iterable[Sequence[float]], proj: Projection, tolerance: float,
                  ) -> tuple[Pt, ...]:
    """Project a [lon, lat] ring, dropping vertices closer than `tolerance` to the last kept
    one: detail below a fraction of a pixel only adds bytes."""
    out: list[Pt] = []
    for position in ring:
        x, y = proj.point(float(position[1]), float(position[0]))
        if out and abs(x - out[-1][0]) < tolerance and abs(y - out[-1][1]) < tolerance:
            continue
        out.append((x, y))
    return tuple(out)


def _centroid(ring: Sequence[Pt]) -> tuple[Pt, float]:
    """Area centroid and absolute area of a ring (shoelace formula)."""
    area2 = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
        cross = x0 * y1 - x1 * y0
        area2 += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(area2) < 1e-12:
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        return ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2), 0.0
    return (cx / (3 * area2), cy / (3 * area2)), abs(area2) / 2


def _nice_distance(km: float) -> float:
    """The largest 1, 2 or 5 × 10^n km not above `km`."""
    power = 10.0 ** math.floor(math.log10(km))
    return max(step * power for step in (1.0, 2.0, 5.0) if step * power <= km)


def _distance_text(km: float, lang: Lang) -> str:
    if km >= 1:
        return f"{km:g} {label('km', lang)}"
    return f"{km * 1000:g} {'米' if lang is Lang.ZH else 'm'}"


def _district_shape(district: MapDistrict, proj: Projection, width: float, height: float,
                    lang: Lang) -> DistrictShape:
    rings = tuple(r for r in (_project_ring(ring, proj, width / 2000.0)
                              for ring in _rings(district.geometry)) if len(r) >= 3)
    if district.label_at is not None:
        at: Pt | None = proj.point(*district.label_at)
    else:  # the centroid of the largest ring: where a reader looks for the name
        at = max((_centroid(r) for r in rings), key=lambda c: c[1])[0] if rings else None
    if at is not None and not (0 <= at[0] <= width and 0 <= at[1] <= height):
        at = None
    return DistrictShape(name=district.name.pick(lang), rings=rings, label_at=at)


def layout_map(map_input: MapInput, width: float, height: float, *, lang: Lang = Lang.ZH,
               agency_names: Mapping[str, LocalText] | None = None) -> MapLayout:
    """Project the map into a width × height box and place its furniture (pure)."""
    names = agency_names or {}
    font = width / 60.0
    box = map_input.bbox
    proj = fit(box.south, box.west, box.north, box.east, width, height, margin=font)
    districts = [_district_shape(d, proj, width, height, lang) for d in map_input.districts]
    zones = [_zone_shape(z, proj, width) for z in map_input.zones]
    links = [LinkShape(start=proj.point(k.from_lat, k.from_lon), end=proj.point(k.to_lat, k.to_lon),
                       colour=agency_colour(k.agency or "unknown")) for k in map_input.links]
    markers: list[Marker] = []
    radii: list[tuple[Pt, float]] = []
    legend: dict[tuple[PointKind, str], LegendEntry] = {}
    for point in map_input.points:
        x, y = proj.point(point.lat, point.lon)
        if point.kind is PointKind.INCIDENT:
            level = point.level or Level.IV
            colour, size = level.colour, font * 0.7
            text = f"{label('legend_incident', lang)} · {level_name(level, lang)}"
            if map_input.radius_m is not None:
                radii.append(((x, y), map_input.radius_m / 1000.0 * proj.units_per_km))
        elif point.kind is PointKind.UNIT:
            code = point.agency or "unknown"
            colour, size = agency_colour(code), font * 0.35
            text = agency_name(code, lang, names)
        else:
            colour, size, text = FACILITY_COLOUR, font * 0.4, label("legend_facility", lang)
        markers.append(Marker(kind=point.kind, x=x, y=y, size=size, fill=colour,
                              label=point.label))
        legend.setdefault((point.kind, colour), LegendEntry(kind=point.kind, colour=colour,
                                                            text=text))
    bar_km = _nice_distance(width / 5.0 / proj.units_per_km)
    extra = [LegendEntry(kind=z, colour=ZONE_COLOURS[z][0], text=label(f"legend_{z.value}", lang))
             for z in ZoneKind if any(s.kind is z for s in zones)]
    if radii:
        assert map_input.radius_m is not None
        extra.append(LegendEntry(kind=None, colour=RADIUS_COLOUR, text=(
            f"{label('legend_radius', lang)} {_distance_text(map_input.radius_m / 1000, lang)}")))
    if links:
        extra.append(LegendEntry(kind=None, colour="#374151", text=label("legend_order", lang)))
    ordered = sorted(legend.values(), key=lambda e: (list(PointKind).index(e.kind), e.text)
                     if isinstance(e.kind, PointKind) else (0, e.text))
    return MapLayout(
        width=width, height=height, font=font, districts=tuple(districts), radii=tuple(radii),
        zones=tuple(zones), links=tuple(links), markers=tuple(markers),
        scale_bar=((font, height - font * 1.2), bar_km * proj.units_per_km,
                   _distance_text(bar_km, lang)),
        north=(width - font * 1.5, font * 0.8), north_text=label("north", lang),
        legend=(*ordered, *extra),
    )


def _zone_shape(zone: MapZone, proj: Projection, width: float) -> ZoneShape:
    rings = tuple(r for r in (_project_ring(ring, proj, width / 2000.0)
                              for ring in _rings(zone.geometry)) if len(r) >= 3)
    return ZoneShape(kind=zone.kind, rings=rings)


def _num(value: float) -> str:
    """A coordinate with one decimal, no trailing zero: deterministic and short."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _path(rings: Iterable[Sequence[Pt]]) -> str:
    return " ".join("M" + " L".join(f"{_num(x)} {_num(y)}" for x, y in ring) + " Z"
                    for ring in rings)


def triangle(x: float, y: float, size: float) -> tuple[Pt, Pt, Pt]:
    """The facility marker: a triangle around (x, y)."""
    return ((x, y - size), (x + size, y + size * 0.8), (x - size, y + size * 0.8))


def text_width(text: str, size: float) -> float:
    """Rough width of a text: CJK and full-width characters are square, others about half."""
    return size * sum(1.0 if ord(ch) >= 0x2E80 else 0.56 for ch in text)


def _marker_svg(kind: PointKind, x: float, y: float, size: float, fill: str,
                css_class: str = "") -> str:
    attrs = f' class="{css_class}"' if css_class else ""
    if kind is PointKind.FACILITY:
        return (f'<path{attrs} d="{_path([triangle(x, y, size)])}" fill="{fill}" '
                f'stroke="#ffffff" stroke-width="{_num(size / 4)}"/>')
    stroke = "#111111" if kind is PointKind.INCIDENT else "#ffffff"
    return (f'<circle{attrs} cx="{_num(x)}" cy="{_num(y)}" r="{_num(size)}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{_num(size / 3)}"/>')


def to_svg(layout: MapLayout, *, standalone: bool = False) -> str:
    """The layout as an SVG element; `standalone` adds the XML namespace a .svg file needs
    (left out inline, so that the report holds no URL at all)."""
    f = layout.font
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    out = [f'<svg{ns} class="map" viewBox="0 0 {_num(layout.width)} {_num(layout.height)}" '
           f'width="{_num(layout.width)}" height="{_num(layout.height)}" role="img" '
           f'font-family="sans-serif" font-size="{_num(f)}">',
           f'<rect width="{_num(layout.width)}" height="{_num(layout.height)}" fill="#f8fafc"/>']
    for d in layout.districts:
        out.append(f'<path class="district" d="{_path(d.rings)}" fill="#eef2e6" '
                   f'fill-rule="evenodd" stroke="#64748b" stroke-width="{_num(f / 12)}"/>')
    for d in layout.districts:
        if d.label_at is not None:
            out.append(f'<text x="{_num(d.label_at[0])}" y="{_num(d.label_at[1])}" '
                       f'text-anchor="middle" fill="#475569">{escape(d.name)}</text>')
    for z in layout.zones:
        fill, stroke = ZONE_COLOURS[z.kind]
        out.append(f'<path class="zone {z.kind.value}" d="{_path(z.rings)}" fill="{fill}" '
                   f'fill-opacity="{ZONE_OPACITY}" fill-rule="evenodd" stroke="{stroke}" '
                   f'stroke-width="{_num(f / 10)}"/>')
    for k in layout.links:
        out.append(f'<path class="order" d="M{_num(k.start[0])} {_num(k.start[1])} '
                   f'L{_num(k.end[0])} {_num(k.end[1])}" stroke="{k.colour}" '
                   f'stroke-width="{_num(f / 8)}" stroke-dasharray="{_num(f / 3)} {_num(f / 5)}"/>')
    for (cx, cy), r in layout.radii:
        out.append(f'<circle class="radius" cx="{_num(cx)}" cy="{_num(cy)}" r="{_num(r)}" '
                   f'fill="none" stroke="#b91c1c" stroke-width="{_num(f / 10)}" '
                   f'stroke-dasharray="{_num(f / 2)} {_num(f / 3)}"/>')
    for m in layout.markers:
        out.append(_marker_svg(m.kind, m.x, m.y, m.size, m.fill, m.kind.value))
        if m.label:
            out.append(f'<text x="{_num(m.x + m.size * 1.4)}" y="{_num(m.y + f * 0.35)}" '
                       f'font-size="{_num(f * 0.8)}" fill="#111827">{escape(m.label)}</text>')
    (bx, by), length, caption = layout.scale_bar
    out.append(f'<path class="scale" d="M{_num(bx)} {_num(by - f / 3)} V{_num(by)} '
               f'H{_num(bx + length)} V{_num(by - f / 3)}" fill="none" stroke="#111827" '
               f'stroke-width="{_num(f / 8)}"/>')
    out.append(f'<text x="{_num(bx + length / 2)}" y="{_num(by - f / 2)}" '
               f'text-anchor="middle">{escape(caption)}</text>')
    nx, ny = layout.north
    arrow = ((nx, ny), (nx + f / 2, ny + f * 1.4), (nx, ny + f), (nx - f / 2, ny + f * 1.4))
    out.append(f'<path class="north" d="{_path([arrow])}" fill="#111827"/>')
    out.append(f'<text x="{_num(nx)}" y="{_num(ny + f * 2.5)}" text-anchor="middle" '
               f'font-weight="bold">{escape(layout.north_text)}</text>')
    out.extend(_legend_svg(layout))
    out.append("</svg>")
    return "\n".join(out)


def legend_box(layout: MapLayout) -> tuple[float, float, float, float]:
    """Left, top, width and height of the legend box (bottom right of the map)."""
    f = layout.font
    longest = max((text_width(e.text, f * 0.85) for e in layout.legend), default=0.0)
    w = f * 2.3 + longest
    h = f * (0.6 + 1.3 * len(layout.legend))
    return layout.width - w - f * 0.5, layout.height - h - f * 0.5, w, h


def _legend_svg(layout: MapLayout) -> list[str]:
    if not layout.legend:
        return []
    f = layout.font
    x, y, w, h = legend_box(layout)
    out = [f'<rect class="legend" x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" '
           f'height="{_num(h)}" fill="#ffffff" fill-opacity="0.9" stroke="#94a3b8"/>']
    for n, entry in enumerate(layout.legend):
        cy = y + f * (1.0 + 1.3 * n)
        if isinstance(entry.kind, PointKind):
            out.append(_marker_svg(entry.kind, x + f, cy, f * 0.4, entry.colour))
        elif isinstance(entry.kind, ZoneKind):
            out.append(f'<rect x="{_num(x + f * 0.5)}" y="{_num(cy - f * 0.35)}" '
                       f'width="{_num(f)}" height="{_num(f * 0.7)}" fill="{entry.colour}" '
                       f'stroke="{ZONE_COLOURS[entry.kind][1]}"/>')
        else:
            out.append(f'<path d="M{_num(x + f * 0.4)} {_num(cy)} H{_num(x + f * 1.6)}" '
                       f'stroke="{entry.colour}" stroke-width="{_num(f / 8)}" '
                       f'stroke-dasharray="{_num(f / 3)} {_num(f / 5)}"/>')
        out.append(f'<text x="{_num(x + f * 1.8)}" y="{_num(cy + f * 0.35)}" '
                   f'font-size="{_num(f * 0.85)}">{escape(entry.text)}</text>')
    return out


def render_svg(map_input: MapInput, width: float, height: float, *, lang: Lang = Lang.ZH,
               agency_names: Mapping[str, LocalText] | None = None,
               standalone: bool = False) -> str:
    """The map snapshot as SVG: district outlines and names, markers, scale bar, north arrow."""
    layout = layout_map(map_input, width, height, lang=lang, agency_names=agency_names)
    return to_svg(layout, standalone=standalone)
