"""Control characters never get past the codecs: JSON, CAP and CoT text fields come out clean,
and a required field left blank by cleaning is a dead letter `empty_text` naming the field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, tostring
from xml.sax.saxutils import escape

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.cap_xml import CapError, CapReason, parse_cap
from incidents.cleantext import FREE_TEXT_FIELDS, clean_free_text, clean_line
from incidents.model import Alarm, DeadLetter, Inbound, Kind, Position, Report
from ingest.codecs import Reason, decode
from ingest.cot_codec import CotError, CotReason, parse_cot
from tests.support.codecs import (
    MAX_BYTES,
    POSITION_TOPIC,
    RECEIVED_AT,
    REPORT_TOPIC,
    SCHEME,
    as_bytes,
    position_dict,
    report_dict,
)

CAP = Path(__file__).resolve().parents[2] / "fixtures" / "cap" / "cma_rainstorm_red.xml"
CAP_TOPIC = SCHEME.feed("weather", Kind.CAP, "cma")
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
LAYOUT_ONLY = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CONTROLS = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.characters(
    min_codepoint=0x7F, max_codepoint=0x9F)
TEXT = st.text(CONTROLS | st.sampled_from("火灾 Fire\u3000，a1"), max_size=40)
"""Text with control characters among ordinary ones (Chinese, spaces, punctuation)."""
XML_CONTROLS = st.sampled_from("\t\n\r\x7f\x80\x85\x9b\x9f")
XML_TEXT = st.text(XML_CONTROLS | st.sampled_from("暴雨 Rain，7"), max_size=40)
"""Text XML 1.0 can carry: of the control characters only tab, LF, CR, DEL and C1."""


def texts(value: object, name: str = "") -> Iterator[tuple[str, str]]:
    """(field name, text) of every string in a decoded message, at any depth."""
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, msgspec.Struct):
        for field in msgspec.structs.fields(value):
            yield from texts(getattr(value, field.name), field.name)
    elif isinstance(value, tuple):
        for item in value:
            yield from texts(item, name)


def assert_clean(message: object) -> None:
    """No text holds a control character; free text holds at most tabs and LFs."""
    found = list(texts(message))
    assert found
    for name, text in found:
        pattern = LAYOUT_ONLY if name in FREE_TEXT_FIELDS else CONTROL
        assert not pattern.search(text), (name, text)


# --- the cleaning itself --------------------------------------------------------------------

def test_a_title_loses_its_controls_and_keeps_its_words_apart() -> None:
    assert clean_line("火灾\x01报告\x7f") == "火灾报告"
    assert clean_line("Unit\t7\r\nEast\x85Gate") == "Unit 7 East Gate"
    assert clean_line("\x9b 北门 \x1b") == "北门"


def test_free_text_keeps_tabs_and_line_breaks_only() -> None:
    assert clean_free_text("第一行\r\n第二行\r第三行\t完\x00\x1b[31m\x9b") == (
        "第一行\n第二行\n第三行\t完[31m")


def test_text_without_controls_is_left_exactly_as_it_was() -> None:
    assert clean_line("  两侧空格  ") == "  两侧空格  "
    assert clean_free_text("  两侧空格  ") == "  两侧空格  "


# --- JSON messages --------------------------------------------------------------------------

@FAST
@given(text=TEXT, reporter=TEXT)
def test_no_decoded_report_text_holds_a_control_character(text: str, reporter: str) -> None:
    payload = as_bytes(report_dict(text=text, reporter=reporter))
    result = decode(SCHEME, REPORT_TOPIC, payload, RECEIVED_AT, MAX_BYTES)
    if isinstance(result, DeadLetter):
        # Only a text that had something visible-looking and lost it all may be refused.
        assert result.reason == Reason.EMPTY_TEXT, result
        assert CONTROL.search(text) and not clean_free_text(text).strip()
        assert "text" in result.detail and result.message_id == "119-20250314-0031"
        return
    assert isinstance(result.message, Report)
    assert_clean(result.message)
    assert result.message.text == clean_free_text(text)


@FAST
@given(callsign=TEXT, group=TEXT, unit_type=TEXT)
def test_no_decoded_position_text_holds_a_control_character(
        callsign: str, group: str, unit_type: str) -> None:
    fields = {"callsign": callsign, "group": group, "unit_type": unit_type[:32]}
    result = decode(SCHEME, POSITION_TOPIC, as_bytes(position_dict(**fields)), RECEIVED_AT,
                    MAX_BYTES)
    assert isinstance(result, Inbound), result  # every one of these fields is optional
    assert isinstance(result.message, Position)
    assert_clean(result.message)
    if callsign and not clean_line(callsign).strip() and CONTROL.search(callsign):
        assert result.message.callsign is None  # emptied optional field: absent


def other_kinds(text: str) -> list[tuple[Kind, dict[str, object]]]:
    """A message of every other JSON kind, each text field holding `text`."""
    head = {"id": "m-1", "ts": "2025-03-14T02:15:07Z"}
    where = {"lat": 37.0, "lon": 114.5}
    return [
        (Kind.OBSERVATION, {**head, **where, "sensor": "aws-1", "quantity": "rainfall",
                            "value": 1.5, "unit": "m" + text[:15], "station": text}),
        (Kind.ALARM, {**head, **where, "device": "smoke-1", "type": "smoke", "text": text}),
        (Kind.STATUS, {**head, "unit": "car-1", "availability": "available", "note": text}),
        (Kind.ACK, {**head, "order": "o-1", "unit": "car-1", "state": "done", "note": text}),
    ]


@FAST
@given(text=TEXT)
def test_no_decoded_text_of_any_other_kind_holds_a_control_character(text: str) -> None:
    for kind, message in other_kinds(text):
        topic = SCHEME.feed("weather", kind, "gw")
        result = decode(SCHEME, topic, as_bytes(message), RECEIVED_AT, MAX_BYTES)
        assert isinstance(result, Inbound), (kind, result)  # the text fields are optional
        assert_clean(result.message)


def test_report_whose_text_is_only_control_characters_is_an_empty_text_dead_letter() -> None:
    payload = as_bytes(report_dict(text="\x01\x02\x1b\x7f"))
    result = decode(SCHEME, REPORT_TOPIC, payload, RECEIVED_AT, MAX_BYTES)
    assert isinstance(result, DeadLetter)
    assert result.reason == "empty_text"
    assert result.detail == "text is empty once its control characters are removed"
    assert result.message_id == "119-20250314-0031"


def test_observation_unit_of_controls_only_is_an_empty_text_dead_letter() -> None:
    payload = as_bytes({"id": "wx-1", "ts": "2025-03-14T02:15:07Z", "sensor": "aws-1",
                        "quantity": "rainfall", "value": 3.5, "unit": "\x85\x9f", "lat": 37.0,
                        "lon": 114.5})
    result = decode(SCHEME, SCHEME.feed("weather", Kind.OBSERVATION, "aws"), payload,
                    RECEIVED_AT, MAX_BYTES)
    assert isinstance(result, DeadLetter)
    assert (result.reason, result.message_id) == ("empty_text", "wx-1")
    assert result.detail.startswith("unit ")


def test_a_blank_text_without_controls_is_still_accepted() -> None:
    result = decode(SCHEME, REPORT_TOPIC, as_bytes(report_dict(text="")), RECEIVED_AT,
                    MAX_BYTES)
    assert isinstance(result, Inbound)


# --- CAP ------------------------------------------------------------------------------------

def cap_with(**elements: str) -> bytes:
    """The rainstorm alert with the text of the first element of each name replaced."""
    document = CAP.read_text(encoding="utf-8")
    for name, text in elements.items():
        escaped = escape(text, {"\r": "&#13;"})
        found = re.search(f"<{name}>[^<]*</{name}>", document)
        assert found is not None, name
        document = (document[:found.start()] + f"<{name}>{escaped}</{name}>"
                    + document[found.end():])
    return document.encode("utf-8")


@FAST
@given(headline=XML_TEXT, description=XML_TEXT, area=XML_TEXT)
def test_no_parsed_cap_text_holds_a_control_character(
        headline: str, description: str, area: str) -> None:
    payload = cap_with(headline=headline, description=description,
                       areaDesc=f"邢台{area}")  # areaDesc is required: keep it non-empty
    alert = parse_cap(payload)
    assert_clean(alert)
    info = alert.infos[0]
    assert info.areas[0].area_desc.startswith("邢台")
    if info.description is not None:
        assert "\r" not in info.description


def test_cap_title_with_c1_and_del_is_stored_clean() -> None:
    alert = parse_cap(cap_with(headline="暴雨\x85红色\x9b预警\x7f",
                               description="第一段\r\n第二段\x80"))
    info = alert.infos[0]
    assert info.headline == "暴雨 红色预警"
    assert info.description == "第一段\n第二段"


def test_cap_event_of_controls_only_is_an_empty_text_error_naming_the_element() -> None:
    with pytest.raises(CapError) as caught:
        parse_cap(cap_with(event="\x85\x9f\x7f"))
    assert caught.value.reason is CapReason.EMPTY_TEXT
    assert "alert/info[1]/event" in caught.value.detail
    assert caught.value.message_id is not None  # the dead letter still names the alert


def test_cap_empty_text_is_a_dead_letter_through_decode() -> None:
    result = decode(SCHEME, CAP_TOPIC, cap_with(event="\x9f"), RECEIVED_AT, 256 * 1024)
    assert isinstance(result, DeadLetter)
    assert result.reason == "empty_text"


# --- CoT ------------------------------------------------------------------------------------

POINT = {"lat": "30.5", "lon": "104.25", "hae": "500.0", "ce": "7.5", "le": "9999999.0"}


def event(cot_type: str = "a-f-G-U-C", *, uid: str = "UNIT-1", point: dict[str, str],
          detail: list[tuple[str, dict[str, str], str | None]] | None = None) -> bytes:
    """A CoT event built with ElementTree, so that any attribute value is escaped."""
    time = "2026-11-26T09:30:00.000Z"
    root = Element("event", {"version": "2.0", "type": cot_type, "how": "m-g", "uid": uid,
                             "time": time, "start": time, "stale": time})
    SubElement(root, "point", point)
    parent = SubElement(root, "detail")
    for tag, attributes, text in detail or []:
        SubElement(parent, tag, attributes).text = text
    document: bytes = tostring(root, encoding="utf-8")
    return document


@FAST
@given(callsign=XML_TEXT, group=XML_TEXT)
def test_no_cot_position_text_holds_a_control_character(callsign: str, group: str) -> None:
    position = parse_cot(event(point=POINT, detail=[("contact", {"callsign": callsign}, None),
                                                     ("__group", {"name": group}, None)]))
    assert isinstance(position, Position)
    assert_clean(position)


def test_cot_emergency_text_keeps_its_line_break_and_loses_c1() -> None:
    alarm = parse_cot(event("b-a-o-tbl", point=POINT,
                            detail=[("emergency", {"type": "911 Alert"}, "JOKER\n\x85被困\x9b")]))
    assert isinstance(alarm, Alarm)
    assert alarm.text == "911 Alert: JOKER\n被困"


def test_cot_uid_of_controls_only_is_empty_text() -> None:
    with pytest.raises(CotError) as caught:
        parse_cot(event(uid="\x85\x9f", point=POINT))
    assert caught.value.reason == CotReason.EMPTY_TEXT
    assert "uid" in caught.value.detail


def test_cot_uid_with_a_control_is_the_same_unit_as_without() -> None:
    with_control = parse_cot(event(uid="UNIT-1\x85", point=POINT))
    plain = parse_cot(event(uid="UNIT-1", point=POINT))
    assert isinstance(with_control, Position) and isinstance(plain, Position)
    assert (with_control.unit, with_control.id) == (plain.unit, plain.id)
