"""A CAP 1.2 alert issued from an incident: one `info` block in Chinese and one in English.

The alert is built as the project's `CapAlert`; `incidents.cap_xml.export_cap` turns it
into XML. Everything the exporter writes reads back to the same alert through the CAP codec:
times are cut to whole seconds and texts trimmed here, as CAP readers would see them anyway.

Severity follows the level (I Extreme, II Severe, III Moderate, IV Minor). Urgency and
certainty follow the status: an unverified report is Likely, a verified one Observed; a
closed incident's alert is Past, with the AllClear response.
"""

from __future__ import annotations

import re
from datetime import datetime

import msgspec

from incidents.cap import (
    CapAlert,
    CapArea,
    CapCategory,
    CapCertainty,
    CapCircle,
    CapInfo,
    CapMsgType,
    CapReference,
    CapResponseType,
    CapScope,
    CapSeverity,
    CapStatus,
    CapUrgency,
    Ring,
)
from incidents.model import Incident, IncidentStatus, Level
from incidents.reports.model import LocalText

EVENT_CODE_NAME = "sitroom:type"
"""valueName of the eventCode carrying the incident type code."""
LANGUAGES = ("zh-CN", "en-US")
"""Languages of the two info blocks, in order."""

SEVERITY: dict[Level, CapSeverity] = {
    Level.I: CapSeverity.EXTREME, Level.II: CapSeverity.SEVERE,
    Level.III: CapSeverity.MODERATE, Level.IV: CapSeverity.MINOR,
}
"""CAP severity of each level: the inverse of what ingest reads."""

_BY_STATUS: dict[IncidentStatus, tuple[CapUrgency, CapCertainty]] = {
    IncidentStatus.REPORTED: (CapUrgency.IMMEDIATE, CapCertainty.LIKELY),
    IncidentStatus.VERIFIED: (CapUrgency.IMMEDIATE, CapCertainty.OBSERVED),
    IncidentStatus.RESPONDING: (CapUrgency.IMMEDIATE, CapCertainty.OBSERVED),
    IncidentStatus.CONTAINED: (CapUrgency.EXPECTED, CapCertainty.OBSERVED),
    IncidentStatus.CLOSED: (CapUrgency.PAST, CapCertainty.OBSERVED),
}
_NOT_IN_TOKEN = re.compile(r"[\s,<&]")


class CapTypeInfo(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """How the incident's type is written in CAP (from the taxonomy, resolved by the caller)."""

    categories: tuple[CapCategory, ...]
    """CAP categories of the type; at least one."""
    event: LocalText
    """The event text, e.g. 危化品泄漏 / Hazardous chemical leak."""


class CapTexts(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """What the alert tells people, in both languages."""

    headline: LocalText
    """Short headline."""
    description: LocalText
    """What is happening."""
    instruction: LocalText | None = None
    """What people should do, if anything."""


def urgency_certainty(status: IncidentStatus) -> tuple[CapUrgency, CapCertainty]:
    """CAP urgency and certainty of an incident in `status`."""
    return _BY_STATUS[status]


def _token(name: str, value: str) -> str:
    if not value or _NOT_IN_TOKEN.search(value):
        raise ValueError(f"CAP {name} must be non-empty, without whitespace, ',', '<' or '&': "
                         f"{value!r}")
    return value


def _whole_seconds(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"CAP times must be timezone-aware, got {value.isoformat()}")
    return value.replace(microsecond=0)


def _text(value: str | None) -> str | None:
    """Trimmed text, None when nothing is left (CAP readers treat an empty element so)."""
    if value is None:
        return None
    return value.strip(" \t\r\n") or None


def _pick(text: LocalText | None, zh: bool) -> str | None:
    """One language of a text, trimmed."""
    return None if text is None else _text(text.zh if zh else text.en)


def _area(area: Ring | CapCircle, name: str) -> CapArea:
    if isinstance(area, CapCircle):
        return CapArea(area_desc=name, circles=(area,))
    if len(area) < 4 or area[0] != area[-1]:
        raise ValueError("a CAP polygon needs at least 4 (lat, lon) points, the last equal to "
                         "the first")
    return CapArea(area_desc=name, polygons=(area,))


def cap_from_incident(
    incident: Incident, *, type_info: CapTypeInfo, sender: str, sent_at: datetime,
    identifier: str, area: Ring | CapCircle, area_name: LocalText, texts: CapTexts,
    msg_type: CapMsgType = CapMsgType.ALERT, references: tuple[CapReference, ...] = (),
    exercise: bool = False, sender_name: LocalText | None = None,
    expires: datetime | None = None, response_types: tuple[CapResponseType, ...] | None = None,
) -> CapAlert:
    """A public CAP alert about the incident, with a zh-CN and an en-US info block.

    `area` is a closed ring of (lat, lon) points or a circle; `references` name the earlier
    alerts an Update or Cancel replaces (CAP requires at least one for those). The response
    types default to AllClear for a closed incident and Monitor otherwise. ValueError for an
    identifier or sender CAP forbids, naive times, a bad polygon or missing references.
    """
    if not type_info.categories:
        raise ValueError("a CAP info needs at least one category")
    if msg_type in (CapMsgType.UPDATE, CapMsgType.CANCEL) and not references:
        raise ValueError(f"a CAP {msg_type} must reference the alerts it replaces")
    urgency, certainty = urgency_certainty(incident.status)
    if response_types is None:
        closed = incident.status is IncidentStatus.CLOSED
        response_types = (CapResponseType.ALL_CLEAR if closed else CapResponseType.MONITOR,)
    infos = []
    for zh, language in zip((True, False), LANGUAGES, strict=True):
        event, name = _pick(type_info.event, zh), _pick(area_name, zh)
        if event is None or name is None:
            raise ValueError(f"the {language} event and area name must not be empty")
        infos.append(CapInfo(
            language=language, categories=type_info.categories, event=event,
            response_types=response_types, urgency=urgency,
            severity=SEVERITY[incident.level], certainty=certainty,
            event_codes=((EVENT_CODE_NAME, incident.type),),
            expires=None if expires is None else _whole_seconds(expires),
            sender_name=_pick(sender_name, zh), headline=_pick(texts.headline, zh),
            description=_pick(texts.description, zh),
            instruction=_pick(texts.instruction, zh),
            areas=(_area(area, name),),
        ))
    return CapAlert(
        identifier=_token("identifier", identifier), sender=_token("sender", sender),
        sent=_whole_seconds(sent_at),
        status=CapStatus.EXERCISE if exercise else CapStatus.ACTUAL, msg_type=msg_type,
        scope=CapScope.PUBLIC,
        note="演练 / Exercise" if exercise else None,
        references=references, incidents=(incident.id,), infos=tuple(infos),
    )
