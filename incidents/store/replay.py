"""The picture at a past time, from PostgreSQL: where units were, which incidents were open at
what level and status, which alarms had been raised, which reports had come in.

Unit positions come from `positions` (latest fix at or before t per unit, within the online
window: one backward step down `positions_unit_ts` per unit). An incident's status and level at
t are reconstructed from its journal: the last `incident_events` row at or before t that moved
them (life-cycle events carry `to_status` / `to_level`, rule updates and the report carry
`level`). The live desk asks the same questions with t = now.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from incidents.history import AlarmSeen, AttachedReport, IncidentAt, state_at
from incidents.model import Alarm, AlarmState, IncidentStatus, Level, Report, UnitState
from incidents.store.incident_sql import INCIDENT_COLUMNS, incident_from_row
from incidents.store.session import connection

_COLUMNS = ", ".join(f"i.{c.strip()}" for c in INCIDENT_COLUMNS.split(","))

# The state-changing journal rows of each incident, newest first, cut at t; when none is at or
# before t (a journal that starts after the row was written), the current row stands.
_INCIDENTS_AT = f"""
SELECT {_COLUMNS}, st.status AS status_at, lv.level AS level_at,
       greatest(st.at, CASE WHEN lv.at <= $1 THEN lv.at END) AS changed_at
FROM incidents i
LEFT JOIN LATERAL (
    SELECT e.data ->> 'to_status' AS status, e.at FROM incident_events e
    WHERE e.incident_id = i.id AND e.at <= $1 AND e.data ? 'to_status'
    ORDER BY e.seq DESC LIMIT 1) st ON true
LEFT JOIN LATERAL (
    SELECT coalesce(e.data ->> 'to_level', e.data ->> 'level') AS level, e.at
    FROM incident_events e
    WHERE e.incident_id = i.id AND (e.at <= $1 OR e.action = 'reported')
      AND (e.data ? 'to_level'
           OR (e.action IN ('reported', 'rule_update') AND e.data ? 'level'))
    ORDER BY (e.at <= $1) DESC, e.seq DESC LIMIT 1) lv ON true
WHERE i.reported_at <= $1
  AND (i.reported_at > $2 OR i.closed_at IS NULL OR i.closed_at > $2)
ORDER BY i.reported_at DESC
LIMIT $3
"""

_UNITS_AT = """
SELECT u.unit, u.agency, u.unit_type, p.lat, p.lon, p.ts, p.speed, p.heading
FROM units u
CROSS JOIN LATERAL (
    SELECT lat, lon, ts, speed, heading FROM positions p
    WHERE p.unit = u.unit AND p.ts <= $1 AND p.ts >= $2
    ORDER BY p.ts DESC LIMIT 1) p
ORDER BY u.unit
"""


class ReplayStore:
    """Reads of the picture at a time t (t = now for the live desk's lists)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def units_at(self, at: datetime, online_s: int) -> list[UnitState]:
        """Each unit's latest position at or before `at`, if it is at most `online_s` old."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(_UNITS_AT, at, at - timedelta(seconds=online_s))
        return [UnitState(unit=r["unit"], agency=r["agency"], unit_type=r["unit_type"],
                          lat=r["lat"], lon=r["lon"], ts=r["ts"], speed=r["speed"],
                          heading=r["heading"]) for r in rows]

    async def incidents_at(self, at: datetime, window: timedelta,
                           limit: int = 500) -> list[IncidentAt]:
        """Incidents reported by `at` as they stood then, most recent first.

        Every incident still open at `at` is included, and closed ones only when reported in
        the `window` before it (a replay's list of what happened that day).
        """
        async with connection(self._pool) as conn:
            rows = await conn.fetch(_INCIDENTS_AT, at, at - window, limit)
        found = [state_at(incident_from_row(r), r["status_at"], r["level_at"], r["changed_at"])
                 for r in rows]
        since = at - window
        return [f for f in found if f.incident.status is not IncidentStatus.CLOSED
                or f.incident.reported_at > since]

    async def alarms(self, until: datetime, since: datetime, agency: str | None = None,
                     limit: int = 200) -> list[AlarmSeen]:
        """Alarms raised or cleared in (since, until], newest first, of one agency if given."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT id, agency, source, ts, device, type, state, lat, lon, text, level"
                " FROM alarms WHERE ts <= $1 AND ts > $2 AND ($3::text IS NULL OR agency = $3)"
                " ORDER BY ts DESC LIMIT $4", until, since, agency, limit)
        return [AlarmSeen(agency=r["agency"], source=r["source"], alarm=Alarm(
            id=r["id"], ts=r["ts"], device=r["device"], type=r["type"],
            state=AlarmState(r["state"]), lat=r["lat"], lon=r["lon"], text=r["text"],
            level=Level(r["level"]) if r["level"] else None)) for r in rows]

    async def reports_of(self, incident_id: str, until: datetime | None = None,
                         limit: int = 50) -> list[AttachedReport]:
        """Reports linked to the incident (received by `until` if given), oldest first."""
        try:
            key = uuid.UUID(incident_id)
        except ValueError:
            return []  # not an incident id: nothing can be linked to it
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT id, agency, source, ts, type, lat, lon, text, level, reporter,"
                " received_at FROM reports WHERE incident_id = $1"
                " AND ($2::timestamptz IS NULL OR received_at <= $2)"
                " ORDER BY ts LIMIT $3", key, until, limit)
        return [AttachedReport(agency=r["agency"], source=r["source"],
                               received_at=r["received_at"], report=Report(
                                   id=r["id"], ts=r["ts"], type=r["type"], lat=r["lat"],
                                   lon=r["lon"], text=r["text"],
                                   level=Level(r["level"]) if r["level"] else None,
                                   reporter=r["reporter"])) for r in rows]
