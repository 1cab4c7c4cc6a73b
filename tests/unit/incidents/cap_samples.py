"""CAP test material shared by the parse, serialise, round-trip and fuzz tests."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta, timezone
from pathlib import Path

import msgspec
import pytest
from hypothesis import strategies as st

from incidents.cap import (
    CAP_NAMESPACE,
    CapAlert,
)
from incidents.cap_xml import MAX_CAP_BYTES, CapError, parse_cap
from incidents.model import MessageId
from incidents.xmlsafe import split_tag

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cap"
RAIN = "cma_rainstorm_red.xml"
RAIN_UPDATE = "cma_rainstorm_red_update.xml"
RAIN_CANCEL = "cma_rainstorm_red_cancel.xml"
EARTHQUAKE = "cenc_earthquake_circle.xml"
FLOOD = "xingtai_flood_control.xml"
EXERCISE = "exercise_chemical_leak_drill.xml"
LINK_TEST = "hebei_link_test.xml"
VALID = [RAIN, RAIN_UPDATE, RAIN_CANCEL, EARTHQUAKE, FLOOD, EXERCISE, LINK_TEST]
CST = timezone(timedelta(hours=8))

# The CAP 1.2 schema's element order (OASIS CAP-v1.2, section 3.4, the XML Schema).
ALERT_ORDER = ["identifier", "sender", "sent", "status", "msgType", "source", "scope",
               "restriction", "addresses", "code", "note", "references", "incidents", "info"]
INFO_ORDER = ["language", "category", "event", "responseType", "urgency", "severity",
              "certainty", "audience", "eventCode", "effective", "onset", "expires",
              "senderName", "headline", "description", "instruction", "web", "contact",
              "parameter", "resource", "area"]
RESOURCE_ORDER = ["resourceDesc", "mimeType", "size", "uri", "derefUri", "digest"]
AREA_ORDER = ["areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"]
PAIR_ORDER = ["valueName", "value"]
ORDERS = {"alert": ALERT_ORDER, "info": INFO_ORDER, "resource": RESOURCE_ORDER,
          "area": AREA_ORDER, "eventCode": PAIR_ORDER, "parameter": PAIR_ORDER,
          "geocode": PAIR_ORDER}
REPEATABLE = {"code", "info", "category", "responseType", "eventCode", "parameter", "resource",
              "area", "polygon", "circle", "geocode"}
CAP_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}")
TIME_ELEMENTS = {"sent", "effective", "onset", "expires"}

XML_CHARS = st.characters(codec="utf-8", exclude_characters="\ufffe\uffff").filter(
    lambda c: c in "\t\n\r" or c >= " ")
"""Characters XML 1.0 can carry."""


def payload_of(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def alert_of(name: str) -> CapAlert:
    return parse_cap(payload_of(name))


def error_of(payload: bytes, max_bytes: int = MAX_CAP_BYTES) -> CapError:
    with pytest.raises(CapError) as caught:
        parse_cap(payload, max_bytes)
    return caught.value


def is_message_id(value: str) -> bool:
    try:
        msgspec.convert(value, MessageId)
    except msgspec.ValidationError:
        return False
    return True


def assert_schema_ordered(document: bytes) -> None:
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(document)
    assert root.tag == f"{{{CAP_NAMESPACE}}}alert"
    for element in root.iter():
        namespace, local = split_tag(element.tag)
        assert namespace == CAP_NAMESPACE
        if local in TIME_ELEMENTS:
            assert element.text is not None and CAP_TIME.fullmatch(element.text), element.text
        order = ORDERS.get(local)
        if order is None:
            assert len(element) == 0, local
            continue
        names = [split_tag(child.tag)[1] for child in element]
        assert all(name in order for name in names), (local, names)
        assert names == sorted(names, key=order.index), (local, names)
        repeated = {name for name in names if names.count(name) > 1}
        assert repeated <= REPEATABLE, (local, repeated)

