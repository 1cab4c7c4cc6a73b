"""Decoding CoT events as TAK clients emit them: captured events, errors, fuzzing, round trip."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, tostring

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_outcome
from hypothesis import strategies as st

from incidents.model import Alarm, AlarmState, Position
from ingest.cot_codec import (
    MAX_EVENT_BYTES,
    CotError,
    CotReason,
    format_time,
    message_id_for,
    parse_cot,
    parse_time,
    serialize_pong,
    serialize_position,
    unit_id_for,
)

COT = Path(__file__).resolve().parents[2] / "fixtures" / "cot"
FIXTURES = sorted(p.name for p in COT.glob("*.xml"))
UNIT_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}\Z")
MESSAGE_ID = re.compile(r"^[A-Za-z0-9._:@\-]{1,128}\Z")
ATAK_UID = "ANDROID-8c1e0f2b7a4d9e36"
FUZZ = settings(max_examples=2000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def fixture(name: str) -> bytes:
    return (COT / name).read_bytes()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(cot_type: str = "a-f-G-U-C", *, uid: str | None = "UNIT-1",
          time: str | None = "2026-11-26T09:30:00.000Z",
          point: dict[str, str] | None = None,
          detail: Sequence[tuple[str, dict[str, str], str | None]] = ()) -> bytes:
    """A CoT event built with ElementTree, so that any attribute value is escaped."""
    attrs = {"version": "2.0", "type": cot_type, "how": "m-g"}
    if uid is not None:
        attrs["uid"] = uid
    if time is not None:
        attrs.update(time=time, start=time, stale=time)
    root = Element("event", attrs)
    if point is not None:
        SubElement(root, "point", point)
    if detail:
        parent = SubElement(root, "detail")
        for tag, tag_attrs, text in detail:
            SubElement(parent, tag, tag_attrs).text = text
    document: bytes = tostring(root, encoding="utf-8")
    return document


POINT = {"lat": "30.5", "lon": "104.25", "hae": "500.0", "ce": "7.5", "le": "9999999.0"}


def reason_of(payload: bytes) -> CotError:
    with pytest.raises(CotError) as caught:
        parse_cot(payload)
    return caught.value


# --- captured events -----------------------------------------------------------------

EXPECTED_POSITIONS = {
    "atak_position.xml": Position(
        id=f"cot:{ATAK_UID}:1795685400512", ts=utc("2026-11-26T09:30:00.512"),
        unit=ATAK_UID, lat=30.6574812, lon=104.0659221, speed=8.42, heading=274.53018,
        accuracy=4.9, unit_type="cot:a-f-G-U-C", callsign="FIRE E12", group="Cyan"),
    "wintak_position.xml": Position(
        id="cot:S-1-5-21-2720623347-3037847324-4167270909-1002:1795685472470",
        ts=utc("2026-11-26T09:31:12.470"),
        unit="S-1-5-21-2720623347-3037847324-4167270909-1002", lat=30.6712, lon=104.0431,
        speed=0.0, heading=0.0, accuracy=None, unit_type="cot:a-f-G-U-C-I",
        callsign="COMMAND POST 1", group="Dark Blue"),
    "itak_position.xml": Position(
        id="cot:8EC57F43-7765-433B-B050-2CBC6372CC89:1795685525000",
        ts=utc("2026-11-26T09:32:05"), unit="8EC57F43-7765-433B-B050-2CBC6372CC89",
        lat=30.642219, lon=104.081734, speed=None, heading=None, accuracy=12.3,
        unit_type="cot:a-f-G-E-V-C", callsign="Echo Mike", group="Yellow"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_POSITIONS))
def test_positions_from_atak_wintak_and_itak(name: str) -> None:
    assert parse_cot(fixture(name)) == EXPECTED_POSITIONS[name]


def test_911_alert_is_an_active_emergency_of_the_originating_unit() -> None:
    assert parse_cot(fixture("atak_911_alert.xml")) == Alarm(
        id=f"cot:{ATAK_UID}-9-1-1:1795686021338", ts=utc("2026-11-26T09:40:21.338"),
        device=ATAK_UID, type="emergency", state=AlarmState.ACTIVE,
        lat=30.6581102, lon=104.0662907, text="911 Alert: FIRE E12")


def test_911_cancel_clears_the_same_device() -> None:
    alert = parse_cot(fixture("atak_911_alert.xml"))
    cancel = parse_cot(fixture("atak_911_cancel.xml"))
    position = parse_cot(fixture("atak_position.xml"))
    assert isinstance(alert, Alarm) and isinstance(cancel, Alarm)
    assert isinstance(position, Position)
    assert cancel.state is AlarmState.CLEARED
    assert cancel.device == alert.device == position.unit
    assert cancel.id != alert.id
    assert cancel.ts == utc("2026-11-26T09:47:02.915")


@pytest.mark.parametrize("name", FIXTURES)
def test_ids_are_stable_across_reparsing(name: str) -> None:
    first = _outcome(fixture(name))
    second = _outcome(fixture(name))
    assert first == second
    if isinstance(first, (Position, Alarm)):
        assert MESSAGE_ID.match(first.id)


def _outcome(payload: bytes) -> Position | Alarm | tuple[str, str | None]:
    try:
        return parse_cot(payload)
    except CotError as exc:
        return exc.reason, exc.message_id


ERRORS = {
    "atak_chat_b-t-f.xml": CotReason.UNSUPPORTED_COT,
    "atak_ping.xml": CotReason.UNSUPPORTED_COT,
    "hostile_billion_laughs.xml": CotReason.XML_FORBIDDEN,
    "hostile_external_entity.xml": CotReason.XML_FORBIDDEN,
    "bad_missing_point.xml": CotReason.INVALID_COT,
    "bad_lat_95.xml": CotReason.INVALID_COT,
    "bad_time.xml": CotReason.INVALID_COT,
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_rejected_fixtures_have_the_right_reason(name: str) -> None:
    assert reason_of(fixture(name)).reason == ERRORS[name]


def test_every_fixture_is_covered() -> None:
    assert set(FIXTURES) == set(EXPECTED_POSITIONS) | set(ERRORS) | {
        "atak_911_alert.xml", "atak_911_cancel.xml"}


def test_errors_name_the_message_when_uid_and_time_are_readable() -> None:
    assert reason_of(fixture("bad_lat_95.xml")).message_id == f"cot:{ATAK_UID}:1795685460512"
    assert reason_of(fixture("bad_missing_point.xml")).message_id is not None
    assert reason_of(fixture("bad_time.xml")).message_id is None
    assert reason_of(fixture("hostile_external_entity.xml")).message_id is None


def test_unsupported_events_carry_their_type_and_a_sanitized_id() -> None:
    chat = reason_of(fixture("atak_chat_b-t-f.xml"))
    assert chat.cot_type == "b-t-f"
    assert chat.message_id is not None and MESSAGE_ID.match(chat.message_id)
    assert reason_of(fixture("atak_ping.xml")).cot_type == "t-x-c-t"


# --- emergencies -----------------------------------------------------------------------

@pytest.mark.parametrize("cot_type", ["b-a-o-tbl", "b-a-o-pan", "b-a-o-opn", "b-a-g"])
def test_emergency_types_raise_an_active_alarm(cot_type: str) -> None:
    alarm = parse_cot(event(cot_type, uid="X-9-1-1", point=POINT))
    assert isinstance(alarm, Alarm)
    assert (alarm.type, alarm.state, alarm.device) == ("emergency", AlarmState.ACTIVE, "X")


def test_emergency_with_cancel_true_clears() -> None:
    alarm = parse_cot(event("b-a-o-tbl", point=POINT,
                            detail=[("emergency", {"cancel": "true"}, "JOKER")]))
    assert isinstance(alarm, Alarm) and alarm.state is AlarmState.CLEARED


@pytest.mark.parametrize(("uid", "detail", "device"), [
    ("A-9-1-1", [("link", {"uid": "PARENT 1", "relation": "p-p"}, None)],
     unit_id_for("PARENT 1")),
    ("A-9-1-1", [("link", {"uid": "OTHER", "relation": "p-c"}, None)], "A"),
    ("ALERT-UID", [("emergency", {"type": "911 Alert"}, "JOKER")], "JOKER"),
    ("ALERT-UID", [("emergency", {"type": "911 Alert", "callsign": "ACE"}, "x")], "ACE"),
    ("ALERT-UID", [], "ALERT-UID"),
])
def test_emergency_device_is_the_originating_unit(
        uid: str, detail: list[tuple[str, dict[str, str], str | None]], device: str) -> None:
    alarm = parse_cot(event("b-a-o-tbl", uid=uid, point=POINT, detail=detail))
    assert isinstance(alarm, Alarm) and alarm.device == device


# --- positions ------------------------------------------------------------------------

@pytest.mark.parametrize(("track", "speed", "heading"), [
    ({"speed": "12.5", "course": "359.5"}, 12.5, 359.5),
    ({"speed": "-1.0", "course": "-1.0"}, None, None),
    ({"speed": "0", "course": "360"}, 0.0, 0.0),
    ({"speed": "900", "course": "nan"}, None, None),
    ({"speed": "fast", "course": "north"}, None, None),
    ({}, None, None),
])
def test_track_values_outside_the_model_are_unknown(
        track: dict[str, str], speed: float | None, heading: float | None) -> None:
    position = parse_cot(event(point=POINT, detail=[("track", track, None)]))
    assert isinstance(position, Position)
    assert (position.speed, position.heading) == (speed, heading)


@pytest.mark.parametrize(("ce", "accuracy"), [
    ("9999999.0", None), ("999999", None), ("-3", None), ("inf", None), ("4.5", 4.5),
])
def test_circular_error_is_the_accuracy_unless_unknown(ce: str, accuracy: float | None) -> None:
    position = parse_cot(event(point={**POINT, "ce": ce}))
    assert isinstance(position, Position) and position.accuracy == accuracy


def test_minimal_atom_has_only_the_required_fields() -> None:
    position = parse_cot(event("a-h-G", point={"lat": "1", "lon": "2"}))
    assert position == Position(id="cot:UNIT-1:1795685400000", ts=utc("2026-11-26T09:30:00"),
                                unit="UNIT-1", lat=1.0, lon=2.0, unit_type="cot:a-h-G")


def test_long_types_are_cut_at_a_dash_to_fit_the_unit_type() -> None:
    position = parse_cot(event("a-f-G-U-C-F-T-A-C-A-R-E-E-E-E-E-E", point=POINT))
    assert isinstance(position, Position)
    assert position.unit_type == "cot:a-f-G-U-C-F-T-A-C-A-R-E-E-E"


def test_callsign_and_group_are_trimmed_to_fit() -> None:
    position = parse_cot(event(point=POINT, detail=[
        ("contact", {"callsign": "  " + "C" * 100}, None),
        ("__group", {"name": "   ", "role": "HQ"}, None)]))
    assert isinstance(position, Position)
    assert position.callsign == "C" * 64 and position.group is None


@pytest.mark.parametrize(("payload", "reason"), [
    (b"<events/>", CotReason.INVALID_COT),
    (b"<{urn:x}event/>", CotReason.MALFORMED_XML),
    (b'<e:event xmlns:e="urn:x"/>', CotReason.INVALID_COT),
    (b"not xml at all", CotReason.MALFORMED_XML),
    (b"", CotReason.MALFORMED_XML),
    (b"\xff\xfe<\x00", CotReason.MALFORMED_XML),
    (event(uid=None, point=POINT), CotReason.INVALID_COT),
    (event(uid="   ", point=POINT), CotReason.INVALID_COT),
    (event(time=None, point=POINT), CotReason.INVALID_COT),
    (event("", point=POINT), CotReason.INVALID_COT),
    (event("a f G", point=POINT), CotReason.INVALID_COT),
    (event(point={"lat": "30"}), CotReason.INVALID_COT),
    (event(point={"lat": "thirty", "lon": "104"}), CotReason.INVALID_COT),
    (event(point={"lat": "nan", "lon": "104"}), CotReason.INVALID_COT),
    (event(point={"lat": "30", "lon": "-181"}), CotReason.INVALID_COT),
    (event("b-a-o-tbl"), CotReason.INVALID_COT),
    (event("u-d-f", point=POINT), CotReason.UNSUPPORTED_COT),
    (event("t-x-d-d", point=POINT), CotReason.UNSUPPORTED_COT),
    (b"<event>" + b" " * MAX_EVENT_BYTES + b"</event>", CotReason.TOO_LARGE),
])
def test_malformed_events_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    assert reason_of(payload).reason == reason


def test_max_bytes_is_the_callers() -> None:
    assert reason_of_limit(fixture("atak_position.xml"), 100) == CotReason.TOO_LARGE


def reason_of_limit(payload: bytes, max_bytes: int) -> str:
    with pytest.raises(CotError) as caught:
        parse_cot(payload, max_bytes)
    return caught.value.reason


# --- uids and ids ---------------------------------------------------------------------

@pytest.mark.parametrize("uid", [ATAK_UID, "S-1-5-21-1-2-3-1002", "8EC57F43-7765-433B",
                                 "a.b_c-d", "X" * 64])
def test_uids_that_fit_are_kept(uid: str) -> None:
    assert unit_id_for(uid) == uid


@pytest.mark.parametrize("uid", ["GeoChat.X.All Chat Rooms.1", "urn:uuid:1234", "消防一队",
                                 "X" * 65, "a/b", "line\nbreak", " lead"])
def test_uids_that_do_not_fit_are_cleaned_and_hashed(uid: str) -> None:
    unit = unit_id_for(uid)
    assert UNIT_ID.match(unit), unit
    assert unit != uid
    assert unit == unit_id_for(uid)


def test_distinct_uids_that_clean_alike_stay_distinct() -> None:
    assert unit_id_for("a b") != unit_id_for("a/b") != unit_id_for("a-b")
    assert unit_id_for("X" * 64 + "1") != unit_id_for("X" * 64 + "2")


@given(st.text(min_size=1, max_size=300))
@settings(max_examples=500, deadline=None)
def test_any_uid_becomes_a_valid_unit_id(uid: str) -> None:
    unit = unit_id_for(uid)
    assert UNIT_ID.match(unit)
    assert MESSAGE_ID.match(message_id_for(uid, datetime(2026, 1, 1, tzinfo=UTC)))


def test_message_id_counts_milliseconds_since_the_epoch() -> None:
    assert message_id_for("U", utc("1970-01-01T00:00:01.234")) == "cot:U:1234"
    assert message_id_for("U", utc("1969-12-31T23:59:59.999")) == "cot:U:-1"


# --- times ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-26T09:30:00.000Z", utc("2026-11-26T09:30:00")),
    ("2026-11-26T09:30:00Z", utc("2026-11-26T09:30:00")),
    ("2026-11-26T09:30:00.47Z", utc("2026-11-26T09:30:00.470")),
    ("2026-11-26T09:30:00.1234567Z", utc("2026-11-26T09:30:00.123456")),
    ("2026-11-26T17:30:00.000+08:00", utc("2026-11-26T09:30:00")),
])
def test_cot_times(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", [
    "2026-11-26T09:30:00", "2026-11-26 09:30:00Z", "2026-13-01T00:00:00Z",
    "2026-11-26T09:30:00+24:00", "0000-01-01T00:00:00Z", "２０２６-11-26T09:30:00Z",
    "2026-11-26T09:30:00.Z", "2026-11-26T09:30:00Z\n",
])
def test_not_cot_times(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_format_time_is_utc_with_milliseconds() -> None:
    moment = datetime(2026, 11, 26, 17, 30, 0, 512999, tzinfo=timezone(timedelta(hours=8)))
    assert format_time(moment) == "2026-11-26T09:30:00.512Z"


# --- fuzzing --------------------------------------------------------------------------

def _must_decode_or_refuse(payload: bytes) -> None:
    try:
        message = parse_cot(payload)
    except CotError as exc:
        assert exc.reason in set(CotReason)
        note_outcome(exc.reason)
        return
    note_outcome(type(message).__name__)
    msgspec.convert(msgspec.to_builtins(message), type(message))  # and it is valid


@given(st.binary(max_size=2048))
@FUZZ
def test_arbitrary_bytes_only_raise_cot_error(payload: bytes) -> None:
    _must_decode_or_refuse(payload)


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> bytes:
    data = bytearray(fixture(draw(st.sampled_from(FIXTURES))))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["digit", "digit", "digit", "flip", "insert",
                                          "delete", "truncate", "dup"]))
        digits = [i for i, byte in enumerate(data) if 0x30 <= byte <= 0x39]
        if operation == "digit" and digits:
            data[draw(st.sampled_from(digits))] = draw(st.sampled_from(b"0123456789-.e"))
        elif operation == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[at:at] = draw(st.sampled_from(
                [b"<", b">", b"&", b'"', b"'", b"&amp;", b"<!DOCTYPE x>", b"\x00", b"\xc3",
                 b"-9-1-1", b"9999999.0", b"</event>", b"<event>", b"nan", b"-1"]))
        elif operation == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif operation == "truncate":
            del data[at:]
        elif operation == "dup":
            data[at:at] = data[max(0, at - 32):at]
    return bytes(data)


@given(mutated_fixtures())
@FUZZ
def test_mutated_fixtures_only_raise_cot_error(payload: bytes) -> None:
    _must_decode_or_refuse(payload)


_ATTRIBUTE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["9999999.0", "-1", "0", "360", "1e309", "-0.0", "NaN", "95", "-181",
                     "2026-11-26T09:30:00.000Z", "9999-12-31T23:59:59.999Z",
                     "0001-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "a-f-G-U-C", "b-a-o-tbl",
                     "b-a-o-can", "p-p", "true"]),
    st.floats().map(repr),
)


_TIME_TEXT = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                         timezones=st.just(UTC)).map(format_time)


@given(cot_type=st.sampled_from(["a-f-G-U-C", "a-h-G", "b-a-o-tbl", "b-a-o-can", "b-a-g",
                                 "b-t-f", "a-" + "x-" * 20 + "y"]),
       uid=st.one_of(st.just(ATAK_UID), st.text(min_size=1, max_size=80), st.none(), _ATTRIBUTE),
       time=st.one_of(_TIME_TEXT, st.none(), _ATTRIBUTE),
       lat=st.one_of(st.floats(-90, 90).map(repr), _ATTRIBUTE),
       lon=st.one_of(st.floats(-180, 180).map(repr), _ATTRIBUTE),
       ce=_ATTRIBUTE, speed=_ATTRIBUTE, course=_ATTRIBUTE, callsign=_ATTRIBUTE,
       link=_ATTRIBUTE, text=st.one_of(st.none(), st.text(max_size=40)))
@FUZZ
def test_odd_attribute_values_only_raise_cot_error(
        cot_type: str, uid: str | None, time: str | None, lat: str, lon: str, ce: str,
        speed: str, course: str, callsign: str, link: str, text: str | None) -> None:
    def clean(value: str) -> str:
        return re.sub("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", "", value)

    payload = event(cot_type, uid=None if uid is None else clean(uid),
                    time=None if time is None else clean(time),
                    point={"lat": clean(lat), "lon": clean(lon), "ce": clean(ce)},
                    detail=[("track", {"speed": clean(speed), "course": clean(course)}, None),
                            ("contact", {"callsign": clean(callsign)}, None),
                            ("link", {"uid": clean(link), "relation": "p-p"}, None),
                            ("emergency", {"type": "911 Alert"},
                             None if text is None else clean(text))])
    _must_decode_or_refuse(payload)


# --- serializing ----------------------------------------------------------------------

_XML_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn", "Zs",
                                                                      "Zl", "Zp")),
                    min_size=1, max_size=64)


@st.composite
def positions(draw: st.DrawFn) -> Position:
    offset = timezone(timedelta(minutes=draw(st.integers(-1439, 1439))))
    ts = draw(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1),
                           timezones=st.just(offset)))
    unit = draw(st.from_regex(r"[A-Za-z0-9._\-]{1,64}", fullmatch=True))
    return Position(
        id=draw(st.from_regex(r"[A-Za-z0-9._:@\-]{1,128}", fullmatch=True)), ts=ts, unit=unit,
        lat=draw(st.floats(-90, 90)), lon=draw(st.floats(-180, 180)),
        speed=draw(st.none() | st.floats(0, 500)),
        heading=draw(st.none() | st.floats(0, 360, exclude_max=True)),
        accuracy=draw(st.none() | st.floats(0, 999998)),
        unit_type=draw(st.sampled_from([None, "fire_engine", "cot:a-f-G-U-C-I",
                                        "cot:a-n-G-E-V-A-L"])),
        callsign=draw(st.none() | _XML_TEXT), group=draw(st.none() | _XML_TEXT))


@given(positions())
@settings(max_examples=500, deadline=None)
def test_serialize_position_round_trips(position: Position) -> None:
    parsed = parse_cot(serialize_position(position))
    assert isinstance(parsed, Position)
    ts = position.ts.astimezone(UTC)
    ts = ts.replace(microsecond=ts.microsecond // 1000 * 1000)
    expected_type = (position.unit_type if position.unit_type and
                     position.unit_type.startswith("cot:") else "cot:a-f-G-U-C")
    assert parsed == Position(
        id=message_id_for(position.unit, ts), ts=ts, unit=position.unit, lat=position.lat,
        lon=position.lon, speed=position.speed, heading=position.heading,
        accuracy=position.accuracy, unit_type=expected_type,
        callsign=position.callsign or position.unit, group=position.group)


def test_serialized_position_is_a_tak_event() -> None:
    position = EXPECTED_POSITIONS["atak_position.xml"]
    document = serialize_position(position, stale_after=timedelta(minutes=5))
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<event ")
    assert b'stale="2026-11-26T09:35:00.512Z"' in document
    assert b'<__group name="Cyan" role="Team Member" />' in document
    assert parse_cot(document) == position


def test_serialize_drops_characters_xml_cannot_carry() -> None:
    position = msgspec.structs.replace(EXPECTED_POSITIONS["itak_position.xml"],
                                       callsign="Echo\x00Mike\x1b", group="\ufffeYellow")
    parsed = parse_cot(serialize_position(position))
    assert isinstance(parsed, Position)
    assert (parsed.callsign, parsed.group) == ("EchoMike", "Yellow")


def test_pong_answers_a_ping() -> None:
    pong = serialize_pong(utc("2026-11-26T09:33:00.004"))
    with pytest.raises(CotError) as caught:
        parse_cot(pong)
    assert caught.value.cot_type == "t-x-c-t-r"
    assert b'stale="2026-11-26T09:33:20.004Z"' in pong
