"""Parse untrusted XML payloads (CAP, CoT) safely: no DTDs, no entities, bounded size.

The whole API is `parse_xml`, its error `XmlError` with an `XmlReason`, and `split_tag`:

    try:
        root = parse_xml(payload, max_bytes=256 * 1024)
    except XmlError as exc:
        dead_letter(reason=exc.reason, detail=exc.detail)   # exc.reason is a str

Refused, before anything is expanded or fetched: any DOCTYPE (so no internal or external
DTD, no entity declarations, hence no "billion laughs" and no external entities), payloads
over `max_bytes`, and encodings other than UTF-8, UTF-16, US-ASCII and ISO-8859-1. GB2312,
GBK and GB18030, which Chinese government systems still emit, are transcoded to UTF-8 first.
Comments and processing instructions are dropped. No I/O.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from enum import StrEnum

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring


class XmlReason(StrEnum):
    """Why an XML payload was refused; the values are dead-letter reason codes."""

    FORBIDDEN = "xml_forbidden"
    """A DTD, entity declaration or external reference."""
    MALFORMED = "malformed_xml"
    """Not well-formed XML, or in an unsupported encoding."""
    TOO_LARGE = "too_large"
    """Over the size limit."""


class XmlError(ValueError):
    """An XML payload that was refused, with a reason code and a human-readable detail."""

    def __init__(self, reason: XmlReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


_DECLARED_ENCODING = re.compile(
    rb"\A(?:\xef\xbb\xbf)?<\?xml\s[^>]{0,200}?\bencoding\s*=\s*([\"'])([A-Za-z0-9._\-]{1,40})\1"
)
"""The encoding named in an ASCII-compatible XML declaration, and where it is."""
_NATIVE_ENCODINGS = frozenset({"utf-8", "utf8", "utf-16", "utf16", "us-ascii", "ascii",
                               "iso-8859-1", "iso8859-1", "latin1", "latin-1"})
"""Encodings expat decodes itself."""
_GB_ENCODINGS = frozenset({"gb2312", "gbk", "gb18030", "cp936", "euc-cn"})
"""Chinese national encodings; GB18030 decodes all of them."""


def parse_xml(payload: bytes, max_bytes: int) -> ET.Element:
    """Parse one XML document into its root element, or raise XmlError.

    Never expands an entity, reads a DTD or fetches anything; rejects the payload first
    if it is longer than `max_bytes`.
    """
    if len(payload) > max_bytes:
        raise XmlError(XmlReason.TOO_LARGE, f"payload is {len(payload)} bytes, limit {max_bytes}")
    document = _as_parseable(payload)
    try:
        root: ET.Element = fromstring(
            document, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise XmlError(XmlReason.FORBIDDEN, "DTDs, entity declarations and external "
                       f"references are refused: {exc!r}") from exc
    except ET.ParseError as exc:
        raise XmlError(XmlReason.MALFORMED, str(exc)) from exc
    except (ValueError, LookupError) as exc:
        # Codec failures on a hostile encoding (e.g. a UTF-16 document declaring "idna"):
        # expat calls Python codecs, which raise these rather than ParseError.
        raise XmlError(XmlReason.MALFORMED, f"{type(exc).__name__}: {exc}") from exc
    return root


def split_tag(tag: str) -> tuple[str | None, str]:
    """Split an ElementTree tag "{namespace}local" into (namespace, local); no namespace: None."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return None, tag


def _as_parseable(payload: bytes) -> bytes:
    """The payload in an encoding expat reads natively, or XmlError for an unsupported one."""
    match = _DECLARED_ENCODING.match(payload)
    if match is None:
        return payload  # no declaration (UTF-8), or a UTF-16 document with its BOM
    declared = match.group(2).decode("ascii").lower()
    if declared in _NATIVE_ENCODINGS:
        return payload
    if declared not in _GB_ENCODINGS:
        raise XmlError(XmlReason.MALFORMED,
                       f"unsupported encoding {declared!r}; send UTF-8 (or GB18030)")
    if payload.startswith(b"\xef\xbb\xbf"):
        raise XmlError(XmlReason.MALFORMED,
                       f"UTF-8 byte-order mark, but encoding {declared!r} declared")
    start, end = match.span(2)
    try:
        rest = payload[end:].decode("gb18030")
    except UnicodeDecodeError as exc:
        raise XmlError(XmlReason.MALFORMED, f"not valid {declared}: {exc}") from exc
    return payload[:start] + b"UTF-8" + rest.encode("utf-8")
