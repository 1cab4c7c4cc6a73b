"""A command service on a test's store and live state, with the shipped taxonomy and plans."""

from __future__ import annotations

from incidents.briefing import Briefing
from incidents.clock import Clock
from incidents.command import CommandService
from incidents.live import LiveState
from incidents.plans import load_plans
from incidents.store import Store
from incidents.taxonomy import load_taxonomy
from maps.analysis.spatial import demo_spatial
from maps.analysis.units import GridUnitIndex
from maps.reporting import report_districts


def command_service(store: Store, live: LiveState | None, *, with_layers: bool = False,
                    clock: Clock | None = None) -> CommandService:
    """The service as the dashboard builds it; on the demo layers when `with_layers`."""
    taxonomy = load_taxonomy()
    return CommandService(store.commands, live, taxonomy, load_plans(taxonomy),
                          demo_spatial() if with_layers else None, GridUnitIndex(), clock=clock)


def briefing(store: Store, service: CommandService) -> Briefing:
    """Reports on the demo city's districts."""
    return Briefing(service, store.commands, load_taxonomy(), report_districts(), demo_spatial())
