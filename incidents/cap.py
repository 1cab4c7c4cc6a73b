"""CAP 1.2 (OASIS Common Alerting Protocol) alerts as typed, immutable domain records.

The structs mirror the CAP 1.2 document model one to one (alert → info → resource, area),
with Python names for the elements and parsed values for the packed ones: `references`
become `CapReference` triples, `polygon` becomes a ring of (lat, lon) points, `circle` a
`CapCircle`, `addresses` and `incidents` a tuple of names. Sequences are tuples so that an
alert is immutable and hashable all the way down. Every string is non-empty with no
leading or trailing XML whitespace; every time is timezone-aware with whole seconds.

Bytes become a `CapAlert` only through `incidents.cap_xml.parse_cap`, which validates once;
here the data is trusted. Also here: the store ids of alerts and their incident levels.
"""

from __future__ import annotations

import hashlib
import math
import re
from enum import StrEnum
from typing import Annotated

import msgspec

from incidents.geo import KM_PER_DEGREE
from incidents.primitives import Latitude, Level, Longitude, Timestamp

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
"""XML namespace of CAP 1.2 documents."""

Point = tuple[Latitude, Longitude]
"""A WGS-84 position as CAP writes it: latitude first."""
Ring = tuple[Point, ...]
"""A closed polygon ring: at least four points, the first equal to the last."""
NamedValue = tuple[str, str]
"""A CAP (valueName, value) pair, as in eventCode, parameter and geocode."""


class CapStatus(StrEnum):
    """Who the alert is for: real (Actual) or one of the kinds that must not trigger action."""

    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class CapMsgType(StrEnum):
    """What the message does: a new alert, or an update, cancel, ack or error of earlier ones."""

    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"
    ACK = "Ack"
    ERROR = "Error"


class CapScope(StrEnum):
    """Who may receive the alert."""

    PUBLIC = "Public"
    RESTRICTED = "Restricted"
    PRIVATE = "Private"


class CapCategory(StrEnum):
    """Category of the subject event."""

    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class CapResponseType(StrEnum):
    """The action recommended to the audience."""

    SHELTER = "Shelter"
    EVACUATE = "Evacuate"
    PREPARE = "Prepare"
    EXECUTE = "Execute"
    AVOID = "Avoid"
    MONITOR = "Monitor"
    ASSESS = "Assess"
    ALL_CLEAR = "AllClear"
    NONE = "None"


class CapUrgency(StrEnum):
    """How soon to act."""

    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class CapSeverity(StrEnum):
    """How bad the event is."""

    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class CapCertainty(StrEnum):
    """How sure the sender is that the event happens."""

    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class BoundingBox(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """The smallest latitude/longitude box around some geometry (antimeridian not handled)."""

    south: Latitude
    """Least latitude."""
    west: Longitude
    """Least longitude."""
    north: Latitude
    """Greatest latitude."""
    east: Longitude
    """Greatest longitude."""

    @property
    def centre(self) -> Point:
        """The middle of the box as (lat, lon): where a single map marker goes."""
        return ((self.south + self.north) / 2.0, (self.west + self.east) / 2.0)

    def union(self, other: BoundingBox) -> BoundingBox:
        """The box around both boxes."""
        return BoundingBox(south=min(self.south, other.south), west=min(self.west, other.west),
                           north=max(self.north, other.north), east=max(self.east, other.east))


class CapReference(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """One earlier message named in `references` (CAP writes it `sender,identifier,sent`)."""

    sender: str
    """Sender of the referenced message."""
    identifier: str
    """Identifier of the referenced message."""
    sent: Timestamp
    """When the referenced message was sent."""


class CapCircle(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """A circular area (CAP `circle`, written `lat,lon radius`)."""

    lat: Latitude
    """Latitude of the centre, WGS-84."""
    lon: Longitude
    """Longitude of the centre, WGS-84."""
    radius_km: Annotated[float, msgspec.Meta(ge=0.0)]
    """Radius in kilometres."""

    def bbox(self) -> BoundingBox:
        """The box around the circle, on a spherical Earth."""
        dlat = self.radius_km / KM_PER_DEGREE
        south, north = max(-90.0, self.lat - dlat), min(90.0, self.lat + dlat)
        cos_lat = math.cos(math.radians(max(abs(south), abs(north))))
        dlon = 360.0 if cos_lat < 1e-9 else dlat / cos_lat
        return BoundingBox(south=south, north=north, west=max(-180.0, self.lon - dlon),
                           east=min(180.0, self.lon + dlon))


class CapResource(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """A file that goes with an info block (CAP `resource`): an image, audio, a map …"""

    resource_desc: str
    """What the resource is, in human terms."""
    mime_type: str
    """MIME type of the resource."""
    size: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """Size in bytes, if given."""
    uri: str | None = None
    """Where to fetch the resource, if given."""
    deref_uri: str | None = None
    """The resource itself, base64-encoded, when sent inline."""
    digest: str | None = None
    """SHA-1 hash of the resource, hex, if given."""


class CapArea(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """An affected area (CAP `area`): its name and any polygons, circles and geocodes."""

    area_desc: str
    """Human description of the area, e.g. 邢台市信都区."""
    polygons: tuple[Ring, ...] = ()
    """Closed rings of (lat, lon) points."""
    circles: tuple[CapCircle, ...] = ()
    """Circles around a point."""
    geocodes: tuple[NamedValue, ...] = ()
    """(valueName, value) codes of the area, e.g. ("GB/T 2260", "130503")."""
    altitude: float | None = None
    """Altitude, or the floor of the area when `ceiling` is set, in feet above WGS-84 MSL."""
    ceiling: float | None = None
    """Top of the area in feet above WGS-84 MSL; only with `altitude`."""

    def bbox(self) -> BoundingBox | None:
        """The box around the polygons and circles; None when the area is geocodes only."""
        boxes = [_ring_bbox(ring) for ring in self.polygons]
        boxes.extend(circle.bbox() for circle in self.circles)
        return _union(boxes)


class CapInfo(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """What the alert says in one language (CAP `info`)."""

    language: str = "en-US"
    """RFC 3066 language of the texts, e.g. zh-CN."""
    categories: tuple[CapCategory, ...]
    """Categories of the event; at least one."""
    event: str
    """The subject event, e.g. 暴雨."""
    response_types: tuple[CapResponseType, ...] = ()
    """Recommended actions."""
    urgency: CapUrgency
    """How soon to act."""
    severity: CapSeverity
    """How bad the event is."""
    certainty: CapCertainty
    """How sure the sender is."""
    audience: str | None = None
    """Intended audience, in human terms."""
    event_codes: tuple[NamedValue, ...] = ()
    """(valueName, value) codes of the event type in some scheme."""
    effective: Timestamp | None = None
    """When the information takes effect (CAP: `sent` when absent)."""
    onset: Timestamp | None = None
    """Expected start of the event."""
    expires: Timestamp | None = None
    """When the information stops being valid."""
    sender_name: str | None = None
    """Human name of the issuing agency, e.g. 邢台市气象台."""
    headline: str | None = None
    """Short headline."""
    description: str | None = None
    """Full description of the event."""
    instruction: str | None = None
    """What the audience should do."""
    web: str | None = None
    """Link to more information."""
    contact: str | None = None
    """How to reach the sender for follow-up."""
    parameters: tuple[NamedValue, ...] = ()
    """(valueName, value) system-specific parameters."""
    resources: tuple[CapResource, ...] = ()
    """Files that go with the info."""
    areas: tuple[CapArea, ...] = ()
    """Affected areas."""

    def bbox(self) -> BoundingBox | None:
        """The box around all areas; None when no area has a polygon or circle."""
        return _union([box for area in self.areas if (box := area.bbox()) is not None])


class CapAlert(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """A CAP 1.2 alert message (CAP `alert`)."""

    identifier: str
    """Sender-assigned id, unique per sender; no whitespace, commas, '<' or '&'."""
    sender: str
    """Globally unique id of the originator, e.g. an e-mail address; same character rules."""
    sent: Timestamp
    """When the message was sent."""
    status: CapStatus
    """Actual, or an exercise, system message, test or draft."""
    msg_type: CapMsgType
    """Alert, or an update, cancel, ack or error of the `references`."""
    source: str | None = None
    """The particular source of the message, e.g. an operator."""
    scope: CapScope
    """Who may receive it."""
    restriction: str | None = None
    """The rule limiting distribution, for Restricted scope."""
    addresses: tuple[str, ...] = ()
    """Intended recipients; required for Private scope."""
    codes: tuple[str, ...] = ()
    """Special handling codes (CAP `code`)."""
    note: str | None = None
    """Free text, e.g. why a message is an Exercise or an Error."""
    references: tuple[CapReference, ...] = ()
    """The earlier messages this one updates, cancels or answers."""
    incidents: tuple[str, ...] = ()
    """Names of the incidents this alert belongs to."""
    infos: tuple[CapInfo, ...] = ()
    """The alert's content, one block per language (or per event)."""

    @property
    def is_actual(self) -> bool:
        """True for a real alert; Exercise, System, Test and Draft must not trigger action."""
        return self.status is CapStatus.ACTUAL

    def info_for(self, language: str = "zh-CN") -> CapInfo | None:
        """The info block to show: `language`, else zh-CN, else English, else the first.

        A block matches a wanted language exactly (case-insensitive) or, failing that, by
        its primary subtag ("zh" matches "zh-CN" and "zh-Hans"). None when there is no info.
        """
        for wanted in (language, "zh-CN", "en-US"):
            tag = wanted.lower()
            primary = tag.split("-", 1)[0]
            for info in self.infos:
                if info.language.lower() == tag:
                    return info
            for info in self.infos:
                if info.language.lower().split("-", 1)[0] == primary:
                    return info
        return self.infos[0] if self.infos else None

    def bbox(self) -> BoundingBox | None:
        """The box around every area of every info; None when no area has geometry."""
        return _union([box for info in self.infos if (box := info.bbox()) is not None])

    def centroid(self) -> Point | None:
        """Where to put the alert on a map, as (lat, lon): the centre of `bbox()`."""
        box = self.bbox()
        return None if box is None else box.centre


def _ring_bbox(ring: Ring) -> BoundingBox:
    lats = [lat for lat, _ in ring]
    lons = [lon for _, lon in ring]
    return BoundingBox(south=min(lats), west=min(lons), north=max(lats), east=max(lons))


def _union(boxes: list[BoundingBox]) -> BoundingBox | None:
    if not boxes:
        return None
    result = boxes[0]
    for box in boxes[1:]:
        result = result.union(box)
    return result


class CapAlertMessage(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """A CAP alert as ingest carries it to the store, with the ids it is known by."""

    id: str
    """Store id of the alert (from sender and identifier; the dedup key)."""
    alert: CapAlert
    """The alert itself."""
    references: tuple[str, ...] = ()
    """Store ids of the alerts it updates or cancels."""
    level: Level | None = None
    """The most severe level of its info blocks."""


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
