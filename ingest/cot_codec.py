"""Cursor-on-Target (CoT) XML events to domain messages, and positions to CoT; no I/O.

Events are read as ATAK, WinTAK and iTAK emit them: atoms (`a-*`) become positions, the
emergency family (`b-a-o-tbl` 911 and its siblings) becomes alarms, `b-a-o-can` clears
them. Everything else is `unsupported_cot`. Message ids come from the event's uid and
time, so a redelivered event carries the id it had the first time.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Final, TypeVar
from xml.etree.ElementTree import Element, SubElement, tostring

import msgspec

from incidents.cleantext import EmptyText, clean_line, clean_struct, emptied
from incidents.model import Alarm, AlarmState, Position
from incidents.xmlsafe import XmlError, parse_xml

MAX_EVENT_BYTES: Final = 64 * 1024
"""Largest CoT event accepted (TAK's own limit for one message)."""
UNKNOWN: Final = 9999999.0
"""CoT's value for an unknown `hae`, `ce` or `le`."""
PING_TYPE: Final = "t-x-c-t"
"""Keepalive a TAK client sends on a quiet stream; the server answers with a pong."""
PONG_TYPE: Final = "t-x-c-t-r"
"""The answer to a ping."""
DEFAULT_COT_TYPE: Final = "a-f-G-U-C"
"""Type given to sitroom units that have no CoT type of their own: friendly ground unit."""

EMERGENCY_TYPES: Final = frozenset({
    "b-a-o-tbl",  # 911 Alert
    "b-a-o-pan",  # Ring The Bell
    "b-a-o-opn",  # Troops In Contact
    "b-a-o-c",    # Custom alert
    "b-a-g",      # Geo-fence Breached
})
"""Event types that raise an emergency alarm."""
CANCEL_TYPE: Final = "b-a-o-can"
"""Event type that clears a unit's emergency alarm."""

_UNIT_ID_MAX = 64
_HASH_LEN = 10
_TEXT_MAX = 64
_ALARM_TEXT_MAX = 4000
_UNIT_TYPE_MAX = 32
_UNKNOWN_FROM = 999999.0  # 9999999.0 in XML; TAK's protobuf comments say 999999
_ILLEGAL_UNIT_CHARS = re.compile(r"[^A-Za-z0-9._\-]")
_COT_TYPE = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_T = TypeVar("_T", bound=msgspec.Struct)
_MILLISECOND = timedelta(milliseconds=1)


class CotReason(StrEnum):
    """Why a CoT event cannot become a domain message (a dead-letter reason code)."""

    XML_FORBIDDEN = "xml_forbidden"
    MALFORMED_XML = "malformed_xml"
    TOO_LARGE = "too_large"
    INVALID_COT = "invalid_cot"
    UNSUPPORTED_COT = "unsupported_cot"
    EMPTY_TEXT = "empty_text"


class CotError(ValueError):
    """A payload that is not a CoT event sitroom ingests."""

    def __init__(self, reason: str, detail: str, message_id: str | None = None,
                 cot_type: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        """Dead-letter reason code: a CotReason value."""
        self.detail = detail
        """Human-readable explanation of what is wrong."""
        self.message_id = message_id
        """The id the event would have had, when its uid and time could be read."""
        self.cot_type = cot_type
        """The event's `type`, when it could be read (the TCP input answers pings)."""


def parse_cot(payload: bytes, max_bytes: int = MAX_EVENT_BYTES) -> Position | Alarm:
    """Decode one CoT `<event>` into a Position or an Alarm, or raise CotError."""
    try:
        root = parse_xml(payload, max_bytes)
    except XmlError as exc:
        raise CotError(exc.reason, exc.detail) from exc
    if root.tag != "event":
        raise CotError(CotReason.INVALID_COT, f"root element is <{root.tag}>, not <event>")
    cot_type = root.get("type", "")
    if not _COT_TYPE.fullmatch(cot_type):
        raise CotError(CotReason.INVALID_COT, f"event type {cot_type[:80]!r} is not a CoT type")
    if cot_type.startswith("a-"):
        return _position(root, cot_type)
    if cot_type in EMERGENCY_TYPES or cot_type == CANCEL_TYPE:
        return _alarm(root, cot_type)
    raise CotError(CotReason.UNSUPPORTED_COT,
                   f"event type {cot_type!r} is not ingested (only atoms a-* and emergencies)",
                   _salvage_id(root), cot_type)


def unit_id_for(uid: str) -> str:
    """The sitroom unit id of a CoT uid: itself when it fits, else a cleaned, hashed form.

    Characters a unit id may not hold become '-', and the result is cut to fit; when the
    uid had to change, a short hash of the original keeps distinct uids distinct.
    """
    cleaned = _ILLEGAL_UNIT_CHARS.sub("-", uid)
    if cleaned == uid and 0 < len(uid) <= _UNIT_ID_MAX:
        return uid
    digest = hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    return f"{cleaned[:_UNIT_ID_MAX - _HASH_LEN - 1]}-{digest}"


def message_id_for(uid: str, time: datetime) -> str:
    """The message id of the event `uid` sent at `time`: stable across redeliveries."""
    return f"cot:{unit_id_for(uid)}:{(time - _EPOCH) // _MILLISECOND}"


def parse_time(text: str) -> datetime:
    """Read a CoT time such as `2026-11-26T09:30:00.000Z`; raise ValueError if it is not one."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text[:80]!r} is not a CoT time (YYYY-MM-DDThh:mm:ss[.fff]Z)")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    if zone == "Z":
        tz = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                    micros, tzinfo=tz)


def format_time(moment: datetime) -> str:
    """A CoT time, UTC with milliseconds: `2026-11-26T09:30:00.000Z`."""
    t = moment.astimezone(UTC)
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:"
            f"{t.second:02d}.{t.microsecond // 1000:03d}Z")


def serialize_position(position: Position, *,
                       stale_after: timedelta = timedelta(minutes=2)) -> bytes:
    """A CoT event showing a sitroom unit on TAK devices (its uid is the unit id)."""
    cot_type = DEFAULT_COT_TYPE
    own_type = (position.unit_type or "").removeprefix("cot:")
    if own_type.startswith("a-") and _COT_TYPE.fullmatch(own_type):
        cot_type = own_type  # a unit that came from TAK keeps its symbol
    try:
        stale = position.ts + stale_after
    except OverflowError:
        stale = position.ts
    event = Element("event", {
        "version": "2.0", "uid": position.unit, "type": cot_type, "how": "m-g",
        "time": format_time(position.ts), "start": format_time(position.ts),
        "stale": format_time(stale),
    })
    SubElement(event, "point", {
        "lat": repr(position.lat), "lon": repr(position.lon), "hae": repr(UNKNOWN),
        "ce": repr(UNKNOWN if position.accuracy is None else position.accuracy),
        "le": repr(UNKNOWN),
    })
    detail = SubElement(event, "detail")
    SubElement(detail, "contact", {"callsign": _xml_safe(position.callsign or position.unit)})
    if position.group:
        SubElement(detail, "__group", {"name": _xml_safe(position.group), "role": "Team Member"})
    track = {}
    if position.speed is not None:
        track["speed"] = repr(position.speed)
    if position.heading is not None:
        track["course"] = repr(position.heading)
    if track:
        SubElement(detail, "track", track)
    return _to_bytes(event)


def serialize_pong(now: datetime) -> bytes:
    """The `t-x-c-t-r` answer to a TAK client's ping, which keeps its stream alive."""
    event = Element("event", {
        "version": "2.0", "uid": "takPong", "type": PONG_TYPE, "how": "h-g-i-g-o",
        "time": format_time(now), "start": format_time(now),
        "stale": format_time(now + timedelta(seconds=20)),
    })
    SubElement(event, "point", {"lat": "0.0", "lon": "0.0", "hae": "0.0",
                                "ce": repr(UNKNOWN), "le": repr(UNKNOWN)})
    return _to_bytes(event)


# --- decoding ------------------------------------------------------------------------

def _position(root: Element, cot_type: str) -> Position:
    uid, ts, message_id = _identity(root)
    lat, lon, ce = _point(root, message_id)
    detail = root.find("detail")
    track = detail.find("track") if detail is not None else None
    speed = _number(track.get("speed")) if track is not None else None
    course = _number(track.get("course")) if track is not None else None
    fields: dict[str, Any] = {
        "id": message_id, "ts": ts, "unit": unit_id_for(uid), "lat": lat, "lon": lon,
        # iTAK sends speed -1 when it does not know; a negative course means the same.
        "speed": speed if speed is not None and 0.0 <= speed <= 500.0 else None,
        "heading": course % 360.0 if course is not None and course >= 0.0 else None,
        "accuracy": ce if ce is not None and 0.0 <= ce < _UNKNOWN_FROM else None,
        "unit_type": _unit_type(cot_type),
        "callsign": _detail_text(detail, "contact", "callsign"),
        "group": _detail_text(detail, "__group", "name"),
    }
    return _convert(fields, Position, message_id)


def _alarm(root: Element, cot_type: str) -> Alarm:
    uid, ts, message_id = _identity(root)
    lat, lon, _ = _point(root, message_id)
    detail = root.find("detail")
    emergency = detail.find("emergency") if detail is not None else None
    cancelled = emergency is not None and emergency.get("cancel", "").lower() == "true"
    fields: dict[str, Any] = {
        "id": message_id, "ts": ts, "device": _originator(uid, detail, emergency),
        "type": "emergency", "lat": lat, "lon": lon,
        "state": AlarmState.CLEARED if cot_type == CANCEL_TYPE or cancelled
        else AlarmState.ACTIVE,
        "text": _emergency_text(emergency),
    }
    return _convert(fields, Alarm, message_id)


def _identity(root: Element) -> tuple[str, datetime, str]:
    """The event's uid, time and message id, or CotError."""
    raw_uid = root.get("uid", "")
    if emptied(raw_uid, "uid"):
        raise CotError(CotReason.EMPTY_TEXT,
                       "uid is empty once its control characters are removed")
    uid = clean_line(raw_uid)  # a uid with controls is the same device as the one without
    if not uid.strip():
        raise CotError(CotReason.INVALID_COT, "event has no uid")
    time_text = root.get("time")
    if time_text is None:
        raise CotError(CotReason.INVALID_COT, "event has no time")
    try:
        ts = parse_time(time_text)
        message_id = message_id_for(uid, ts)
    except (ValueError, OverflowError) as exc:
        raise CotError(CotReason.INVALID_COT, f"event time: {exc}") from exc
    return uid, ts, message_id


def _salvage_id(root: Element) -> str | None:
    """The message id of an event that will not be ingested, if it has one."""
    try:
        _, _, message_id = _identity(root)
    except CotError:
        return None  # no readable uid or time: the dead letter carries no id
    return message_id


def _point(root: Element, message_id: str) -> tuple[float, float, float | None]:
    """Latitude, longitude and circular error (None when absent) of the event's point."""
    point = root.find("point")
    if point is None:
        raise CotError(CotReason.INVALID_COT, "event has no <point>", message_id)
    lat, lon = _number(point.get("lat")), _number(point.get("lon"))
    if lat is None or lon is None:
        raise CotError(CotReason.INVALID_COT,
                       f"point lat={point.get('lat')!r} lon={point.get('lon')!r} are not numbers",
                       message_id)
    return lat, lon, _number(point.get("ce"))


def _originator(uid: str, detail: Element | None, emergency: Element | None) -> str:
    """The unit that raised an emergency: its parent link, else what the uid implies."""
    if detail is not None:
        for link in detail.iter("link"):
            parent = link.get("uid", "")
            if link.get("relation") == "p-p" and parent.strip():
                return unit_id_for(parent)
    if uid.endswith("-9-1-1") and len(uid) > len("-9-1-1"):
        return unit_id_for(uid.removesuffix("-9-1-1"))  # ATAK names alerts {device}-9-1-1
    if emergency is not None:
        callsign = (emergency.get("callsign") or emergency.text or "").strip()
        if callsign:
            return unit_id_for(callsign)
    return unit_id_for(uid)


def _emergency_text(emergency: Element | None) -> str | None:
    """`911 Alert: JOKER` from `<emergency type="911 Alert">JOKER</emergency>`."""
    if emergency is None:
        return None
    parts = [part.strip() for part in (emergency.get("type"), emergency.text) if part]
    text = ": ".join(part for part in parts if part)
    return text[:_ALARM_TEXT_MAX] or None


def _unit_type(cot_type: str) -> str:
    """`cot:` and the CoT type, cut at a '-' so that it fits a unit type."""
    unit_type = f"cot:{cot_type}"
    if len(unit_type) > _UNIT_TYPE_MAX:
        cut = unit_type.rfind("-", 0, _UNIT_TYPE_MAX + 1)
        unit_type = unit_type[:cut] if cut > len("cot:") else unit_type[:_UNIT_TYPE_MAX]
    return unit_type


def _detail_text(detail: Element | None, tag: str, attribute: str) -> str | None:
    if detail is None:
        return None
    element = detail.find(tag)
    if element is None:
        return None
    text = (element.get(attribute) or "").strip()[:_TEXT_MAX].strip()
    return text or None


def _number(text: str | None) -> float | None:
    """A finite float from an attribute, or None when it is absent or not a number."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _convert(fields: dict[str, Any], cls: type[_T], message_id: str) -> _T:
    try:
        return clean_struct(msgspec.convert(fields, cls))  # controls out of every text field
    except msgspec.ValidationError as exc:
        raise CotError(CotReason.INVALID_COT, str(exc), message_id) from exc
    except EmptyText as exc:
        raise CotError(CotReason.EMPTY_TEXT, exc.detail, message_id) from exc


def _to_bytes(event: Element) -> bytes:
    document: bytes = tostring(event, encoding="utf-8", xml_declaration=True)
    return document


def _xml_safe(text: str) -> str:
    """Text with the characters XML 1.0 cannot carry removed."""
    return _NOT_XML_CHAR.sub("", text)
