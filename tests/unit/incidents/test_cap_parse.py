"""CAP 1.2 parsing: agency alerts as fixtures, ids and levels, hostile and invalid XML."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from incidents.cap import (
    CAP_NAMESPACE,
    CapAlert,
    CapCategory,
    CapCertainty,
    CapCircle,
    CapMsgType,
    CapReference,
    CapResource,
    CapResponseType,
    CapScope,
    CapSeverity,
    CapStatus,
    CapUrgency,
    alert_level,
    cap_id,
    cap_level,
    cap_message_id,
    references_ids,
)
from incidents.cap_xml import MAX_CAP_BYTES, CapReason, parse_cap
from incidents.model import Level
from incidents.xmlsafe import XmlError, XmlReason, parse_xml, split_tag
from tests.unit.incidents.cap_samples import (
    CST,
    EARTHQUAKE,
    EXERCISE,
    FLOOD,
    LINK_TEST,
    RAIN,
    RAIN_CANCEL,
    RAIN_UPDATE,
    VALID,
    alert_of,
    error_of,
    is_message_id,
    payload_of,
)

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
