"""CAP 1.2 export: a stored alert back to valid, schema-ordered CAP 1.2 XML (pure)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from incidents.cap import (
    CAP_NAMESPACE,
    CapAlert,
    CapArea,
    CapInfo,
    NamedValue,
    Point,
)


def _show(text: str) -> str:
    """A value quoted for an error detail, shortened: hostile values can be huge."""
    return repr(text if len(text) <= 60 else text[:57] + "...")

# --- export -------------------------------------------------------------------------------------

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACE = re.compile(r"\s")


class _Writer:
    """Indented XML lines; CAP has no attributes but the namespace, so this is all it needs."""

    def __init__(self) -> None:
        self._lines = ['<?xml version="1.0" encoding="UTF-8"?>']
        self._depth = 0

    def open(self, tag: str, attributes: str = "") -> None:
        self._lines.append(f"{'  ' * self._depth}<{tag}{attributes}>")
        self._depth += 1

    def close(self, tag: str) -> None:
        self._depth -= 1
        self._lines.append(f"{'  ' * self._depth}</{tag}>")

    def leaf(self, tag: str, value: str | None) -> None:
        if value is None:
            return
        if _NOT_XML_CHAR.search(value):
            raise ValueError(f"<{tag}> holds a character XML 1.0 cannot carry: {_show(value)}")
        self._lines.append(f"{'  ' * self._depth}<{tag}>{value.translate(_ESCAPES)}</{tag}>")

    def to_bytes(self) -> bytes:
        return ("\n".join(self._lines) + "\n").encode("utf-8")


def export_cap(alert: CapAlert) -> bytes:
    """The alert as a CAP 1.2 XML document, in schema order; ValueError for naive times."""
    out = _Writer()
    out.open("alert", f' xmlns="{CAP_NAMESPACE}"')
    out.leaf("identifier", alert.identifier)
    out.leaf("sender", alert.sender)
    out.leaf("sent", _format_time(alert.sent))
    out.leaf("status", alert.status)
    out.leaf("msgType", alert.msg_type)
    out.leaf("source", alert.source)
    out.leaf("scope", alert.scope)
    out.leaf("restriction", alert.restriction)
    out.leaf("addresses", _format_names(alert.addresses))
    for code in alert.codes:
        out.leaf("code", code)
    out.leaf("note", alert.note)
    out.leaf("references", " ".join(f"{ref.sender},{ref.identifier},{_format_time(ref.sent)}"
                                    for ref in alert.references) or None)
    out.leaf("incidents", _format_names(alert.incidents))
    for info in alert.infos:
        _write_info(out, info)
    out.close("alert")
    return out.to_bytes()


def _write_info(out: _Writer, info: CapInfo) -> None:
    out.open("info")
    out.leaf("language", info.language)
    for category in info.categories:
        out.leaf("category", category)
    out.leaf("event", info.event)
    for response_type in info.response_types:
        out.leaf("responseType", response_type)
    out.leaf("urgency", info.urgency)
    out.leaf("severity", info.severity)
    out.leaf("certainty", info.certainty)
    out.leaf("audience", info.audience)
    _write_pairs(out, "eventCode", info.event_codes)
    for name, time in (("effective", info.effective), ("onset", info.onset),
                       ("expires", info.expires)):
        out.leaf(name, None if time is None else _format_time(time))
    out.leaf("senderName", info.sender_name)
    out.leaf("headline", info.headline)
    out.leaf("description", info.description)
    out.leaf("instruction", info.instruction)
    out.leaf("web", info.web)
    out.leaf("contact", info.contact)
    _write_pairs(out, "parameter", info.parameters)
    for resource in info.resources:
        out.open("resource")
        out.leaf("resourceDesc", resource.resource_desc)
        out.leaf("mimeType", resource.mime_type)
        out.leaf("size", None if resource.size is None else str(resource.size))
        out.leaf("uri", resource.uri)
        out.leaf("derefUri", resource.deref_uri)
        out.leaf("digest", resource.digest)
        out.close("resource")
    for area in info.areas:
        _write_area(out, area)
    out.close("info")


def _write_area(out: _Writer, area: CapArea) -> None:
    out.open("area")
    out.leaf("areaDesc", area.area_desc)
    for ring in area.polygons:
        out.leaf("polygon", " ".join(_format_point(point) for point in ring))
    for circle in area.circles:
        out.leaf("circle", f"{_format_point((circle.lat, circle.lon))} "
                           f"{_format_decimal(circle.radius_km)}")
    _write_pairs(out, "geocode", area.geocodes)
    out.leaf("altitude", None if area.altitude is None else _format_decimal(area.altitude))
    out.leaf("ceiling", None if area.ceiling is None else _format_decimal(area.ceiling))
    out.close("area")


def _write_pairs(out: _Writer, tag: str, pairs: tuple[NamedValue, ...]) -> None:
    for name, value in pairs:
        out.open(tag)
        out.leaf("valueName", name)
        out.leaf("value", value)
        out.close(tag)


def _format_time(value: datetime) -> str:
    """YYYY-MM-DDThh:mm:ss±hh:mm, whole seconds; UTC as -00:00 (CAP 1.2 forbids "Z")."""
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"CAP times must be timezone-aware, got {value.isoformat()}")
    if offset % timedelta(minutes=1):
        value, offset = value.astimezone(UTC), timedelta(0)  # CAP offsets are whole minutes
    minutes = offset // timedelta(minutes=1)
    sign = "+" if minutes > 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
            f"{value.minute:02d}:{value.second:02d}{sign}{hours:02d}:{minutes:02d}")


def _format_decimal(value: float) -> str:
    """The shortest decimal that reads back as `value`, never in exponent form."""
    if not math.isfinite(value):
        raise ValueError(f"CAP numbers must be finite, got {value!r}")
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text else text


def _format_point(point: Point) -> str:
    return f"{_format_decimal(point[0])},{_format_decimal(point[1])}"


def _format_names(names: tuple[str, ...]) -> str | None:
    for name in names:
        if not name or '"' in name:
            raise ValueError(f"an address or incident name cannot be empty or hold '\"': "
                             f"{_show(name)}")
    return " ".join(f'"{name}"' if _SPACE.search(name) else name for name in names) or None
