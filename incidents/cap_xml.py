"""CAP 1.2 XML to `CapAlert` and back: the one module that parses and serialises CAP (pure).

`parse_cap` accepts alerts as real systems send them: element order is not checked, times
may end in "Z" or carry fractional seconds (dropped), values are stripped of surrounding
XML whitespace, empty optional elements count as absent, and elements in other namespaces
(such as an XML signature, which is not verified) are ignored. Everything else the CAP 1.2
specification requires is checked, and anything wrong raises `CapError` naming the element.
Hostile bytes are refused by `incidents.xmlsafe` before any of this runs.

`export_cap` writes schema-valid CAP 1.2: elements in schema order, UTF-8, times as
YYYY-MM-DDThh:mm:ss±hh:mm with UTC written "-00:00" as the specification demands. The packed
values (times, numbers, points, names) are read and written side by side in
`incidents.cap_text`, so that exporting then parsing gives back the same alert.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from enum import StrEnum

from incidents.cap import (
    CAP_NAMESPACE,
    CapAlert,
    CapArea,
    CapCategory,
    CapCertainty,
    CapInfo,
    CapMsgType,
    CapResource,
    CapResponseType,
    CapScope,
    CapSeverity,
    CapStatus,
    CapUrgency,
    NamedValue,
    cap_id,
)
from incidents.cap_text import (
    Invalid,
    read_circle,
    read_decimal,
    read_enum,
    read_names,
    read_reference,
    read_ring,
    read_time,
    read_token,
    show,
    write_circle,
    write_decimal,
    write_names,
    write_references,
    write_ring,
    write_time,
)
from incidents.cleantext import EmptyText, clean_field, emptied
from incidents.xmlsafe import XmlError, XmlReason, parse_xml, split_tag

MAX_CAP_BYTES = 256 * 1024
"""Default size limit of one CAP payload."""
_SIZE = re.compile(r"[0-9]{1,18}")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


class CapReason(StrEnum):
    """Why a CAP payload went to the dead letters."""

    XML_FORBIDDEN = "xml_forbidden"
    MALFORMED_XML = "malformed_xml"
    TOO_LARGE = "too_large"
    INVALID_CAP = "invalid_cap"
    EMPTY_TEXT = "empty_text"


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
    except EmptyText as exc:
        raise CapError(CapReason.EMPTY_TEXT, exc.detail, _salvage(root, "identifier"),
                       _salvage(root, "sender")) from exc
    except Invalid as exc:
        raise CapError(CapReason.INVALID_CAP, str(exc), _salvage(root, "identifier"),
                       _salvage(root, "sender")) from exc


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
                raise Invalid(f"{path}/{local}", "not a CAP 1.2 element here")
            self._children.setdefault(local, []).append(child)

    def text(self, name: str) -> str | None:
        """The text of the element `name`, which may appear once; None if absent or empty."""
        found = self._children.get(name, [])
        if len(found) > 1:
            raise Invalid(f"{self.path}/{name}", f"appears {len(found)} times, at most once")
        return _leaf_text(f"{self.path}/{name}", found[0]) if found else None

    def required(self, name: str) -> str:
        """The text of the element `name`, which must appear once with content."""
        value = self.text(name)
        if value is None:
            found = self._children.get(name)
            if found and emptied(found[0].text, name):
                raise EmptyText(f"{self.path}/{name}")
            raise Invalid(f"{self.path}/{name}", "required element is missing or empty")
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
        raise Invalid(path, "must hold text, not elements")
    # Control characters out (XML 1.0 still carries DEL and C1): every CAP text passes here.
    text = clean_field(split_tag(element.tag)[1], element.text or "").strip(_XML_SPACE)
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
        raise Invalid("alert", f"root element is {show(root.tag)}, "
                                f"expected <alert> in namespace {CAP_NAMESPACE}")
    f = _Fields(root, "alert", _ALERT)
    identifier = read_token(f"{f.path}/identifier", f.required("identifier"))
    sender = read_token(f"{f.path}/sender", f.required("sender"))
    sent = read_time(f"{f.path}/sent", f.required("sent"))
    status = read_enum(CapStatus, f"{f.path}/status", f.required("status"))
    msg_type = read_enum(CapMsgType, f"{f.path}/msgType", f.required("msgType"))
    scope = read_enum(CapScope, f"{f.path}/scope", f.required("scope"))
    addresses = read_names(f"{f.path}/addresses", f.text("addresses"))
    if scope is CapScope.PRIVATE and not addresses:
        raise Invalid(f"{f.path}/addresses", "required when scope is Private")
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
        references=tuple(read_reference(f"{f.path}/references", item)
                         for item in (f.text("references") or "").split()),
        incidents=read_names(f"{f.path}/incidents", f.text("incidents")),
        infos=tuple(_info(path, element) for path, element in f.elements("info")),
    )


def _info(path: str, element: ET.Element) -> CapInfo:
    f = _Fields(element, path, _INFO)
    categories = tuple(read_enum(CapCategory, p, text) for p, text in f.texts("category"))
    if not categories:
        raise Invalid(f"{path}/category", "required element is missing or empty")
    language = f.text("language") or "en-US"
    if not _LANGUAGE.fullmatch(language):
        raise Invalid(f"{path}/language", f"{show(language)} is not an RFC 3066 language")
    return CapInfo(
        language=language,
        categories=categories,
        event=f.required("event"),
        response_types=tuple(read_enum(CapResponseType, p, text)
                             for p, text in f.texts("responseType")),
        urgency=read_enum(CapUrgency, f"{path}/urgency", f.required("urgency")),
        severity=read_enum(CapSeverity, f"{path}/severity", f.required("severity")),
        certainty=read_enum(CapCertainty, f"{path}/certainty", f.required("certainty")),
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
        raise Invalid(f"{path}/size", f"{show(size)} is not a size in bytes")
    return CapResource(resource_desc=f.required("resourceDesc"), mime_type=f.required("mimeType"),
                       size=None if size is None else int(size), uri=f.text("uri"),
                       deref_uri=f.text("derefUri"), digest=f.text("digest"))


def _area(path: str, element: ET.Element) -> CapArea:
    f = _Fields(element, path, _AREA)
    altitude, ceiling = f.text("altitude"), f.text("ceiling")
    if ceiling is not None and altitude is None:
        raise Invalid(f"{path}/ceiling", "only allowed together with altitude")
    return CapArea(
        area_desc=f.required("areaDesc"),
        polygons=tuple(read_ring(p, text) for p, text in f.texts("polygon")),
        circles=tuple(read_circle(p, text) for p, text in f.texts("circle")),
        geocodes=_pairs(f, "geocode"),
        altitude=None if altitude is None else read_decimal(f"{path}/altitude", altitude),
        ceiling=None if ceiling is None else read_decimal(f"{path}/ceiling", ceiling),
    )


def _pairs(parent: _Fields, name: str) -> tuple[NamedValue, ...]:
    pairs = []
    for path, element in parent.elements(name):
        f = _Fields(element, path, _PAIR)
        pairs.append((f.required("valueName"), f.required("value")))
    return tuple(pairs)


def _optional_time(f: _Fields, name: str) -> datetime | None:
    text = f.text(name)
    return None if text is None else read_time(f"{f.path}/{name}", text)


# --- serialising ------------------------------------------------------------------------------

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


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
            raise ValueError(f"<{tag}> holds a character XML 1.0 cannot carry: {show(value)}")
        self._lines.append(f"{'  ' * self._depth}<{tag}>{value.translate(_ESCAPES)}</{tag}>")

    def to_bytes(self) -> bytes:
        return ("\n".join(self._lines) + "\n").encode("utf-8")


def export_cap(alert: CapAlert) -> bytes:
    """The alert as a CAP 1.2 XML document, in schema order; ValueError for naive times."""
    out = _Writer()
    out.open("alert", f' xmlns="{CAP_NAMESPACE}"')
    out.leaf("identifier", alert.identifier)
    out.leaf("sender", alert.sender)
    out.leaf("sent", write_time(alert.sent))
    out.leaf("status", alert.status)
    out.leaf("msgType", alert.msg_type)
    out.leaf("source", alert.source)
    out.leaf("scope", alert.scope)
    out.leaf("restriction", alert.restriction)
    out.leaf("addresses", write_names(alert.addresses))
    for code in alert.codes:
        out.leaf("code", code)
    out.leaf("note", alert.note)
    out.leaf("references", write_references(alert.references))
    out.leaf("incidents", write_names(alert.incidents))
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
        out.leaf(name, None if time is None else write_time(time))
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
        out.leaf("polygon", write_ring(ring))
    for circle in area.circles:
        out.leaf("circle", write_circle(circle))
    _write_pairs(out, "geocode", area.geocodes)
    out.leaf("altitude", None if area.altitude is None else write_decimal(area.altitude))
    out.leaf("ceiling", None if area.ceiling is None else write_decimal(area.ceiling))
    out.close("area")


def _write_pairs(out: _Writer, tag: str, pairs: tuple[NamedValue, ...]) -> None:
    for name, value in pairs:
        out.open(tag)
        out.leaf("valueName", name)
        out.leaf("value", value)
        out.close(tag)
