"""Typed messages and domain records that every package speaks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

import msgspec

from incidents.cap import CapAlertMessage
from incidents.lang import Bilingual, Lang, checked, pick

# The scalar types and the level live below both this module and incidents.cap (which CAP
# alerts need), so that the two do not import each other; every caller takes them from here.
from incidents.primitives import Latitude as Latitude
from incidents.primitives import Level as Level
from incidents.primitives import Longitude as Longitude
from incidents.primitives import Timestamp as Timestamp

MessageId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:@\-]+\Z",
        description="Publisher-assigned unique id; the store ignores an id it already has",
    ),
]
UnitId = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+\Z",
                 description="Call sign of the field unit"),
]
ShortText = Annotated[str, msgspec.Meta(max_length=4000)]


LOCAL_TZ = ZoneInfo("Asia/Shanghai")
"""The command centre's clock (Beijing time): days, night and times shown to people."""


class Kind(StrEnum):
    """Message kinds, the second topic segment after the agency."""

    POSITION = "position"
    OBSERVATION = "observation"
    ALARM = "alarm"
    REPORT = "report"
    STATUS = "status"
    ACK = "ack"
    CAP = "cap"
    COT = "cot"

    def label(self, lang: Lang) -> str:
        """Name of the message kind for people."""
        return pick(_KIND_LABELS[self], lang)


_KIND_LABELS: Mapping[Kind, Bilingual] = checked({
    Kind.POSITION: ("位置", "Position"), Kind.OBSERVATION: ("监测数据", "Observation"),
    Kind.ALARM: ("告警", "Alarm"), Kind.REPORT: ("事件报告", "Report"),
    Kind.STATUS: ("力量状态", "Unit status"), Kind.ACK: ("指令反馈", "Order update"),
    Kind.CAP: ("预警信息", "CAP alert"), Kind.COT: ("CoT 消息", "CoT message"),
}, Kind)


class CoordSystem(StrEnum):
    """Coordinate system a feed's latitude and longitude are in; stored data is WGS-84."""

    WGS84 = "wgs84"
    """GPS / BeiDou receivers, international data."""
    GCJ02 = "gcj02"
    """China's obfuscated datum (AMap, Tencent and most Chinese map apps)."""
    BD09 = "bd09"
    """Baidu Maps."""

    def label(self, lang: Lang) -> str:
        """Name of the coordinate system for people."""
        return pick(_CRS_LABELS[self], lang)


_CRS_LABELS: Mapping[CoordSystem, Bilingual] = checked({
    CoordSystem.WGS84: ("WGS-84（GPS/北斗）", "WGS-84 (GPS/BeiDou)"),
    CoordSystem.GCJ02: ("GCJ-02（国测局坐标）", "GCJ-02 (Chinese map datum)"),
    CoordSystem.BD09: ("BD-09（百度坐标）", "BD-09 (Baidu)"),
}, CoordSystem)




class IncidentStatus(StrEnum):
    """Life-cycle state of an incident."""

    REPORTED = "reported"
    VERIFIED = "verified"
    RESPONDING = "responding"
    CONTAINED = "contained"
    CLOSED = "closed"

    def label(self, lang: Lang) -> str:
        """Name of the status for people (已结案 is the command centre's word for closed)."""
        return pick(_STATUS_LABELS[self], lang)


_STATUS_LABELS: Mapping[IncidentStatus, Bilingual] = checked({
    IncidentStatus.REPORTED: ("接报", "Reported"),
    IncidentStatus.VERIFIED: ("已核实", "Verified"),
    IncidentStatus.RESPONDING: ("处置中", "Responding"),
    IncidentStatus.CONTAINED: ("已控制", "Contained"),
    IncidentStatus.CLOSED: ("已结案", "Closed"),
}, IncidentStatus)


class Position(
    msgspec.Struct, frozen=True, kw_only=True, gc=False  # acyclic: no GC tracking needed
):
    """A field unit's position fix (kind `position`)."""

    id: MessageId
    """Unique message id."""
    ts: Timestamp
    """When the fix was taken."""
    unit: UnitId
    """The unit that moved."""
    lat: Latitude
    """Latitude, WGS-84."""
    lon: Longitude
    """Longitude, WGS-84."""
    crs: CoordSystem | None = None
    """Coordinate system of lat/lon when not WGS-84; ingest converts and stores WGS-84."""
    speed: Annotated[float, msgspec.Meta(ge=0, le=500)] | None = None
    """Ground speed in m/s, if known."""
    heading: Annotated[float, msgspec.Meta(ge=0, lt=360)] | None = None
    """Course over ground in degrees from true north, if known."""
    accuracy: Annotated[float, msgspec.Meta(ge=0)] | None = None
    """Horizontal accuracy in metres, if known."""
    unit_type: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    """Kind of unit: patrol_car, fire_engine, ambulance … (free text, optional)."""
    callsign: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    """Display name when it differs from the unit id (CoT callsigns may contain spaces)."""
    group: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    """Team or group the unit belongs to (CoT `__group`), if known."""


MAX_CASUALTIES = 1_000_000
"""Largest casualty figure a report may carry: above it the figure is a typo or an attack."""
Casualty = Annotated[int, msgspec.Meta(ge=0, le=MAX_CASUALTIES)]
"""A number of people in a casualty figure."""


class ReportCasualties(
    msgspec.Struct, frozen=True, kw_only=True, gc=False, forbid_unknown_fields=True  # acyclic
):
    """Casualty figures a report carries, as counted at the report's time; None: not said."""

    deaths: Casualty | None = None
    """People killed (死亡)."""
    injured: Casualty | None = None
    """People injured (受伤)."""
    missing: Casualty | None = None
    """People missing (失踪)."""
    trapped: Casualty | None = None
    """People trapped (被困)."""


CASUALTY_FIELDS = ("deaths", "injured", "missing", "trapped")
"""The figures of `ReportCasualties`, in the order reports print them."""


class Report(
    msgspec.Struct, frozen=True, kw_only=True, gc=False  # acyclic: no GC tracking needed
):
    """A human report of something happening, such as a 110/119/120 call (kind `report`)."""

    id: MessageId
    """Unique message id."""
    ts: Timestamp
    """When the report was made."""
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+\Z")]
    """Event type, e.g. fire, traffic_accident, chemical_leak, flood."""
    lat: Latitude
    """Latitude of the reported place, WGS-84."""
    lon: Longitude
    """Longitude of the reported place, WGS-84."""
    crs: CoordSystem | None = None
    """Coordinate system of lat/lon when not WGS-84; ingest converts and stores WGS-84."""
    text: ShortText
    """What the reporter said."""
    level: Level | None = None
    """The reporter's estimate of the level, if any."""
    reporter: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    """Who reported (call sign, operator or phone line), if known."""
    casualties: ReportCasualties | None = None
    """Casualty figures as the reporter knows them now, if any; a later report of the same
    source replaces its earlier figures (they are not added up)."""


Code = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+\Z")]
"""A lower-case snake_case code, such as a quantity or an alarm type."""


class Observation(
    msgspec.Struct, frozen=True, kw_only=True, gc=False  # acyclic: no GC tracking needed
):
    """A sensor reading (kind `observation`): water level, rainfall, wind, gas …"""

    id: MessageId
    """Unique message id."""
    ts: Timestamp
    """When the value was measured."""
    sensor: UnitId
    """The sensor or station id, unique within the agency."""
    quantity: Code
    """What was measured: water_level, rainfall, wind_speed, temperature, gas_concentration …"""
    value: float
    """The measured value, in `unit`."""
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
    """Unit of the value: m, mm, mm/h, m/s, degC, ppm, %LEL, mg/m3 …"""
    lat: Latitude
    """Latitude of the sensor, WGS-84."""
    lon: Longitude
    """Longitude of the sensor, WGS-84."""
    crs: CoordSystem | None = None
    """Coordinate system of lat/lon when not WGS-84; ingest converts and stores WGS-84."""
    station: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    """Human name of the station, e.g. 七里河水文站."""


class AlarmState(StrEnum):
    """State of a device alarm."""

    ACTIVE = "active"
    CLEARED = "cleared"
    TEST = "test"

    def label(self, lang: Lang) -> str:
        """Name of the alarm state for people."""
        return pick(_ALARM_LABELS[self], lang)


_ALARM_LABELS: Mapping[AlarmState, Bilingual] = checked({
    AlarmState.ACTIVE: ("告警中", "Active"), AlarmState.CLEARED: ("已解除", "Cleared"),
    AlarmState.TEST: ("测试", "Test"),
}, AlarmState)


class Alarm(
    msgspec.Struct, frozen=True, kw_only=True, gc=False  # acyclic: no GC tracking needed
):
    """A device alarm (kind `alarm`): smoke, gas, siren, emergency button (CoT 911) …"""

    id: MessageId
    """Unique message id."""
    ts: Timestamp
    """When the device raised or cleared the alarm."""
    device: UnitId
    """The device (or the unit, for a CoT emergency) that raised it."""
    type: Code
    """Alarm type: smoke, gas, siren, flood, intrusion, emergency …"""
    state: AlarmState = AlarmState.ACTIVE
    """Raised, cleared, or a test."""
    lat: Latitude
    """Latitude of the device, WGS-84."""
    lon: Longitude
    """Longitude of the device, WGS-84."""
    crs: CoordSystem | None = None
    """Coordinate system of lat/lon when not WGS-84; ingest converts and stores WGS-84."""
    text: ShortText | None = None
    """Free text from the device or its operator."""
    level: Level | None = None
    """The publisher's estimate of severity, if any."""


class Availability(StrEnum):
    """What a unit can do now."""

    AVAILABLE = "available"
    ENGAGED = "engaged"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    OUT_OF_SERVICE = "out_of_service"
    OFF_DUTY = "off_duty"
    UNKNOWN = "unknown"
    """Its order made no progress for too long: not proposed until the unit reports again."""

    def label(self, lang: Lang) -> str:
        """Name of the availability for people."""
        return pick(_AVAILABILITY_LABELS[self], lang)


_AVAILABILITY_LABELS: Mapping[Availability, Bilingual] = checked({
    Availability.AVAILABLE: ("待命", "Available"),
    Availability.ENGAGED: ("执行任务", "Engaged"),
    Availability.EN_ROUTE: ("途中", "En route"),
    Availability.ON_SCENE: ("已到场", "On scene"),
    Availability.OUT_OF_SERVICE: ("暂停执勤", "Out of service"),
    Availability.OFF_DUTY: ("休班", "Off duty"),
    Availability.UNKNOWN: ("状态不明", "Unknown"),
}, Availability)


class Status(
    msgspec.Struct, frozen=True, kw_only=True, gc=False  # acyclic: no GC tracking needed
):
    """A unit's availability (kind `status`)."""

    id: MessageId
    """Unique message id."""
    ts: Timestamp
    """When the status changed."""
    unit: UnitId
    """The unit."""
    availability: Availability
    """Its availability from now on."""
    note: ShortText | None = None
    """Free text, e.g. why it is out of service."""


class AckState(StrEnum):
    """Progress of a dispatch order, as the unit reports it."""

    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    DONE = "done"
    REJECTED = "rejected"

    def label(self, lang: Lang) -> str:
        """The unit's report in words (the same words as the order's state)."""
        return pick(_ACK_LABELS[self], lang)


_ACK_LABELS: Mapping[AckState, Bilingual] = checked({
    AckState.ACKNOWLEDGED: ("已确认", "Acknowledged"), AckState.EN_ROUTE: ("途中", "En route"),
    AckState.ON_SCENE: ("已到场", "On scene"), AckState.DONE: ("已完成", "Done"),
    AckState.REJECTED: ("已拒绝", "Rejected"),
}, AckState)


class Ack(
    msgspec.Struct, frozen=True, kw_only=True, gc=False  # acyclic: no GC tracking needed
):
    """A unit's acknowledgement of, or progress on, a dispatch order (kind `ack`)."""

    id: MessageId
    """Unique message id."""
    ts: Timestamp
    """When the unit reported it."""
    order: MessageId
    """The dispatch order it refers to."""
    unit: UnitId
    """The unit reporting."""
    state: AckState
    """The order's state at the unit."""
    note: ShortText | None = None
    """Free text, e.g. why an order was rejected."""


FieldMessage = Position | Report | Observation | Alarm | Status | Ack


class Envelope(
    msgspec.Struct, frozen=True, kw_only=True, gc=False  # acyclic: no GC tracking needed
):
    """Where and when a message arrived: taken from the topic, never from the payload."""

    topic: str
    """The full MQTT topic."""
    agency: str
    """Publishing agency, from the topic."""
    kind: Kind
    """Message kind, from the topic."""
    source: str
    """Publishing system or unit, from the topic; receipts go back to it."""
    received_at: datetime
    """When ingest received the message."""


class Inbound(
    msgspec.Struct, frozen=True, kw_only=True, gc=False  # acyclic: no GC tracking needed
):
    """A decoded, validated message with its envelope."""

    envelope: Envelope
    message: FieldMessage | CapAlertMessage


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A message that failed to decode or validate, kept with its raw bytes."""

    topic: str
    payload: bytes
    received_at: datetime
    reason: str
    """Reason code, one of ingest.codecs.Reason."""
    detail: str
    """Human-readable explanation of what is wrong."""
    message_id: str | None = None
    """The message id, when one could be read despite the error."""


class UnitState(
    msgspec.Struct, frozen=True, kw_only=True, gc=False  # acyclic: no GC tracking needed
):
    """The latest known position of a unit."""

    unit: str
    agency: str
    lat: float
    lon: float
    ts: datetime
    speed: float | None = None
    heading: float | None = None
    unit_type: str | None = None


class Incident(
    msgspec.Struct, frozen=True, kw_only=True, gc=False  # acyclic: no GC tracking needed
):
    """An incident as shown on the map and in lists."""

    id: str
    type: str
    level: Level
    status: IncidentStatus
    title: str
    lat: float
    lon: float
    reported_at: datetime
    updated_at: datetime
    agency: str
    source_report: str | None = None
