"""Reads for the wall screen's figures: alarms in a window, the latest weather, and the journal's
recent dispatches and acknowledgements. Every statement here rides an existing index, so a
wall refreshing its figures costs milliseconds however large the tables grow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from incidents.model import Level
from incidents.store.session import connection
from incidents.wallboard import JournalEvent, Reading

JOURNAL_WINDOW = 5000
"""The newest journal rows looked through for ticker events (a primary-key range scan)."""


class WallboardQueries:
    """The wall's reads over the store's pool (`Store.pool`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def active_alarms_since(self, since: datetime) -> int:
        """Alarms raised (state active, tests and clearances aside) since `since`."""
        async with connection(self._pool) as conn:
            count: int = await conn.fetchval(
                "SELECT count(*) FROM alarms WHERE ts >= $1 AND state = 'active'", since)
        return count

    async def latest_readings(self, agency: str, quantities: Sequence[str],
                              since: datetime) -> list[Reading]:
        """Each station's latest reading of each quantity, for stations of `agency` read
        since `since`.

        Walks the distinct sensors of the (sensor, quantity, ts DESC) index one probe at a
        time (a loose index scan) and takes one row per sensor and quantity, so it never
        reads the table's history.
        """
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "WITH RECURSIVE sensors AS ("
                "  (SELECT sensor FROM observations ORDER BY sensor LIMIT 1)"
                "  UNION ALL"
                "  SELECT (SELECT o.sensor FROM observations o WHERE o.sensor > s.sensor"
                "          ORDER BY o.sensor LIMIT 1)"
                "  FROM sensors s WHERE s.sensor IS NOT NULL)"
                " SELECT latest.* FROM sensors s"
                " CROSS JOIN unnest($1::text[]) AS q(quantity)"
                " CROSS JOIN LATERAL (SELECT o.sensor, o.station, o.quantity, o.value, o.unit,"
                "   o.ts, o.agency FROM observations o"
                "   WHERE o.sensor = s.sensor AND o.quantity = q.quantity"
                "   ORDER BY o.ts DESC LIMIT 1) latest"
                " WHERE s.sensor IS NOT NULL AND latest.agency = $2 AND latest.ts >= $3"
                " ORDER BY latest.ts DESC", list(quantities), agency, since)
        return [Reading(sensor=r["sensor"], station=r["station"], quantity=r["quantity"],
                        value=r["value"], unit=r["unit"], ts=r["ts"]) for r in rows]

    async def recent_events(self, actions: Sequence[str], since: datetime,
                            limit: int = 30) -> list[JournalEvent]:
        """The newest journal entries of `actions` since `since`, newest first."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT e.seq, e.at, e.action, e.actor, e.data, e.incident_id::text AS id,"
                " i.title, i.level FROM incident_events e"
                " JOIN incidents i ON i.id = e.incident_id"
                " WHERE e.seq > (SELECT coalesce(max(seq), 0) FROM incident_events) - $4"
                " AND e.action = ANY($1) AND e.at >= $2"
                " ORDER BY e.seq DESC LIMIT $3", list(actions), since, limit, JOURNAL_WINDOW)
        return [JournalEvent(seq=r["seq"], at=r["at"], action=r["action"], actor=r["actor"],
                             data=json.loads(r["data"]), incident_id=r["id"],
                             title=r["title"], level=Level(r["level"])) for r in rows]
