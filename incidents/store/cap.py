"""Storing CAP alerts: new alerts open incidents; Update and Cancel act on what they reference."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from incidents.cap import CapAlertMessage, CapMsgType
from incidents.journal import Event
from incidents.model import Envelope, Incident, IncidentStatus, Level
from incidents.store.incident_sql import (
    INCIDENT_COLUMNS,
    incident_from_row,
    insert_incident,
)
from incidents.taxonomy import CAP_ALERT_TYPE

_encoder = msgspec.json.Encoder()
_CAP_ACTOR = "cap"


async def store_cap_alerts(
    conn: asyncpg.Connection, alerts: Sequence[tuple[Envelope, CapAlertMessage]],
    events: list[Event],
) -> list[Incident]:
    """Store new alerts (a re-sent one is ignored) and apply them; return incidents changed.

    Journal events are added to `events` for the caller to append at the end of its transaction.
    """
    changed: list[Incident] = []
    for envelope, message in alerts:
        if not await _insert(conn, envelope, message):
            continue  # already stored: redelivery
        alert = message.alert
        if message.references:
            await conn.executemany(
                "INSERT INTO cap_references (alert_id, referenced_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING", [(message.id, r) for r in message.references])
        if not alert.is_actual:
            continue  # exercises, tests, drafts: kept and shown, never acted on
        if alert.msg_type is CapMsgType.ALERT:
            incident = await _open_incident(conn, envelope, message, events)
            if incident is not None:
                changed.append(incident)
        elif alert.msg_type in (CapMsgType.UPDATE, CapMsgType.CANCEL):
            changed += await _apply_to_referenced(conn, message, events)
    return changed


async def _insert(conn: asyncpg.Connection, envelope: Envelope,
                  message: CapAlertMessage) -> bool:
    alert = message.alert
    info = alert.info_for("zh-CN")
    centre = alert.centroid()
    stored = await conn.fetchval(
        "INSERT INTO cap_alerts (id, agency, source, sender, identifier, sent, status,"
        " msg_type, scope, level, headline, event, lat, lon, alert, received_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16)"
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        message.id, envelope.agency, envelope.source, alert.sender, alert.identifier,
        alert.sent, alert.status.value, alert.msg_type.value, alert.scope.value,
        message.level.value if message.level else None,
        info.headline if info else None, info.event if info else None,
        centre[0] if centre else None, centre[1] if centre else None,
        _encoder.encode(alert).decode(), envelope.received_at,
    )
    return stored is not None


async def _open_incident(conn: asyncpg.Connection, envelope: Envelope,
                         message: CapAlertMessage, events: list[Event]) -> Incident | None:
    alert = message.alert
    centre = alert.centroid()
    if centre is None:
        return None  # geocodes only: stored and listed, but there is no place to put it
    info = alert.info_for("zh-CN")
    title = (info.headline or info.event) if info else alert.identifier
    incident = Incident(
        id=str(uuid.uuid4()), type=CAP_ALERT_TYPE, level=message.level or Level.IV,
        status=IncidentStatus.REPORTED, title=title[:120], lat=centre[0], lon=centre[1],
        reported_at=alert.sent, updated_at=envelope.received_at, agency=envelope.agency,
        source_report=message.id,
    )
    await insert_incident(conn, incident)
    await conn.execute("UPDATE cap_alerts SET incident_id = $1 WHERE id = $2",
                       uuid.UUID(incident.id), message.id)
    events.append(Event(incident.id, f"{envelope.agency}/{envelope.source}", "reported",
                        {"cap": message.id, "sender": alert.sender,
                         "event": info.event if info else None, "level": incident.level.value}))
    return incident


async def _apply_to_referenced(conn: asyncpg.Connection, message: CapAlertMessage,
                               events: list[Event]) -> list[Incident]:
    alert = message.alert
    cancel = alert.msg_type is CapMsgType.CANCEL
    # Only the sender of an alert may update or cancel it: references may name anyone.
    rows = await conn.fetch(
        "SELECT id, incident_id FROM cap_alerts WHERE id = ANY($1::text[]) AND sender = $2"
        " AND sent <= $3", list(message.references), alert.sender, alert.sent)
    changed: list[Incident] = []
    for row in rows:
        column = "cancelled_by" if cancel else "superseded_by"
        await conn.execute(
            f"UPDATE cap_alerts SET {column} = $1 WHERE id = $2 AND {column} IS NULL",
            message.id, row["id"])
        if row["incident_id"] is None:
            continue
        incident_id = str(row["incident_id"])
        if cancel:
            updated = await conn.fetchrow(
                f"UPDATE incidents SET status = 'closed', updated_at = now() WHERE id = $1"
                f" AND status <> 'closed' RETURNING {INCIDENT_COLUMNS}", row["incident_id"])
        else:
            info = alert.info_for("zh-CN")
            updated = await conn.fetchrow(
                "UPDATE incidents SET level = COALESCE($2, level),"
                " title = COALESCE($3, title), updated_at = now() WHERE id = $1"
                f" AND status <> 'closed' RETURNING {INCIDENT_COLUMNS}", row["incident_id"],
                message.level.value if message.level else None,
                (info.headline or info.event)[:120] if info else None)
            await conn.execute("UPDATE cap_alerts SET incident_id = $1 WHERE id = $2",
                               row["incident_id"], message.id)
        if updated is None:
            continue
        events.append(Event(incident_id, _CAP_ACTOR, "cap_cancel" if cancel else "cap_update",
                            {"cap": message.id, "references": row["id"]}))
        changed.append(incident_from_row(updated))
    return changed
