"""The `wall` blueprint: the wall screen's figures from PostgreSQL, GET /api/wall/summary.

Units available / engaged per agency, alarms in the last hour, today's average response time
(reported → first unit on scene), the latest weather, and the journal's recent dispatches and
acknowledgements for the ticker. The live picture itself (incidents, unit positions) comes by
push (/live/stream); these slower figures are read at most every CACHE_S per worker however
many screens ask. Shaping is pure functions over domain rows.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import msgspec
from flask import Blueprint, Response

from config.settings import Settings
from dashboard.auth import Action, require
from dashboard.portal import AsyncBridge
from incidents.lang import Lang
from incidents.model import LOCAL_TZ, AckState
from incidents.plans import load_plans
from incidents.spatial import UnitPoint
from incidents.store import StoreUnavailable
from incidents.store.wallboard import WallboardQueries
from incidents.taxonomy import Taxonomy, load_taxonomy
from incidents.wallboard import JournalEvent, Reading

log = logging.getLogger(__name__)

SUMMARY_PATH = "/api/wall/summary"
CACHE_S = 10.0
"""A worker reads PostgreSQL for the wall at most this often."""
WEATHER_MAX_AGE = timedelta(hours=3)
"""Older weather readings are not shown as current."""
TICKER_ACTIONS = ("dispatch", "order_ack", "order_overdue")
"""Journal actions the ticker shows (new incidents and level or status changes come from the
live deltas in the browser)."""

WEATHER_QUANTITIES: Mapping[str, tuple[str, ...]] = {
    "temperature": ("temperature", "air_temperature"),
    "wind_speed": ("wind_speed",),
    "wind_direction": ("wind_direction",),
    "rainfall": ("rainfall", "rain", "precipitation"),
}
"""Weather figures, each with the observation quantities that carry it (first one wins)."""

_ACK_CODES = frozenset(state.value for state in AckState)


class AgencyUnits(msgspec.Struct, frozen=True, kw_only=True):
    """Units of one agency seen within the online window."""

    agency: str
    """Agency code."""
    zh: str
    """Agency name in Chinese."""
    en: str
    """Agency name in English."""
    available: int
    """Units free to take a task."""
    engaged: int
    """Units holding an order, off duty or out of service."""


class ResponseTimes(msgspec.Struct, frozen=True, kw_only=True):
    """Today's response: from report to the first unit on scene."""

    average_s: float | None
    """Mean seconds over today's incidents that have been reached; None when none has."""
    reached: int
    """Incidents reported today that a unit has reached."""
    reported: int
    """Incidents reported today."""


class WeatherValue(msgspec.Struct, frozen=True, kw_only=True):
    """One weather figure."""

    value: float
    """The value, in `unit`."""
    unit: str
    """Its unit."""
    station: str
    """Where it was measured."""
    at: int
    """When, epoch milliseconds."""


class TickerItem(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the wall's event ticker."""

    key: str
    """Unique key (journal sequence), so the browser shows each once."""
    at: int
    """When, epoch milliseconds."""
    kind: str
    """What happened: dispatch, ack, overdue."""
    level: str
    """The incident's level."""
    incident: str
    """The incident's id."""
    zh: str
    """The line in Chinese."""
    en: str
    """The line in English."""


class WallSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Everything /api/wall/summary answers."""

    at: int
    """When it was computed, epoch milliseconds."""
    units: list[AgencyUnits]
    """Per agency, most units first."""
    alarms_hour: int
    """Alarms raised in the last hour."""
    response: ResponseTimes
    """Today's response times."""
    weather: dict[str, WeatherValue]
    """Latest weather by figure (temperature, wind_speed, wind_direction, rainfall); empty
    when there is none (the wall says 无数据 no data)."""
    events: list[TickerItem]
    """Recent dispatches and acknowledgements, newest first."""


def units_by_agency(points: Sequence[UnitPoint], taxonomy: Taxonomy) -> list[AgencyUnits]:
    """Available and engaged units per agency, most units first, with the taxonomy's short
    agency names."""
    counts: dict[str, list[int]] = {}
    for point in points:
        tally = counts.setdefault(point.agency, [0, 0])
        tally[0 if point.available else 1] += 1
    ordered = sorted(counts.items(), key=lambda item: (-sum(item[1]), item[0]))
    return [AgencyUnits(agency=agency, zh=taxonomy.agency_name(agency, Lang.ZH, short=True),
                        en=taxonomy.agency_name(agency, Lang.EN, short=True),
                        available=tally[0], engaged=tally[1]) for agency, tally in ordered]


def response_times(rows: Sequence[Mapping[str, Any]]) -> ResponseTimes:
    """Mean report → first-on-scene time over rows of `CommandStore.daily_rows`."""
    spans = [(r["first_on_scene_at"] - r["reported_at"]).total_seconds() for r in rows
             if r.get("first_on_scene_at") is not None]
    spans = [s for s in spans if s >= 0]  # a clock-skewed field ack is not a response
    return ResponseTimes(average_s=sum(spans) / len(spans) if spans else None,
                         reached=len(spans), reported=len(rows))


def weather_of(readings: Sequence[Reading]) -> dict[str, WeatherValue]:
    """The newest reading of each weather figure."""
    found: dict[str, WeatherValue] = {}
    for figure, quantities in WEATHER_QUANTITIES.items():
        for quantity in quantities:
            matching = [r for r in readings if r.quantity == quantity]
            if matching:
                newest = max(matching, key=lambda r: r.ts)
                found[figure] = WeatherValue(value=newest.value, unit=newest.unit,
                                             station=newest.station or newest.sensor,
                                             at=int(newest.ts.timestamp() * 1000))
                break
    return found


def ticker_item(event: JournalEvent,
                plan_names: Mapping[str, tuple[str, str]] | None = None) -> TickerItem:
    """A journal event as a bilingual ticker line (`plan_names`: plan id → (zh, en))."""
    data = event.data
    title = event.title
    if event.action == "dispatch":
        count = len(data.get("orders") or [])
        plan = str(data.get("plan") or "")
        plan_zh, plan_en = (plan_names or {}).get(plan, (plan or "单独调派", plan or "manual"))
        kind, zh, en = ("dispatch", f"调派「{plan_zh}」{count} 个单位 · {title}",
                        f"Dispatched ({plan_en}): {count} units · {title}")
    elif event.action == "order_ack":
        state = str(data.get("state"))
        # Lower case in English: the state sits mid-sentence ("xt-119-01 on scene · …").
        reported = AckState(state) if state in _ACK_CODES else None
        state_zh, state_en = ((reported.label(Lang.ZH), reported.label(Lang.EN).lower())
                              if reported else (state, state))
        unit = data.get("unit", "?")
        kind, zh, en = ("ack", f"{unit} {state_zh} · {title}", f"{unit} {state_en} · {title}")
    else:
        unit = data.get("unit", "?")
        kind, zh, en = ("overdue", f"{unit} 超时未确认，已重发 · {title}",
                        f"{unit} did not acknowledge; re-sent · {title}")
    return TickerItem(key=f"j{event.seq}", at=int(event.at.timestamp() * 1000), kind=kind,
                      level=event.level.value, incident=event.incident_id, zh=zh, en=en)


def local_day(now: datetime, tz: tzinfo = LOCAL_TZ) -> tuple[datetime, datetime]:
    """[start, end) of the local calendar day containing `now`."""
    local = now.astimezone(tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


class WallData:
    """Reads and caches the wall's summary (thread-safe; the reads run on the bridge)."""

    def __init__(self, bridge: AsyncBridge, online_s: int, taxonomy: Taxonomy,
                 plan_names: Mapping[str, tuple[str, str]] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._bridge = bridge
        self._online_s = online_s
        self._taxonomy = taxonomy
        self._plan_names = dict(plan_names or {})
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, bytes] | None = None

    def summary_json(self) -> bytes:
        """The summary as JSON, read again when older than CACHE_S."""
        with self._lock:  # one read at a time; the others wait and take its result
            if self._cached is None or time.monotonic() - self._cached[0] > CACHE_S:
                summary = self._bridge.call(self._read)
                self._cached = (time.monotonic(), msgspec.json.encode(summary))
            return self._cached[1]

    async def _read(self) -> WallSummary:
        now = self._clock()
        store = await self._bridge.store()
        commands = store.commands
        wall = WallboardQueries(store.pool)
        day_start, day_end = local_day(now)
        quantities = [q for names in WEATHER_QUANTITIES.values() for q in names]
        points, alarms, rows, readings, events = await asyncio.gather(
            commands.unit_points(now - timedelta(seconds=self._online_s)),
            wall.active_alarms_since(now - timedelta(hours=1)),
            commands.daily_rows(day_start, day_end),
            wall.latest_readings("weather", quantities, now - WEATHER_MAX_AGE),
            wall.recent_events(TICKER_ACTIONS, now - timedelta(hours=1)))
        return WallSummary(at=int(now.timestamp() * 1000),
                           units=units_by_agency(points, self._taxonomy),
                           alarms_hour=alarms, response=response_times(rows),
                           weather=weather_of(readings),
                           events=[ticker_item(e, self._plan_names) for e in events])


def wall_blueprint(bridge: AsyncBridge, settings: Settings) -> Blueprint:
    """GET /api/wall/summary (any signed-in user who may view)."""
    routes = Blueprint("wall", __name__)
    taxonomy = load_taxonomy()
    plans = load_plans(taxonomy)
    data = WallData(bridge, settings.unit_online_s, taxonomy,
                    {plan.id: (plan.name.zh, plan.name.en) for plan in plans.plans})

    @routes.get(SUMMARY_PATH)
    def wall_summary() -> Response:
        """The wall's figures from PostgreSQL (see WallSummary)."""
        require(Action.VIEW)
        try:
            body = data.summary_json()
        except StoreUnavailable as exc:
            log.warning("wall summary unavailable: %s", exc)
            return Response(msgspec.json.encode({
                "error": "store_unavailable",
                "hint": "数据库暂不可用，稍后自动重试 / the database is unavailable; the wall"
                        " retries by itself"}), status=503, mimetype="application/json",
                headers={"Retry-After": "10"})
        return Response(body, mimetype="application/json", headers={"Cache-Control": "no-store"})

    return routes
