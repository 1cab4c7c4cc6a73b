"""The packed values of CAP 1.2 documents, each read and written side by side (pure).

CAP packs several values into one element's text: times (YYYY-MM-DDThh:mm:ss±hh:mm), decimal
numbers, `lat,lon` points, polygons, circles, `sender,identifier,sent` references and
space-separated names with double quotes around those holding spaces. Each `read_*` here is
the inverse of its `write_*`, which is what lets `incidents.cap_xml` promise that
serialising then parsing gives the same alert. Readers raise `Invalid` naming the element
path; writers raise ValueError for values CAP cannot carry. Used by incidents.cap_xml only.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from incidents.cap import CapCircle, CapReference, Point, Ring


class Invalid(ValueError):
    """A CAP rule broken at `path`; parse_cap turns it into CapError(INVALID_CAP)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


_E = TypeVar("_E", bound=StrEnum)
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                   r"(?:\.[0-9]+)?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_NOT_IN_TOKEN = re.compile(r"[\s,<&]")
_NAME = re.compile(r'"([^"]*)"|([^\s"]+)|(")')
_SPACE = re.compile(r"\s")


def show(text: str) -> str:
    """A value quoted for an error detail, shortened: hostile values can be huge."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def read_enum(kind: type[_E], path: str, text: str) -> _E:
    """The member of `kind` whose value is `text`."""
    try:
        return kind(text)
    except ValueError:
        raise Invalid(path, f"{show(text)} is not one of {', '.join(kind)}") from None


def read_token(path: str, text: str) -> str:
    """An identifier or sender: CAP forbids whitespace, commas, '<' and '&' in them."""
    if _NOT_IN_TOKEN.search(text):
        raise Invalid(path, f"{show(text)} contains whitespace, ',', '<' or '&'")
    return text


# --- times -------------------------------------------------------------------------------------

def read_time(path: str, text: str) -> datetime:
    """A CAP time; "Z" and fractional seconds (dropped) are accepted as real systems send them."""
    match = _TIME.fullmatch(text)
    problem = "is not a CAP time (YYYY-MM-DDThh:mm:ss±hh:mm)"
    if match is None:
        raise Invalid(path, f"{show(text)} {problem}")
    year, month, day, hour, minute, second, zulu, sign, off_h, off_m = match.groups()
    try:
        if zulu:
            tz = UTC
        else:
            if int(off_m) >= 60:
                raise ValueError("offset minutes out of range")
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(-offset if sign == "-" else offset)
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        tzinfo=tz)
    except ValueError as exc:
        raise Invalid(path, f"{show(text)} {problem}: {exc}") from None


def write_time(value: datetime) -> str:
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


# --- numbers and geometry ---------------------------------------------------------------------

def read_decimal(path: str, text: str) -> float:
    """A finite decimal number, never in exponent form."""
    value = float(text) if _DECIMAL.fullmatch(text) else math.nan
    if not math.isfinite(value):
        raise Invalid(path, f"{show(text)} is not a decimal number")
    return value


def write_decimal(value: float) -> str:
    """The shortest decimal that reads back as `value`, never in exponent form."""
    if not math.isfinite(value):
        raise ValueError(f"CAP numbers must be finite, got {value!r}")
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text else text


def read_point(path: str, text: str) -> Point:
    """A 'lat,lon' pair on the globe."""
    parts = text.split(",")
    if len(parts) != 2:
        raise Invalid(path, f"{show(text)} is not a 'lat,lon' pair")
    lat, lon = read_decimal(path, parts[0]), read_decimal(path, parts[1])
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise Invalid(path, f"{show(text)} is outside -90..90, -180..180")
    return (lat, lon)


def write_point(point: Point) -> str:
    """'lat,lon'."""
    return f"{write_decimal(point[0])},{write_decimal(point[1])}"


def read_ring(path: str, text: str) -> Ring:
    """A closed polygon: at least four points, the last equal to the first."""
    ring = tuple(read_point(path, pair) for pair in text.split())
    if len(ring) < 4 or ring[0] != ring[-1]:
        raise Invalid(path, "a polygon needs at least 4 'lat,lon' pairs, the last equal to "
                            "the first")
    return ring


def write_ring(ring: Ring) -> str:
    """Space-separated 'lat,lon' pairs."""
    return " ".join(write_point(point) for point in ring)


def read_circle(path: str, text: str) -> CapCircle:
    """'lat,lon radius' with the radius in kilometres."""
    parts = text.split()
    if len(parts) != 2:
        raise Invalid(path, f"{show(text)} is not 'lat,lon radius'")
    lat, lon = read_point(path, parts[0])
    radius = read_decimal(path, parts[1])
    if radius < 0:
        raise Invalid(path, f"radius {show(parts[1])} is negative")
    return CapCircle(lat=lat, lon=lon, radius_km=radius)


def write_circle(circle: CapCircle) -> str:
    """'lat,lon radius'."""
    return f"{write_point((circle.lat, circle.lon))} {write_decimal(circle.radius_km)}"


# --- references and names ---------------------------------------------------------------------

def read_reference(path: str, text: str) -> CapReference:
    """One 'sender,identifier,sent' triple of `references`."""
    parts = text.split(",")
    if len(parts) != 3:
        raise Invalid(path, f"{show(text)} is not 'sender,identifier,sent'")
    sender, identifier, sent = parts
    if not sender or not identifier:
        raise Invalid(path, f"{show(text)} has an empty sender or identifier")
    return CapReference(sender=read_token(path, sender),
                        identifier=read_token(path, identifier), sent=read_time(path, sent))


def write_references(references: tuple[CapReference, ...]) -> str | None:
    """Space-separated triples; None when there are none (the element is left out)."""
    return " ".join(f"{ref.sender},{ref.identifier},{write_time(ref.sent)}"
                    for ref in references) or None


def read_names(path: str, text: str | None) -> tuple[str, ...]:
    """Space-separated names, those with whitespace in double quotes (addresses, incidents)."""
    names = []
    for match in _NAME.finditer(text or ""):
        if match.group(3):
            raise Invalid(path, "unbalanced double quote")
        name = match.group(1) if match.group(1) is not None else match.group(2)
        if name:
            names.append(name)
    return tuple(names)


def write_names(names: tuple[str, ...]) -> str | None:
    """The names space-separated, quoted when they hold spaces; None when there are none."""
    for name in names:
        if not name or '"' in name:
            raise ValueError(f"an address or incident name cannot be empty or hold '\"': "
                             f"{show(name)}")
    return " ".join(f'"{name}"' if _SPACE.search(name) else name for name in names) or None
