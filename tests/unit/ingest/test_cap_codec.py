"""CAP 1.2: agency alerts as fixtures, hostile XML, schema order, fuzzing and round trips."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
)
from incidents.model import Level, MessageId
from ingest.cap_codec import (
    MAX_CAP_BYTES,
    CapError,
    CapReason,
    alert_level,
    cap_id,
    cap_level,
    cap_message_id,
    export_cap,
    parse_cap,
    references_ids,
)
from ingest.xmlsafe import XmlError, XmlReason, parse_xml, split_tag

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


# --- agency alerts ------------------------------------------------------------------------------

def test_rainstorm_red_warning_header() -> None:
    alert = alert_of(RAIN)
    assert alert.identifier == "13050041600000_20250729103000"
    assert alert.sender == "xingtai.qxt@cma.gov.cn"
    assert alert.sent == datetime(2025, 7, 29, 10, 30, tzinfo=CST)
    assert alert.sent.utcoffset() == timedelta(hours=8)
    assert (alert.status, alert.msg_type, alert.scope) == (
        CapStatus.ACTUAL, CapMsgType.ALERT, CapScope.PUBLIC)
    assert alert.is_actual
    assert alert.source == "邢台市气象台 值班预报员"
    assert alert.codes == ("CMA-WARN-1.0",)
    assert alert.references == () and alert.addresses == () and alert.incidents == ()
    assert [info.language for info in alert.infos] == ["zh-CN", "en-US"]
    assert cap_message_id(alert) == "cap:xingtai.qxt@cma.gov.cn:13050041600000_20250729103000"
    assert is_message_id(cap_message_id(alert))


def test_rainstorm_red_warning_in_both_languages() -> None:
    alert = alert_of(RAIN)
    zh, en = alert.infos
    assert (zh.event, en.event) == ("暴雨", "Rainstorm")
    for info in (zh, en):
        assert info.categories == (CapCategory.MET,)
        assert info.response_types == (CapResponseType.PREPARE, CapResponseType.AVOID)
        assert (info.urgency, info.severity, info.certainty) == (
            CapUrgency.IMMEDIATE, CapSeverity.EXTREME, CapCertainty.LIKELY)
        assert info.effective == datetime(2025, 7, 29, 10, 30, tzinfo=CST)
        assert info.onset == datetime(2025, 7, 29, 11, 0, tzinfo=CST)
        assert info.expires == datetime(2025, 7, 30, 10, 30, tzinfo=CST)
        assert info.event_codes[0] == ("CMA_EVENT", "11B03")
        assert cap_level(info) is Level.I
    assert zh.sender_name == "邢台市气象台"
    assert zh.headline == "邢台市气象台发布暴雨红色预警信号"
    assert zh.description is not None and "100毫米以上降水" in zh.description
    assert zh.instruction is not None and zh.instruction.count("\n") == 2
    assert zh.event_codes[1] == ("CMA_SIGNAL", "暴雨红色预警信号")
    assert zh.parameters == (("预警级别", "红色"), ("预计降水量(mm)", "100"))
    assert en.parameters[0] == ("WarningLevel", "Red")
    assert zh.resources == (CapResource(
        resource_desc="暴雨红色预警信号图标", mime_type="image/png", size=5120,
        uri="http://hebei.weather.com.cn/images/signal/rainstorm_red.png",
        digest="2ef7bde608ce5404e97d5f042f95f89f1c232871"),)
    assert en.resources == ()
    assert alert.info_for("zh-CN") is zh
    assert alert.info_for("en") is en
    assert alert.info_for("en-GB") is en
    assert alert.info_for("fr-FR") is zh  # unknown language: Chinese first
    assert alert_level(alert) is Level.I


def test_rainstorm_red_warning_area() -> None:
    area = alert_of(RAIN).infos[0].areas[0]
    assert area.area_desc == "邢台市信都区、任泽区、南和区"
    (ring,) = area.polygons
    assert len(ring) == 7 and ring[0] == ring[-1] == (37.32, 114.21)
    assert ring[2] == (37.21, 114.88)
    assert all(36.9 <= lat <= 37.4 and 114.2 <= lon <= 114.9 for lat, lon in ring)
    assert area.geocodes == (("GB/T 2260", "130503"), ("GB/T 2260", "130505"),
                             ("GB/T 2260", "130506"))
    assert area.circles == () and area.altitude is None and area.ceiling is None
    box = alert_of(RAIN).bbox()
    assert box is not None
    assert (box.south, box.west, box.north, box.east) == (36.91, 114.21, 37.38, 114.88)
    assert alert_of(RAIN).centroid() == pytest.approx((37.145, 114.545))


def test_earthquake_alert_with_a_circle() -> None:
    alert = alert_of(EARTHQUAKE)
    (info,) = alert.infos
    assert info.language == "zh-CN" and info.event == "地震"
    assert info.categories == (CapCategory.GEO,)
    assert info.onset == datetime(2025, 7, 31, 4, 12, 35, tzinfo=CST)
    assert info.parameters == (("magnitude", "4.6"), ("depth_km", "10"))
    (area,) = info.areas
    assert area.circles == (CapCircle(lat=37.05, lon=114.31, radius_km=30.0),)
    assert area.polygons == ()
    assert area.geocodes == (("GB/T 2260", "130503"),)
    assert cap_level(info) is Level.III
    box = alert.bbox()
    assert box is not None
    assert box.north - box.south == pytest.approx(2 * 30 / 111.195, rel=1e-3)
    assert box.east - box.west > box.north - box.south  # a degree of longitude is shorter
    assert alert.centroid() == pytest.approx((37.05, 114.31))
    assert alert.info_for("en-US") is info  # the only info, whatever is asked


def test_flood_control_alert_with_prefixed_namespace() -> None:
    alert = alert_of(FLOOD)
    assert alert.sender == "xtfxb@xingtai.gov.cn"
    assert alert.incidents == ("XT-2025-FX-017", "2025年7月29日 暴雨洪涝")
    (info,) = alert.infos
    assert info.event == "洪水"
    assert info.categories == (CapCategory.MET, CapCategory.SAFETY)
    assert info.response_types == (CapResponseType.EVACUATE, CapResponseType.MONITOR)
    assert info.parameters[0] == ("应急响应级别", "Ⅱ级")
    assert [area.area_desc for area in info.areas] == ["七里河沿岸（信都区、襄都区、南和区）",
                                                       "白马河沿岸（任泽区）"]
    assert info.areas[1].polygons == () and info.areas[1].bbox() is None
    assert info.areas[1].geocodes == (("GB/T 2260", "130505"),)
    assert cap_level(info) is Level.II


def test_update_and_cancel_reference_the_rain_alert() -> None:
    rain, update, cancel = alert_of(RAIN), alert_of(RAIN_UPDATE), alert_of(RAIN_CANCEL)
    assert update.msg_type is CapMsgType.UPDATE and cancel.msg_type is CapMsgType.CANCEL
    assert update.references == (CapReference(sender=rain.sender, identifier=rain.identifier,
                                              sent=rain.sent),)
    assert references_ids(update) == [cap_message_id(rain)]
    assert references_ids(cancel) == [cap_message_id(rain), cap_message_id(update)]
    assert [ref.sent for ref in cancel.references] == [rain.sent, update.sent]
    assert cancel.infos[0].response_types == (CapResponseType.ALL_CLEAR,)
    assert cancel.bbox() is None and cancel.centroid() is None  # geocode only
    assert len({cap_message_id(a) for a in (rain, update, cancel)}) == 3


def test_exercise_is_not_actual() -> None:
    alert = alert_of(EXERCISE)
    assert alert.status is CapStatus.EXERCISE and not alert.is_actual
    assert alert.scope is CapScope.RESTRICTED
    assert alert.restriction == "仅限参演单位，不得向公众发布"
    assert alert.note is not None and alert.note.startswith("演练信息")
    (info,) = alert.infos
    assert info.categories == (CapCategory.CBRNE, CapCategory.SAFETY)
    (area,) = info.areas
    assert area.circles == (CapCircle(lat=37.07, lon=114.6, radius_km=1.0),)
    assert len(area.polygons[0]) == 5
    assert (area.altitude, area.ceiling) == (0.0, 1500.0)


def test_link_test_is_private_with_quoted_addresses_and_no_info() -> None:
    alert = alert_of(LINK_TEST)
    assert alert.status is CapStatus.TEST and not alert.is_actual
    assert alert.scope is CapScope.PRIVATE
    assert alert.addresses == ("xtyjj@xingtai.gov.cn", "邢台市应急指挥中心 值班室")
    assert alert.sent == datetime(2025, 8, 1, tzinfo=UTC)
    assert alert.infos == ()
    assert alert.info_for() is None and alert.centroid() is None and alert_level(alert) is None


def test_identifiers_with_colons_or_odd_characters_get_unambiguous_ids() -> None:
    nws = cap_id("w-nws.webmaster@noaa.gov", "urn:oid:2.49.0.1.840.0.f0b3.001.1")
    assert nws == "cap:w-nws.webmaster@noaa.gov:urn:oid:2.49.0.1.840.0.f0b3.001.1"
    assert cap_id("a:b", "c") != cap_id("a", "b:c")
    for sender, identifier in [("a:b", "c"), ("气象台", "暴雨/1"), ("s", "x" * 200)]:
        hashed = cap_id(sender, identifier)
        assert hashed.startswith("cap-sha256:") and is_message_id(hashed)
    assert cap_id("气象台", "暴雨/1") == cap_id("气象台", "暴雨/1")


@pytest.mark.parametrize(("severity", "level"), [
    (CapSeverity.EXTREME, Level.I), (CapSeverity.SEVERE, Level.II),
    (CapSeverity.MODERATE, Level.III), (CapSeverity.MINOR, Level.IV),
    (CapSeverity.UNKNOWN, Level.IV)])
def test_cap_severity_maps_to_level(severity: CapSeverity, level: Level) -> None:
    info = msgspec.structs.replace(alert_of(RAIN).infos[0], severity=severity)
    assert cap_level(info) is level


def test_alerts_survive_msgspec_json_for_the_store() -> None:
    for name in VALID:
        alert = alert_of(name)
        assert msgspec.json.decode(msgspec.json.encode(alert), type=CapAlert) == alert


# --- hostile and invalid payloads ---------------------------------------------------------------

@pytest.mark.parametrize(("name", "reason", "identifier"), [
    ("hostile_billion_laughs.xml", CapReason.XML_FORBIDDEN, None),
    ("hostile_external_entity.xml", CapReason.XML_FORBIDDEN, None),
    ("hostile_dtd.xml", CapReason.XML_FORBIDDEN, None),
    ("invalid_truncated.xml", CapReason.MALFORMED_XML, None),
    ("invalid_wrong_namespace.xml", CapReason.INVALID_CAP, "13050041600000_20250729103000"),
    ("invalid_missing_identifier.xml", CapReason.INVALID_CAP, None),
    ("invalid_sent_time.xml", CapReason.INVALID_CAP, "13050041600000_20250729103000"),
])
def test_hostile_and_invalid_fixtures_are_refused(name: str, reason: CapReason,
                                                  identifier: str | None) -> None:
    started = time.perf_counter()
    error = error_of(payload_of(name))
    assert time.perf_counter() - started < 0.5
    assert (error.reason, error.identifier) == (reason, identifier)
    assert "lollol" not in error.detail and "root:" not in error.detail  # nothing expanded


def test_details_name_the_element() -> None:
    assert error_of(payload_of("invalid_missing_identifier.xml")).detail.startswith(
        "alert/identifier: ")
    assert error_of(payload_of("invalid_sent_time.xml")).detail.startswith("alert/sent: ")
    wrong = error_of(payload_of("invalid_wrong_namespace.xml"))
    assert CAP_NAMESPACE in wrong.detail and "cap:1.1" in wrong.detail
    assert wrong.message_id == cap_message_id(alert_of(RAIN))


def test_undeclared_entity_is_malformed_not_expanded() -> None:
    payload = payload_of(RAIN).replace(b"<code>CMA-WARN-1.0</code>", b"<code>&x;</code>")
    assert error_of(payload).reason is CapReason.MALFORMED_XML


def test_size_limit() -> None:
    payload = payload_of(RAIN)
    assert error_of(payload, max_bytes=len(payload) - 1).reason is CapReason.TOO_LARGE
    assert parse_cap(payload, max_bytes=len(payload)) == alert_of(RAIN)
    padded = payload.replace(b"</alert>", b"<!--" + b"x" * MAX_CAP_BYTES + b"--></alert>")
    assert error_of(padded).reason is CapReason.TOO_LARGE


def test_deep_nesting_is_refused_quickly() -> None:
    depth = 30_000  # as deep as the default size limit allows
    nested = b"<restriction>" + b"<a>" * depth + b"</a>" * depth + b"</restriction>"
    payload = payload_of(LINK_TEST).replace(b"</alert>", nested + b"</alert>")
    started = time.perf_counter()
    error = error_of(payload)
    assert time.perf_counter() - started < 2.0
    assert error.reason is CapReason.INVALID_CAP and error.detail.startswith("alert/restriction: ")


def without(payload: bytes, element: str) -> bytes:
    """The payload with every <element>…</element> removed."""
    return re.sub(rb"\s*<%s>[^<]*</%s>" % (element.encode(), element.encode()), b"", payload)


@pytest.mark.parametrize("element", ["identifier", "sender", "sent", "status", "msgType",
                                     "scope"])
def test_missing_alert_element(element: str) -> None:
    error = error_of(without(payload_of(RAIN), element))
    assert error.reason is CapReason.INVALID_CAP
    assert error.detail == f"alert/{element}: required element is missing or empty"


@pytest.mark.parametrize("element", ["category", "event", "urgency", "severity", "certainty"])
def test_missing_info_element(element: str) -> None:
    error = error_of(without(payload_of(RAIN), element))
    assert error.reason is CapReason.INVALID_CAP
    assert error.detail == f"alert/info[1]/{element}: required element is missing or empty"
    assert error.identifier == "13050041600000_20250729103000"


@pytest.mark.parametrize(("old", "new", "path"), [
    ("<status>Actual", "<status>actual", "alert/status"),
    ("<msgType>Alert", "<msgType>Notice", "alert/msgType"),
    ("<scope>Public</scope>", "<scope>Private</scope>", "alert/addresses"),
    ("<identifier>13050041600000_", "<identifier>1305 0041600000_", "alert/identifier"),
    ("<sender>xingtai", "<sender>xing,tai", "alert/sender"),
    ("<sent>2025-07-29T10:30:00+08:00", "<sent>2025-07-29T10:30:00", "alert/sent"),
    ("<sent>2025-07-29T10:30:00+08:00", "<sent>2025-02-30T10:30:00+08:00", "alert/sent"),
    ("<sent>2025-07-29T10:30:00+08:00", "<sent>2025-07-29T10:30:00+24:00", "alert/sent"),
    ("<sent>2025-07-29T10:30:00+08:00", "<sent>2025-07-29T10:30:00+08:75", "alert/sent"),
    ("<code>CMA-WARN-1.0</code>", "<code>a</code><code><b/></code>", "alert/code[2]"),
    ("<code>CMA-WARN-1.0</code>", "<coda>x</coda>", "alert/coda"),
    ("<source>", "<note>a</note><note>b</note><source>", "alert/note"),
    ("<certainty>Likely", "<certainty>Very Likely", "alert/info[1]/certainty"),
    ("<language>zh-CN", "<language>zh_CN", "alert/info[1]/language"),
    ("<category>Met", "<category>Weather", "alert/info[1]/category[1]"),
    ("<onset>2025-07-29T11:00:00+08:00", "<onset>soon", "alert/info[1]/onset"),
    ("<size>5120", "<size>-5120", "alert/info[1]/resource[1]/size"),
    ("<mimeType>image/png</mimeType>", "", "alert/info[1]/resource[1]/mimeType"),
    ("<value>11B03</value>", "", "alert/info[1]/eventCode[1]/value"),
    ("<areaDesc>邢台市信都区、任泽区、南和区</areaDesc>", "", "alert/info[1]/area[1]/areaDesc"),
    ("37.08,114.23 37.32,114.21</polygon>", "37.08,114.23</polygon>",
     "alert/info[1]/area[1]/polygon[1]"),
    ("37.32,114.21 37.38,114.55", "97.32,114.21 37.38,114.55", "alert/info[1]/area[1]/polygon[1]"),
    ("37.32,114.21 37.38,114.55", "37.32;114.21 37.38,114.55", "alert/info[1]/area[1]/polygon[1]"),
    ("37.32,114.21 37.38,114.55", "3.7e1,114.21 37.38,114.55", "alert/info[1]/area[1]/polygon[1]"),
    ("</areaDesc>", "</areaDesc><circle>37.05,114.31 -3</circle>",
     "alert/info[1]/area[1]/circle[1]"),
    ("</areaDesc>", "</areaDesc><circle>37.05,114.31</circle>", "alert/info[1]/area[1]/circle[1]"),
    ("</areaDesc>", "</areaDesc><ceiling>100</ceiling>", "alert/info[1]/area[1]/ceiling"),
    ("</areaDesc>", "</areaDesc><altitude>NaN</altitude>", "alert/info[1]/area[1]/altitude"),
    ("<scope>", "<references>a,b</references><scope>", "alert/references"),
    ("<scope>", "<references>a,b,2025-07-29</references><scope>", "alert/references"),
    ("<scope>", "<references>,b,2025-07-29T10:30:00+08:00</references><scope>",
     "alert/references"),
    ("<scope>", '<incidents>"unbalanced</incidents><scope>', "alert/incidents"),
])
def test_invalid_values_are_refused_naming_the_element(old: str, new: str, path: str) -> None:
    payload = payload_of(RAIN).decode("utf-8")
    assert old in payload
    error = error_of(payload.replace(old, new, 1).encode("utf-8"))
    assert error.reason is CapReason.INVALID_CAP, error.detail
    assert error.detail.startswith(f"{path}: "), error.detail
    assert error.identifier == ("13050041600000_20250729103000" if path != "alert/identifier"
                                else "1305 0041600000_20250729103000")


def test_real_world_deviations_are_accepted() -> None:
    base = payload_of(RAIN).decode("utf-8")
    zulu = base.replace("<sent>2025-07-29T10:30:00+08:00", "<sent>2025-07-29T02:30:00.250Z")
    assert parse_cap(zulu.encode()).sent == datetime(2025, 7, 29, 2, 30, tzinfo=UTC)
    reordered = base.replace("<status>Actual</status>", "").replace(
        "<scope>Public</scope>", "<scope>Public</scope><status>Actual</status>")
    assert parse_cap(reordered.encode()) == alert_of(RAIN)
    signed = base.replace("</alert>", '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">'
                                      "<SignedInfo/></Signature></alert>")
    assert parse_cap(signed.encode()) == alert_of(RAIN)
    empty_note = base.replace("<code>", "<note/><code>")
    assert parse_cap(empty_note.encode()).note is None
    no_language = base.replace("<language>en-US</language>", "")
    assert parse_cap(no_language.encode()).infos[1].language == "en-US"


@pytest.mark.parametrize("name", VALID)
def test_gb18030_and_utf16_payloads_parse_like_utf8(name: str) -> None:
    text = payload_of(name).decode("utf-8")
    for encoding in ("GB2312", "GBK", "GB18030"):
        declared = text.replace('encoding="UTF-8"', f'encoding="{encoding}"')
        assert parse_cap(declared.encode("gb18030")) == alert_of(name)
    utf16 = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert parse_cap(utf16) == alert_of(name)


def test_unsupported_encodings_are_malformed() -> None:
    text = payload_of(RAIN).decode("utf-8")
    for encoding in ("Big5", "rot13", "idna", "bogus"):
        payload = text.replace('encoding="UTF-8"', f'encoding="{encoding}"').encode("utf-8")
        assert error_of(payload).reason is CapReason.MALFORMED_XML
    mislabelled = text.replace('encoding="UTF-8"', 'encoding="GBK"').encode("utf-8")[:-40]
    assert error_of(mislabelled + b"\x80").reason is CapReason.MALFORMED_XML


def test_parse_xml_api() -> None:
    root = parse_xml(b'<a xmlns="urn:x"><b>1</b></a>', max_bytes=100)
    assert split_tag(root.tag) == ("urn:x", "a") and split_tag("plain") == (None, "plain")
    with pytest.raises(XmlError) as caught:
        parse_xml(b"<a/>", max_bytes=3)
    assert caught.value.reason == "too_large" and caught.value.reason is XmlReason.TOO_LARGE
    with pytest.raises(XmlError) as caught:
        parse_xml(b"<!DOCTYPE a><a/>", max_bytes=100)
    assert caught.value.reason == "xml_forbidden"
    with pytest.raises(XmlError) as caught:
        parse_xml(b"<a>", max_bytes=100)
    assert caught.value.reason == "malformed_xml"


# --- export: round trip and schema order -------------------------------------------------------

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


@pytest.mark.parametrize("name", VALID)
def test_export_round_trips_every_fixture(name: str) -> None:
    alert = alert_of(name)
    document = export_cap(alert)
    assert parse_cap(document) == alert
    assert export_cap(parse_cap(document)) == document  # offsets and texts kept exactly
    assert_schema_ordered(document)


def test_export_keeps_offsets_and_writes_utc_as_minus_zero() -> None:
    rain = export_cap(alert_of(RAIN)).decode("utf-8")
    assert "<sent>2025-07-29T10:30:00+08:00</sent>" in rain
    link = export_cap(alert_of(LINK_TEST)).decode("utf-8")
    assert "<sent>2025-08-01T00:00:00-00:00</sent>" in link
    assert '<addresses>xtyjj@xingtai.gov.cn "邢台市应急指挥中心 值班室"</addresses>' in link
    late = msgspec.structs.replace(
        alert_of(LINK_TEST),
        sent=datetime(2025, 8, 1, 9, 5, 7, 999999, tzinfo=timezone(-timedelta(hours=3,
                                                                                minutes=30))))
    assert "<sent>2025-08-01T09:05:07-03:30</sent>" in export_cap(late).decode("utf-8")


def test_export_refuses_what_cap_cannot_carry() -> None:
    link = alert_of(LINK_TEST)
    with pytest.raises(ValueError, match="timezone-aware"):
        export_cap(msgspec.structs.replace(link, sent=datetime(2025, 8, 1)))
    with pytest.raises(ValueError, match="XML 1.0"):
        export_cap(msgspec.structs.replace(link, note="bell \x07"))
    with pytest.raises(ValueError, match="address"):
        export_cap(msgspec.structs.replace(link, addresses=('say "hi"',)))


# --- fuzzing -------------------------------------------------------------------------------------

VALID_PAYLOADS = [payload_of(name) for name in VALID]


def assert_cap_or_cap_error(payload: bytes) -> None:
    try:
        alert = parse_cap(payload)
    except CapError as exc:
        assert exc.reason in set(CapReason) and exc.detail
        assert exc.message_id is None or is_message_id(exc.message_id)
        return
    assert is_message_id(cap_message_id(alert))
    assert all(is_message_id(ref) for ref in references_ids(alert))


@st.composite
def spliced(draw: st.DrawFn) -> bytes:
    """A valid alert with a stretch of it replaced by random bytes or XML-ish tokens."""
    base = draw(st.sampled_from(VALID_PAYLOADS))
    start = draw(st.integers(0, len(base)))
    end = draw(st.integers(start, min(len(base), start + 40)))
    filler = draw(st.binary(max_size=12) | st.sampled_from(
        [b"", b"<", b">", b"&", b"&amp;", b"&#0;", b"&#x1F600;", b"<![CDATA[x]]>", b"<!--",
         b"<!DOCTYPE alert>", b"<x/>", b"</info>", b"<info>", b"\xff", b"\xe6\x9a",
         b'xmlns="urn:x"', b"<?pi x?>", b"\x00"]))
    return base[:start] + filler + base[end:]


LEAF = re.compile(r">([^<>]*)</")
TRICKY_VALUES = ["", " ", "Z", "-00:00", "1e5", "NaN", "inf", "-inf", "１２", "90.0000001,0",
                 "0,0 0,0 0,0 0,0", "1,2,3", "a,b,c", '"', '""', "9" * 30, "-0", ".5", "5.",
                 "2025-07-29T10:30:00+23:59", "0000-01-01T00:00:00+00:00", "Unknown", "None"]
XML_CHARS = st.characters(codec="utf-8", exclude_characters="\ufffe\uffff").filter(
    lambda c: c in "\t\n\r" or c >= " ")


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def leaf_replaced(draw: st.DrawFn) -> bytes:
    """A valid alert with the text of one element replaced by a random or tricky value."""
    text = draw(st.sampled_from(VALID_PAYLOADS)).decode("utf-8")
    leaves = list(LEAF.finditer(text))
    leaf = draw(st.sampled_from(leaves))
    value = draw(st.sampled_from(TRICKY_VALUES) | st.text(XML_CHARS, max_size=20))
    return (text[:leaf.start(1)] + xml_escape(value) + text[leaf.end(1):]).encode("utf-8")


@settings(max_examples=700, deadline=None)
@given(payload=st.binary(max_size=400))
def test_parse_never_raises_but_cap_error_on_arbitrary_bytes(payload: bytes) -> None:
    assert_cap_or_cap_error(payload)


@settings(max_examples=700, deadline=None)
@given(payload=spliced())
def test_parse_never_raises_but_cap_error_on_spliced_alerts(payload: bytes) -> None:
    assert_cap_or_cap_error(payload)


@settings(max_examples=700, deadline=None)
@given(payload=leaf_replaced())
def test_parse_never_raises_but_cap_error_on_replaced_values(payload: bytes) -> None:
    assert_cap_or_cap_error(payload)


# --- round trip of generated alerts -------------------------------------------------------------

TEXT = st.text(XML_CHARS, min_size=1, max_size=24).map(lambda s: s.strip(" \t\n\r")).filter(bool)
TOKEN = st.text(XML_CHARS.filter(lambda c: not c.isspace() and c not in ",<&"), min_size=1,
                max_size=24)
NAME = st.text(XML_CHARS.filter(lambda c: c != '"'), min_size=1, max_size=16)
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m)))
TIMES = st.datetimes(timezones=OFFSETS).map(lambda t: t.replace(microsecond=0))
PAIRS = st.lists(st.tuples(TEXT, TEXT), max_size=2).map(tuple)
POINTS = st.tuples(st.floats(-90.0, 90.0), st.floats(-180.0, 180.0))
RINGS = st.lists(POINTS, min_size=3, max_size=6).map(lambda ps: (*ps, ps[0]))
FINITE = st.floats(allow_nan=False, allow_infinity=False)
T = TypeVar("T")


def maybe(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


def tuples_of(strategy: st.SearchStrategy[T], max_size: int = 2) -> st.SearchStrategy[
        tuple[T, ...]]:
    return st.lists(strategy, max_size=max_size).map(tuple)


@st.composite
def areas(draw: st.DrawFn) -> CapArea:
    altitude = draw(maybe(FINITE))
    return CapArea(
        area_desc=draw(TEXT), polygons=draw(tuples_of(RINGS)),
        circles=draw(tuples_of(st.builds(CapCircle, lat=st.floats(-90.0, 90.0),
                                         lon=st.floats(-180.0, 180.0),
                                         radius_km=st.floats(0.0, 1e7)))),
        geocodes=draw(PAIRS), altitude=altitude,
        ceiling=None if altitude is None else draw(maybe(FINITE)))


RESOURCES = st.builds(CapResource, resource_desc=TEXT, mime_type=TEXT,
                      size=maybe(st.integers(0, 10**18 - 1)), uri=maybe(TEXT),
                      deref_uri=maybe(TEXT), digest=maybe(TEXT))
INFOS = st.builds(
    CapInfo,
    language=st.from_regex(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8}){0,2}", fullmatch=True),
    categories=st.lists(st.sampled_from(CapCategory), min_size=1, max_size=3).map(tuple),
    event=TEXT, response_types=tuples_of(st.sampled_from(CapResponseType)),
    urgency=st.sampled_from(CapUrgency), severity=st.sampled_from(CapSeverity),
    certainty=st.sampled_from(CapCertainty), audience=maybe(TEXT), event_codes=PAIRS,
    effective=maybe(TIMES), onset=maybe(TIMES), expires=maybe(TIMES), sender_name=maybe(TEXT),
    headline=maybe(TEXT), description=maybe(TEXT), instruction=maybe(TEXT), web=maybe(TEXT),
    contact=maybe(TEXT), parameters=PAIRS, resources=tuples_of(RESOURCES, 1),
    areas=tuples_of(areas()),
)


@st.composite
def alerts(draw: st.DrawFn) -> CapAlert:
    scope = draw(st.sampled_from(CapScope))
    addresses = draw(tuples_of(NAME, 3))
    if scope is CapScope.PRIVATE and not addresses:
        addresses = ("operator@example.invalid",)
    return CapAlert(
        identifier=draw(TOKEN), sender=draw(TOKEN), sent=draw(TIMES),
        status=draw(st.sampled_from(CapStatus)), msg_type=draw(st.sampled_from(CapMsgType)),
        source=draw(maybe(TEXT)), scope=scope, restriction=draw(maybe(TEXT)),
        addresses=addresses, codes=draw(tuples_of(TEXT)), note=draw(maybe(TEXT)),
        references=draw(tuples_of(st.builds(CapReference, sender=TOKEN, identifier=TOKEN,
                                            sent=TIMES))),
        incidents=draw(tuples_of(NAME)), infos=draw(tuples_of(INFOS)),
    )


@settings(max_examples=300, deadline=None)
@given(alert=alerts())
def test_generated_alerts_round_trip(alert: CapAlert) -> None:
    document = export_cap(alert)
    assert parse_cap(document, max_bytes=len(document)) == alert
    assert export_cap(parse_cap(document)) == document
    assert_schema_ordered(document)
    assert is_message_id(cap_message_id(alert))
