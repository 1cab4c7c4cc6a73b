"""Builds the command service and the briefings for the dashboard, once, on the bridge's loop.

This is where implementations are chosen: the spatial analysis and the unit index of maps/,
fed from the layers stored in PostgreSQL (the demo imports its synthetic layers at start).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import Flask

from config.settings import Settings
from dashboard.portal import AsyncBridge
from incidents.briefing import Briefing
from incidents.command import CommandService
from incidents.plans import load_plans
from incidents.store import Store
from incidents.store.layers import LayerStore
from incidents.store.users import UserStore
from incidents.taxonomy import load_taxonomy
from maps.analysis.spatial import LayerSpatial
from maps.analysis.units import GridUnitIndex
from maps.reporting import report_districts

COMMANDS_KEY = "sitroom.commands"
"""Where a dashboard server keeps its SharedCommands (`server.extensions`)."""

UNITS_REFRESH_S = 1.0
"""How often the unit index re-reads moved units (proposals use positions at most 2 s old)."""


@dataclass(frozen=True, slots=True)
class Commands:
    """What the command API and pages call."""

    service: CommandService
    """Incidents and dispatch."""
    briefing: Briefing
    """Situation reports, CAP alerts, the daily summary."""


async def spatial_from_store(store: Store) -> LayerSpatial:
    """Spatial analysis over the layers stored in PostgreSQL (districts: the basemap's)."""
    layers = LayerStore(store.pool)

    async def kind(name: str) -> list[dict[str, object]]:
        return [dict(fc) for fc in await layers.feature_collections(name)]

    return LayerSpatial.from_feature_collections(
        facilities=await kind("facilities") + await kind("gauges"),
        cameras=await kind("cameras"), population=await kind("population"))


def commands_factory(settings: Settings) -> Callable[[AsyncBridge], Commands]:
    """A factory the command API calls once, with the dashboard's bridge."""
    taxonomy = load_taxonomy()
    plans = load_plans(taxonomy)
    zone = ZoneInfo(settings.auth.timezone)  # an unknown zone fails here, at start-up

    def build(bridge: AsyncBridge) -> Commands:
        async def make() -> Commands:
            store = await bridge.store()
            spatial = await spatial_from_store(store)
            service = CommandService(store.commands, bridge.live, taxonomy, plans, spatial,
                                     GridUnitIndex(), unit_online_s=settings.unit_online_s,
                                     units_max_age_s=2 * UNITS_REFRESH_S,
                                     stale_order_s=settings.dispatch.stale_order_s,
                                     bulk_max=settings.bulk_max_incidents)
            # Lives as long as the bridge's loop: the dashboard process.
            refresher = asyncio.get_running_loop().create_task(
                service.keep_units_fresh(UNITS_REFRESH_S), name="unit-index")
            bridge.keep(refresher)  # cancelled before the pool closes; a death is reported
            bridge.keep(asyncio.get_running_loop().create_task(
                service.watch_states(settings.dispatch.check_every_s), name="state-check"))
            # Reports name people from the accounts, over the store's own pool.
            return Commands(service=service, briefing=Briefing(
                service, store.commands, taxonomy, report_districts(), spatial,
                people=UserStore(store.pool), tz=zone))
        return bridge.call(make)

    return build


class SharedCommands:
    """The one Commands of a dashboard: built on first use, then the same for the command API
    and every page. Callable with the bridge, as the command API's factory."""

    def __init__(self, factory: Callable[[AsyncBridge], Commands]) -> None:
        self._factory = factory
        self._built: Commands | None = None
        self._lock = threading.Lock()  # request threads may arrive first at once

    def __call__(self, bridge: AsyncBridge) -> Commands:
        """The Commands, built on the bridge's loop the first time."""
        with self._lock:
            if self._built is None:
                self._built = self._factory(bridge)
            return self._built


def shared_commands(server: Flask, settings: Settings) -> SharedCommands:
    """The SharedCommands of this dashboard server, created by whoever asks first."""
    found = server.extensions.get(COMMANDS_KEY)
    if not isinstance(found, SharedCommands):
        found = SharedCommands(commands_factory(settings))
        server.extensions[COMMANDS_KEY] = found
    return found

