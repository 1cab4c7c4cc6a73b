"""Pure decoding of raw MQTT payloads into domain messages or dead letters; no I/O."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from incidents.cap import CapAlertMessage, alert_level, cap_message_id, references_ids
from incidents.cap_xml import CapError, parse_cap
from incidents.cleantext import EmptyText, clean_struct
from incidents.model import (
    Ack,
    Alarm,
    CoordSystem,
    DeadLetter,
    Envelope,
    FieldMessage,
    Inbound,
    Kind,
    Observation,
    Position,
    Report,
    Status,
)
from ingest.cot_codec import CotError, parse_cot
from ingest.topics import TopicError, TopicScheme


class Reason(StrEnum):
    """Why a message went to the dead letters."""

    BAD_TOPIC = "bad_topic"
    UNKNOWN_AGENCY = "unknown_agency"
    UNKNOWN_KIND = "unknown_kind"
    UNSUPPORTED_KIND = "unsupported_kind"
    TOO_LARGE = "too_large"
    MALFORMED_JSON = "malformed_json"
    INVALID = "invalid"
    AGENCY_MISMATCH = "agency_mismatch"
    XML_FORBIDDEN = "xml_forbidden"
    MALFORMED_XML = "malformed_xml"
    INVALID_CAP = "invalid_cap"
    INVALID_COT = "invalid_cot"
    UNSUPPORTED_COT = "unsupported_cot"
    EMPTY_TEXT = "empty_text"


class DecodeError(ValueError):
    """A payload that cannot become a domain message."""

    def __init__(self, reason: Reason, detail: str, message_id: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.message_id = message_id


_TYPES: dict[Kind, type[FieldMessage]] = {
    Kind.POSITION: Position, Kind.REPORT: Report, Kind.OBSERVATION: Observation,
    Kind.ALARM: Alarm, Kind.STATUS: Status, Kind.ACK: Ack,
}
_DECODERS: dict[Kind, msgspec.json.Decoder[Any]] = {
    kind: msgspec.json.Decoder(cls) for kind, cls in _TYPES.items()
}
_LOOSE = msgspec.json.Decoder(dict[str, Any])


class _Claim(msgspec.Struct):
    """The agency a payload claims to come from, if it says."""

    agency: str | None = None


_CLAIM = msgspec.json.Decoder(_Claim)


def json_schema(kind: Kind) -> dict[str, Any]:
    """The JSON Schema of a JSON message kind, generated from its type."""
    return msgspec.json.schema(_TYPES[kind])


def supported_kinds() -> tuple[Kind, ...]:
    """Kinds this ingest can decode."""
    return (*_TYPES, Kind.CAP, Kind.COT)


def json_kinds() -> tuple[Kind, ...]:
    """Kinds whose payload is JSON (with a JSON Schema in docs/feeds.md)."""
    return tuple(_TYPES)


def decode_payload(kind: Kind, payload: bytes, max_bytes: int) -> FieldMessage | CapAlertMessage:
    """Decode and validate one payload of `kind` (JSON, CAP or CoT XML), or raise DecodeError."""
    if len(payload) > max_bytes:
        raise DecodeError(Reason.TOO_LARGE, f"payload is {len(payload)} bytes, limit {max_bytes}")
    if kind is Kind.COT:
        try:
            return parse_cot(payload, max_bytes)
        except CotError as exc:
            raise DecodeError(Reason(str(exc.reason)), exc.detail, exc.message_id) from exc
    if kind is Kind.CAP:
        try:
            alert = parse_cap(payload, max_bytes)
        except CapError as exc:
            raise DecodeError(Reason(str(exc.reason)), exc.detail, exc.message_id) from exc
        return CapAlertMessage(id=cap_message_id(alert), alert=alert,
                               references=tuple(references_ids(alert)),
                               level=alert_level(alert))
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise DecodeError(
            Reason.UNSUPPORTED_KIND,
            f"kind {kind.value!r} is not accepted yet; supported: {', '.join(supported_kinds())}",
        )
    try:
        message: FieldMessage = decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise DecodeError(Reason.INVALID, str(exc), _salvage_id(payload)) from exc
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        # msgspec raises UnicodeDecodeError for non-UTF-8 strings (e.g. GBK from old
        # gateways) and RecursionError for absurd nesting: both are malformed input.
        raise DecodeError(Reason.MALFORMED_JSON, f"{type(exc).__name__}: {exc}") from exc
    try:
        return clean_struct(message)  # control characters out of every text field
    except EmptyText as exc:
        raise DecodeError(Reason.EMPTY_TEXT, exc.detail, message.id) from exc


ToWgs84 = Callable[[str, float, float], tuple[float, float]]
"""Converts (coordinate system, lon, lat) to WGS-84 (lon, lat); maps.crs.to_wgs84 does."""


class CrsPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How ingest reads coordinates: each feed declares its system, per message or per agency."""

    convert: ToWgs84
    """The conversion (chosen at start-up: maps.crs)."""
    agency_default: dict[str, CoordSystem] = msgspec.field(default_factory=dict)
    """System of an agency's feeds when a message does not say (e.g. AMap-based AVL: gcj02)."""


def decode(
    scheme: TopicScheme, topic: str, payload: bytes, received_at: datetime, max_bytes: int,
    crs: CrsPolicy | None = None,
) -> Inbound | DeadLetter:
    """Turn one raw MQTT message into an Inbound message or a DeadLetter with a reason.

    Coordinates declared in GCJ-02 or BD-09 (by the message's `crs`, else the agency's
    default) are converted to WGS-84 here, at the edge; without a policy they are refused.
    """
    try:
        agency, kind, source = _parse_topic(scheme, topic)
        message = decode_payload(kind, payload, max_bytes)
        _check_claimed_agency(agency, payload, message.id)
        message = _in_wgs84(message, agency, crs)
    except TopicError as exc:
        return DeadLetter(topic=topic, payload=payload, received_at=received_at,
                          reason=exc.reason, detail=exc.detail)
    except DecodeError as exc:
        return DeadLetter(topic=topic, payload=payload, received_at=received_at,
                          reason=exc.reason, detail=exc.detail, message_id=exc.message_id)
    envelope = Envelope(topic=topic, agency=agency, kind=kind, source=source,
                        received_at=received_at)
    return Inbound(envelope=envelope, message=message)


_LOCATED = (Position, Report, Observation, Alarm)


@functools.lru_cache(maxsize=4096)
def _parse_topic(scheme: TopicScheme, topic: str) -> tuple[str, Kind, str]:
    """`scheme.parse`, remembered: sources publish on few topics, thousands of times a second
    (an unknown topic raises and is not remembered)."""
    return scheme.parse(topic)


def _in_wgs84(message: FieldMessage | CapAlertMessage, agency: str, policy: CrsPolicy | None
              ) -> FieldMessage | CapAlertMessage:
    if not isinstance(message, _LOCATED):
        return message
    system = message.crs or (policy.agency_default.get(agency) if policy else None)
    if system is None or system is CoordSystem.WGS84:
        return message if message.crs is None else msgspec.structs.replace(message, crs=None)
    if policy is None:
        raise DecodeError(Reason.INVALID, f"coordinates in {system.value} cannot be converted"
                          " here; publish WGS-84", message.id)
    lon, lat = policy.convert(system.value, message.lon, message.lat)
    return msgspec.structs.replace(message, lat=round(lat, 7), lon=round(lon, 7), crs=None)


def _check_claimed_agency(agency: str, payload: bytes, message_id: str) -> None:
    """Refuse a payload that names another agency than its topic (a spoofing attempt or a bug)."""
    if b'"agency"' not in payload:  # most payloads do not say; skip the second parse
        return
    try:
        claimed = _CLAIM.decode(payload).agency
    except msgspec.ValidationError as exc:
        raise DecodeError(Reason.INVALID, str(exc), message_id) from exc
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError(Reason.MALFORMED_JSON, f"{type(exc).__name__}: {exc}",
                          message_id) from exc
    if claimed is not None and claimed != agency:
        raise DecodeError(Reason.AGENCY_MISMATCH,
                          f"payload claims agency {claimed!r} but was published under {agency!r}",
                          message_id)


def _salvage_id(payload: bytes) -> str | None:
    """Read the `id` of a payload that failed validation, so the receipt can name it."""
    try:
        loose = _LOOSE.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None  # no readable id: the receipt cannot name this message
    value = loose.get("id")
    if isinstance(value, str) and 0 < len(value) <= 128:
        return value
    return None
