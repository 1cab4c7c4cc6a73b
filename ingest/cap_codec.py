"""CAP 1.2 XML to `CapAlert` and back, store ids of alerts, and their levels; no I/O.

`parse_cap` accepts alerts as real systems send them: element order is not checked, times
may end in "Z" or carry fractional seconds (dropped), values are stripped of surrounding
XML whitespace, empty optional elements count as absent, and elements in other namespaces
(such as an XML signature, which is not verified) are ignored. Everything else the CAP 1.2
specification requires is checked, and anything wrong raises `CapError` naming the element.

`export_cap` writes schema-valid CAP 1.2: elements in schema order, UTF-8, times as
YYYY-MM-DDThh:mm:ss±hh:mm with UTC written "-00:00" as the specification demands.
"""

from __future__ import annotations

import hashlib
import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import TypeVar

from incidents.cap import (
    CAP_NAMESPACE,
    CapAlert,
    CapArea,
    CapCategory,
    CapCertainty,
    CapCircle,
    CapInfo,
    CapMsgType,
    CapReference,
    CapResource,
    CapResponseType,
    CapScope,
    CapSeverity,
    CapStatus,
    CapUrgency,
    NamedValue,
    Point,
    Ring,
)
from incidents.cap_export import export_cap as export_cap  # re-exported for callers
from incidents.model import Level
from ingest.xmlsafe import XmlError, XmlReason, parse_xml, split_tag

MAX_CAP_BYTES = 256 * 1024
"""Default size limit of one CAP payload."""


class CapReason(StrEnum):
    """Why a CAP payload went to the dead letters."""

    XML_FORBIDDEN = "xml_forbidden"
    MALFORMED_XML = "malformed_xml"
    TOO_LARGE = "too_large"
    INVALID_CAP = "invalid_cap"


class CapError(ValueError):
    """A payload that is not an acceptable CAP 1.2 alert."""

    def __init__(self, reason: CapReason, detail: str, identifier: str | None = None,
                 sender: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.identifier = identifier
        """The alert's identifier, when one could be read despite the error."""
        self.sender = sender
        """The alert's sender, when one could be read despite the error."""

    @property
    def message_id(self) -> str | None:
        """The store id the alert would have had, when sender and identifier were read."""
        if self.identifier is None or self.sender is None:
            return None
        return cap_id(self.sender, self.identifier)


# --- ids and levels --------------------------------------------------------------------------

_PLAIN_SENDER = re.compile(r"[A-Za-z0-9._@\-]+")
_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z0-9._:@\-]+")


def cap_id(sender: str, identifier: str) -> str:
    """The store id of the CAP message `identifier` of `sender`; stable, never change it.

    Readable "cap:{sender}:{identifier}" when that fits the MessageId pattern and 128
    characters and the sender has no ':' (so the id is unambiguous); otherwise
    "cap-sha256:" and the SHA-256 of "sender,identifier" (CAP forbids commas in both).
    """
    readable = f"cap:{sender}:{identifier}"
    if (len(readable) <= 128 and _PLAIN_SENDER.fullmatch(sender)
            and _PLAIN_IDENTIFIER.fullmatch(identifier)):
        return readable
    key = f"{sender},{identifier}".encode("utf-8", "surrogatepass")
    return f"cap-sha256:{hashlib.sha256(key).hexdigest()}"


def cap_message_id(alert: CapAlert) -> str:
    """The store id of an alert, from its sender and identifier (the dedup key)."""
    return cap_id(alert.sender, alert.identifier)


def references_ids(alert: CapAlert) -> list[str]:
    """Store ids of the messages the alert references, in order, without repeats."""
    ids = (cap_id(ref.sender, ref.identifier) for ref in alert.references)
    return list(dict.fromkeys(ids))


_LEVELS = {
    CapSeverity.EXTREME: Level.I,
    CapSeverity.SEVERE: Level.II,
    CapSeverity.MODERATE: Level.III,
    CapSeverity.MINOR: Level.IV,
    CapSeverity.UNKNOWN: Level.IV,
}


def cap_level(info: CapInfo) -> Level:
    """The incident level of an info block, from its CAP severity.

    Extreme → I (特别重大, red), Severe → II (重大, orange), Moderate → III (较大, yellow),
    Minor → IV (一般, blue); Unknown → IV, the lowest, until a person verifies it.
    Urgency and certainty do not change the level.
    """
    return _LEVELS[info.severity]


def alert_level(alert: CapAlert) -> Level | None:
    """The most severe level of any info block of the alert; None when it has no info."""
    levels = [cap_level(info) for info in alert.infos]
    return min(levels, key=list(Level).index) if levels else None


# --- parsing ----------------------------------------------------------------------------------

_XML_REASONS = {
    XmlReason.FORBIDDEN: CapReason.XML_FORBIDDEN,
    XmlReason.MALFORMED: CapReason.MALFORMED_XML,
    XmlReason.TOO_LARGE: CapReason.TOO_LARGE,
}


def parse_cap(payload: bytes, max_bytes: int = MAX_CAP_BYTES) -> CapAlert:
    """Parse and validate one CAP 1.2 alert, or raise CapError with a reason code."""
    try:
        root = parse_xml(payload, max_bytes)
    except XmlError as exc:
        raise CapError(_XML_REASONS[exc.reason], exc.detail) from exc
    try:
        return _alert(root)
    except _Invalid as exc:
        raise CapError(CapReason.INVALID_CAP, str(exc), _salvage(root, "identifier"),
                       _salvage(root, "sender")) from exc


class _Invalid(ValueError):
    """A CAP rule broken at `path`; becomes CapError(INVALID_CAP)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


_XML_SPACE = " \t\n\r"


class _Fields:
    """The CAP-namespace children of one element by name; refuses unknown elements."""

    def __init__(self, element: ET.Element, path: str, names: frozenset[str]) -> None:
        self.path = path
        self._children: dict[str, list[ET.Element]] = {}
        for child in element:
            namespace, local = split_tag(child.tag)
            if namespace != CAP_NAMESPACE:
                continue  # extensions and signatures in other namespaces are ignored
            if local not in names:
                raise _Invalid(f"{path}/{local}", "not a CAP 1.2 element here")
            self._children.setdefault(local, []).append(child)

    def text(self, name: str) -> str | None:
        """The text of the element `name`, which may appear once; None if absent or empty."""
        found = self._children.get(name, [])
        if len(found) > 1:
            raise _Invalid(f"{self.path}/{name}", f"appears {len(found)} times, at most once")
        return _leaf_text(f"{self.path}/{name}", found[0]) if found else None

    def required(self, name: str) -> str:
        """The text of the element `name`, which must appear once with content."""
        value = self.text(name)
        if value is None:
            raise _Invalid(f"{self.path}/{name}", "required element is missing or empty")
        return value

    def texts(self, name: str) -> list[tuple[str, str]]:
        """(path, text) of each non-empty element `name`, in document order."""
        found = [(f"{self.path}/{name}[{n}]", _leaf_text(f"{self.path}/{name}[{n}]", child))
                 for n, child in enumerate(self._children.get(name, []), start=1)]
        return [(path, text) for path, text in found if text is not None]

    def elements(self, name: str) -> list[tuple[str, ET.Element]]:
        """(path, element) of each element `name`, in document order."""
        return [(f"{self.path}/{name}[{n}]", child)
                for n, child in enumerate(self._children.get(name, []), start=1)]


def _leaf_text(path: str, element: ET.Element) -> str | None:
    if len(element):
        raise _Invalid(path, "must hold text, not elements")
    text = (element.text or "").strip(_XML_SPACE)
    return text or None


def _salvage(root: ET.Element, name: str) -> str | None:
    """A direct child's text, read without validation, to name a rejected alert."""
    for child in root:
        if split_tag(child.tag)[1] == name and not len(child):
            text = (child.text or "").strip(_XML_SPACE)
            return text if 0 < len(text) <= 256 else None
    return None


_ALERT = frozenset({"identifier", "sender", "sent", "status", "msgType", "source", "scope",
                    "restriction", "addresses", "code", "note", "references", "incidents",
                    "info"})
_INFO = frozenset({"language", "category", "event", "responseType", "urgency", "severity",
                   "certainty", "audience", "eventCode", "effective", "onset", "expires",
                   "senderName", "headline", "description", "instruction", "web", "contact",
                   "parameter", "resource", "area"})
_RESOURCE = frozenset({"resourceDesc", "mimeType", "size", "uri", "derefUri", "digest"})
_AREA = frozenset({"areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"})
_PAIR = frozenset({"valueName", "value"})


def _alert(root: ET.Element) -> CapAlert:
    namespace, local = split_tag(root.tag)
    if namespace != CAP_NAMESPACE or local != "alert":
        raise _Invalid("alert", f"root element is {_show(root.tag)}, "
                                f"expected <alert> in namespace {CAP_NAMESPACE}")
    f = _Fields(root, "alert", _ALERT)
    identifier = _token(f"{f.path}/identifier", f.required("identifier"))
    sender = _token(f"{f.path}/sender", f.required("sender"))
    sent = _time(f"{f.path}/sent", f.required("sent"))
    status = _enum(CapStatus, f"{f.path}/status", f.required("status"))
    msg_type = _enum(CapMsgType, f"{f.path}/msgType", f.required("msgType"))
    scope = _enum(CapScope, f"{f.path}/scope", f.required("scope"))
    addresses = _names(f"{f.path}/addresses", f.text("addresses"))
    if scope is CapScope.PRIVATE and not addresses:
        raise _Invalid(f"{f.path}/addresses", "required when scope is Private")
    return CapAlert(
        identifier=identifier,
        sender=sender,
        sent=sent,
        status=status,
        msg_type=msg_type,
        source=f.text("source"),
        scope=scope,
        restriction=f.text("restriction"),
        addresses=addresses,
        codes=tuple(text for _, text in f.texts("code")),
        note=f.text("note"),
        references=tuple(_reference(f"{f.path}/references", item)
                         for item in (f.text("references") or "").split()),
        incidents=_names(f"{f.path}/incidents", f.text("incidents")),
        infos=tuple(_info(path, element) for path, element in f.elements("info")),
    )


def _info(path: str, element: ET.Element) -> CapInfo:
    f = _Fields(element, path, _INFO)
    categories = tuple(_enum(CapCategory, p, text) for p, text in f.texts("category"))
    if not categories:
        raise _Invalid(f"{path}/category", "required element is missing or empty")
    language = f.text("language") or "en-US"
    if not _LANGUAGE.fullmatch(language):
        raise _Invalid(f"{path}/language", f"{_show(language)} is not an RFC 3066 language")
    return CapInfo(
        language=language,
        categories=categories,
        event=f.required("event"),
        response_types=tuple(_enum(CapResponseType, p, text)
                             for p, text in f.texts("responseType")),
        urgency=_enum(CapUrgency, f"{path}/urgency", f.required("urgency")),
        severity=_enum(CapSeverity, f"{path}/severity", f.required("severity")),
        certainty=_enum(CapCertainty, f"{path}/certainty", f.required("certainty")),
        audience=f.text("audience"),
        event_codes=_pairs(f, "eventCode"),
        effective=_optional_time(f, "effective"),
        onset=_optional_time(f, "onset"),
        expires=_optional_time(f, "expires"),
        sender_name=f.text("senderName"),
        headline=f.text("headline"),
        description=f.text("description"),
        instruction=f.text("instruction"),
        web=f.text("web"),
        contact=f.text("contact"),
        parameters=_pairs(f, "parameter"),
        resources=tuple(_resource(p, child) for p, child in f.elements("resource")),
        areas=tuple(_area(p, child) for p, child in f.elements("area")),
    )


def _resource(path: str, element: ET.Element) -> CapResource:
    f = _Fields(element, path, _RESOURCE)
    size = f.text("size")
    if size is not None and not _SIZE.fullmatch(size):
        raise _Invalid(f"{path}/size", f"{_show(size)} is not a size in bytes")
    return CapResource(resource_desc=f.required("resourceDesc"), mime_type=f.required("mimeType"),
                       size=None if size is None else int(size), uri=f.text("uri"),
                       deref_uri=f.text("derefUri"), digest=f.text("digest"))


def _area(path: str, element: ET.Element) -> CapArea:
    f = _Fields(element, path, _AREA)
    altitude, ceiling = f.text("altitude"), f.text("ceiling")
    if ceiling is not None and altitude is None:
        raise _Invalid(f"{path}/ceiling", "only allowed together with altitude")
    return CapArea(
        area_desc=f.required("areaDesc"),
        polygons=tuple(_ring(p, text) for p, text in f.texts("polygon")),
        circles=tuple(_circle(p, text) for p, text in f.texts("circle")),
        geocodes=_pairs(f, "geocode"),
        altitude=None if altitude is None else _decimal(f"{path}/altitude", altitude),
        ceiling=None if ceiling is None else _decimal(f"{path}/ceiling", ceiling),
    )


def _pairs(parent: _Fields, name: str) -> tuple[NamedValue, ...]:
    pairs = []
    for path, element in parent.elements(name):
        f = _Fields(element, path, _PAIR)
        pairs.append((f.required("valueName"), f.required("value")))
    return tuple(pairs)


def _optional_time(f: _Fields, name: str) -> datetime | None:
    text = f.text(name)
    return None if text is None else _time(f"{f.path}/{name}", text)


# --- values -------------------------------------------------------------------------------------

_E = TypeVar("_E", bound=StrEnum)
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                   r"(?:\.[0-9]+)?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_SIZE = re.compile(r"[0-9]{1,18}")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_NOT_IN_TOKEN = re.compile(r"[\s,<&]")
_NAME = re.compile(r'"([^"]*)"|([^\s"]+)|(")')


def _show(text: str) -> str:
    """A value quoted for an error detail, shortened: hostile values can be huge."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _enum(kind: type[_E], path: str, text: str) -> _E:
    try:
        return kind(text)
    except ValueError:
        raise _Invalid(path, f"{_show(text)} is not one of {', '.join(kind)}") from None


def _token(path: str, text: str) -> str:
    """An identifier or sender: CAP forbids whitespace, commas, '<' and '&' in them."""
    if _NOT_IN_TOKEN.search(text):
        raise _Invalid(path, f"{_show(text)} contains whitespace, ',', '<' or '&'")
    return text


def _time(path: str, text: str) -> datetime:
    match = _TIME.fullmatch(text)
    problem = "is not a CAP time (YYYY-MM-DDThh:mm:ss±hh:mm)"
    if match is None:
        raise _Invalid(path, f"{_show(text)} {problem}")
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
        raise _Invalid(path, f"{_show(text)} {problem}: {exc}") from None


def _decimal(path: str, text: str) -> float:
    value = float(text) if _DECIMAL.fullmatch(text) else math.nan
    if not math.isfinite(value):
        raise _Invalid(path, f"{_show(text)} is not a decimal number")
    return value


def _point(path: str, text: str) -> Point:
    parts = text.split(",")
    if len(parts) != 2:
        raise _Invalid(path, f"{_show(text)} is not a 'lat,lon' pair")
    lat, lon = _decimal(path, parts[0]), _decimal(path, parts[1])
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise _Invalid(path, f"{_show(text)} is outside -90..90, -180..180")
    return (lat, lon)


def _ring(path: str, text: str) -> Ring:
    ring = tuple(_point(path, pair) for pair in text.split())
    if len(ring) < 4 or ring[0] != ring[-1]:
        raise _Invalid(path, "a polygon needs at least 4 'lat,lon' pairs, the last equal to "
                             "the first")
    return ring


def _circle(path: str, text: str) -> CapCircle:
    parts = text.split()
    if len(parts) != 2:
        raise _Invalid(path, f"{_show(text)} is not 'lat,lon radius'")
    lat, lon = _point(path, parts[0])
    radius = _decimal(path, parts[1])
    if radius < 0:
        raise _Invalid(path, f"radius {_show(parts[1])} is negative")
    return CapCircle(lat=lat, lon=lon, radius_km=radius)


def _reference(path: str, text: str) -> CapReference:
    parts = text.split(",")
    if len(parts) != 3:
        raise _Invalid(path, f"{_show(text)} is not 'sender,identifier,sent'")
    sender, identifier, sent = parts
    if not sender or not identifier:
        raise _Invalid(path, f"{_show(text)} has an empty sender or identifier")
    return CapReference(sender=_token(path, sender), identifier=_token(path, identifier),
                        sent=_time(path, sent))


def _names(path: str, text: str | None) -> tuple[str, ...]:
    """Space-separated names, those with whitespace in double quotes (addresses, incidents)."""
    names = []
    for match in _NAME.finditer(text or ""):
        if match.group(3):
            raise _Invalid(path, "unbalanced double quote")
        name = match.group(1) if match.group(1) is not None else match.group(2)
        if name:
            names.append(name)
    return tuple(names)
