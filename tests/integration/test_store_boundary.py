"""Every public method of every store class turns a lost PostgreSQL into StoreUnavailable.

The store classes are found, not listed: each class in incidents/store/ built on a pool.
Each public coroutine method runs against a store whose server went away (its connections
dropped, new ones refused): it must raise StoreUnavailable naming the server, never a raw
asyncpg or OSError. A new method without arguments below fails the test: add them, and go
through incidents/store/session.py's `connection` or `transaction`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

import incidents.store
from incidents.feeds import UnitFix
from incidents.model import Inbound, Incident, IncidentStatus, Level, Report
from incidents.outcomes import OpenIncident, Outcome, Rule
from incidents.plans import Requirement
from incidents.store import Store, StoreUnavailable, ensure_database
from incidents.store.layers import LayerStore
from incidents.store.orders_sql import OrderOutbox
from incidents.store.replay import ReplayStore
from incidents.store.users import UserStore
from incidents.store.wallboard import WallboardQueries
from incidents.taxonomy import Text
from tests.support.keys import TEST_JOURNAL_KEY
from tests.support.messages import inbound, report
from tests.support.proxy import CuttableProxy

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
ID = str(uuid.uuid4())


def calls(n: int) -> list[Inbound]:
    """New emergency calls, each a report that opens its own incident."""
    return [inbound(report("medical", text=f"120 来电 {k}"), "health", "c120")
            for k in range(n)]


def open_each(items: Sequence[Inbound]) -> list[Outcome]:
    """The rules for a type that is never joined: each report opens an incident."""
    return [OpenIncident(key=f"report:{i.message.id}", type=i.message.type, level=Level.III,
                         title_zh="急救", title_en="Medical", lat=i.message.lat,
                         lon=i.message.lon, rule=Rule.REPORT, note_zh="首报",
                         note_en="first report", evidence=(i.message.id,))
            for i in items if isinstance(i.message, Report)]


def _never(*_: Any) -> Any:
    raise AssertionError("a decision ran although the server was gone")


async def _publish(_: Any) -> None:
    raise AssertionError("published although the server was gone")


_REQ = Requirement(plan_id="p", plan_version="1", level=Level.III, task_id="t", agency="fire",
                   unit_kind="engine", count=1, ack_deadline_s=60, name=Text(zh="任务", en="task"),
                   detail=Text(zh="细节", en="detail"))
_FIX = UnitFix("fix-1", "car-1", "police", "avl", NOW, 37.0, 114.5, None, None, None, NOW, None)
_LAYER = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {}, "geometry": {"type": "Point",
                                                         "coordinates": [114.5, 37.0]}}]}

Call = Callable[[Any], Awaitable[Any]]

# Arguments for each public coroutine method, by class name and method name.
CALLS: dict[str, dict[str, Call]] = {
    "Store": {
        "cap_alert": lambda s: s.cap_alert("a"),
        "cap_alerts": lambda s: s.cap_alerts(),
        "catch_up_units": lambda s: s.catch_up_units(),
        "closed_rule_keys": lambda s: s.closed_rule_keys(NOW),
        "counts": lambda s: s.counts(),
        "dead_letters": lambda s: s.dead_letters(),
        "drain_seconds": lambda s: s.drain_seconds(),
        "incident_events": lambda s: s.incident_events(ID),
        "mark_replayed": lambda s: s.mark_replayed([1]),
        "migrate": lambda s: s.migrate(),
        "open_incidents": lambda s: s.open_incidents(),
        # The writer knows the journal head (primed below), so it takes a connection.
        "open_reports": lambda s: s.open_reports(calls(2), open_each),
        "open_rule_incidents": lambda s: s.open_rule_incidents(),
        "ping": lambda s: s.ping(),
        "position_ids": lambda s: s.position_ids(),
        "units": lambda s: s.units(),
        "update_units": lambda s: s.update_units([_FIX]),
        "verify_journal": lambda s: s.verify_journal(TEST_JOURNAL_KEY.encode()),
        "journal_head": lambda s: s.journal_head(),
        "write_batch": lambda s: s.write_batch(calls(1), [], open_each),
    },
    "CommandStore": {
        "busy_units": lambda c: c.busy_units(),
        "casualties": lambda c: c.casualties(ID),
        "check": lambda c: c.check(),
        "create": lambda c: c.create(_incident(), "lead", None, {}),
        "daily_rows": lambda c: c.daily_rows(NOW - timedelta(days=1), NOW),
        "dispatch": lambda c: c.dispatch(ID, None, Level.III, [(_REQ, "car-1")], "lead", None,
                                         NOW, None),
        "flag_stale": lambda c: c.flag_stale(NOW, timedelta(minutes=30), "lead"),
        "incident": lambda c: c.incident(ID),
        "latest_wind": lambda c: c.latest_wind(37.0, 114.5, 1000.0, NOW),
        "list_incidents": lambda c: c.list_incidents(status=None, levels=None, types=None,
                                                     since=None, limit=10),
        "merge": lambda c: c.merge(ID, str(uuid.uuid4()), _never, "lead", None),
        "note": lambda c: c.note(ID, "text", "lead", None),
        "note_event": lambda c: c.note_event(ID, "lead", "note", {}),
        "order": lambda c: c.order("o-1"),
        "orders": lambda c: c.orders(ID),
        "reassign": lambda c: c.reassign("o-1", "car-2", "lead", None, NOW),
        "release_unit": lambda c: c.release_unit("car-1", None, "lead", None, "reason", NOW),
        "similar": lambda c: c.similar(_incident(), 1000.0, 30, 10),
        "timeline": lambda c: c.timeline(ID),
        "transition": lambda c: c.transition(ID, _never, "lead", None, {}),
        "unit_changes": lambda c: c.unit_changes(NOW, None),
        "unit_events": lambda c: c.unit_events("car-1"),
        "unit_kind": lambda c: c.unit_kind("car-1"),
        "unit_points": lambda c: c.unit_points(NOW),
    },
    "UserStore": {
        "add_token": lambda u: u.add_token("t" * 16, b"x" * 32, "operator", None, "l", NOW,
                                           None),
        "add_user": lambda u: u.add_user("ann", "Ann", "hash", "operator", None, NOW),
        "people": lambda u: u.people(["ann"]),
        "put_user": lambda u: u.put_user("ann", "Ann", "hash", "operator", None, NOW),
        "record_failure": lambda u: u.record_failure("ann", NOW, 5, timedelta(minutes=5)),
        "record_success": lambda u: u.record_success("ann", NOW),
        "revoke_token": lambda u: u.revoke_token("t" * 16, NOW),
        "set_disabled": lambda u: u.set_disabled("ann", True),
        "set_password": lambda u: u.set_password("ann", "hash"),
        "token": lambda u: u.token("t" * 16),
        "touch_token": lambda u: u.touch_token("t" * 16, NOW, timedelta(minutes=1)),
        "user": lambda u: u.user("ann"),
    },
    "ReplayStore": {
        "alarms": lambda r: r.alarms(NOW, NOW - timedelta(hours=1)),
        "incidents_at": lambda r: r.incidents_at(NOW, timedelta(hours=1)),
        "reports_of": lambda r: r.reports_of(ID),
        "units_at": lambda r: r.units_at(NOW, 300),
    },
    "LayerStore": {
        "delete_layer": lambda ls: ls.delete_layer("roads"),
        "feature_collection": lambda ls: ls.feature_collection("roads"),
        "feature_collections": lambda ls: ls.feature_collections("facilities"),
        "layers": lambda ls: ls.layers(),
        "put_layer": lambda ls: ls.put_layer("roads", "facilities", "EPSG:4326", _LAYER),
    },
    "WallboardQueries": {
        "active_alarms_since": lambda w: w.active_alarms_since(NOW),
        "latest_readings": lambda w: w.latest_readings("weather", ["wind_speed"], NOW),
        "recent_events": lambda w: w.recent_events(["dispatch"], NOW),
    },
    "OrderOutbox": {
        "send_pending": lambda o: o.send_pending(_publish, NOW),
    },
}

# Lifecycle methods: they open or close pools (tested below), they run no statement.
LIFECYCLE = {"connect", "close"}


def _incident() -> Incident:
    return Incident(id=ID, type="fire", level=Level.III, status=IncidentStatus.REPORTED,
                    title="t", lat=37.0, lon=114.5, reported_at=NOW, updated_at=NOW,
                    agency="police")


def store_classes() -> dict[str, type]:
    """Every class in incidents/store/ whose constructor takes a pool."""
    found: dict[str, type] = {}
    for module_info in pkgutil.iter_modules(incidents.store.__path__):
        module = importlib.import_module(f"incidents.store.{module_info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "pool" in _parameters(cls):
                found[name] = cls
    return found


def _parameters(cls: type) -> set[str]:
    try:
        return set(inspect.signature(cls).parameters)
    except ValueError:  # a class without a Python constructor (an exception type)
        return set()


def public_methods(cls: type) -> set[str]:
    """Names of the class's public coroutine methods, lifecycle aside."""
    return {name for name, _ in inspect.getmembers(cls, inspect.iscoroutinefunction)
            if not name.startswith("_") and name not in LIFECYCLE}


def test_every_store_class_and_method_is_covered() -> None:
    classes = store_classes()
    assert {"Store", "CommandStore", "UserStore", "LayerStore"} <= set(classes)  # scan works
    assert set(classes) == set(CALLS), "a store class is missing from CALLS (or gone)"
    for name, cls in classes.items():
        assert public_methods(cls) == set(CALLS[name]), f"{name}: update CALLS"


@dataclass
class Gone:
    """Store objects over a pool whose server is about to go away."""

    proxy: CuttableProxy
    store: Store
    objects: dict[str, Any]


@pytest.fixture
async def gone(database_url: str) -> AsyncIterator[Gone]:
    """Every store class on one pool through a proxy; the journal writer knows its head."""
    target = urlsplit(database_url)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.resume()
    dsn = database_url.replace(f"{target.hostname}:{target.port}",
                               f"127.0.0.1:{proxy.port}")
    store = await Store.connect(dsn, min_size=2, max_size=2,
                                journal_key=TEST_JOURNAL_KEY.encode())
    await store.write_batch(calls(1), [], open_each)  # the writer learns the journal head
    pool = store.pool
    objects = {"Store": store, "CommandStore": store.commands, "UserStore": UserStore(pool),
               "ReplayStore": ReplayStore(pool), "LayerStore": LayerStore(pool),
               "WallboardQueries": WallboardQueries(pool),
               "OrderOutbox": OrderOutbox(pool, store.journal, "test")}
    assert set(objects) == set(CALLS)
    try:
        yield Gone(proxy, store, objects)
    finally:
        await proxy.cut()
        await store.close()


async def test_every_store_method_raises_store_unavailable_when_the_server_is_gone(
        gone: Gone) -> None:
    await gone.store.ping()  # the pool works before the cut
    await gone.proxy.cut()
    untranslated: list[str] = []
    for class_name, methods in CALLS.items():
        for method, call in methods.items():
            try:
                await call(gone.objects[class_name])
            except StoreUnavailable as exc:
                if f"127.0.0.1:{gone.proxy.port}" not in str(exc):  # names the server
                    untranslated.append(f"{class_name}.{method}: unclear message: {exc}")
                assert isinstance(exc.__cause__, OSError | asyncpg.PostgresError
                                  | asyncpg.InterfaceError), repr(exc.__cause__)
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                untranslated.append(f"{class_name}.{method}: {type(exc).__name__}: {exc}")
            else:
                untranslated.append(f"{class_name}.{method}: returned with the server gone")
    assert not untranslated, "\n".join(untranslated)


async def test_the_store_works_again_once_the_server_is_back(gone: Gone) -> None:
    await gone.proxy.cut()
    with pytest.raises(StoreUnavailable):
        await gone.store.units()
    await gone.proxy.resume()
    assert await gone.store.units() == []
    assert await gone.objects["CommandStore"].busy_units() == set()


async def test_opening_a_pool_or_a_database_on_a_gone_server_raises_store_unavailable(
        database_url: str) -> None:
    proxy = CuttableProxy("127.0.0.1", 1)  # never resumed: nothing listens on its port
    dsn = f"postgresql://postgres:secret@127.0.0.1:{proxy.port}/sitroom"
    openers: list[Callable[[], Awaitable[Any]]] = [
        lambda: Store.connect(dsn), lambda: UserStore.connect(dsn),
        lambda: ensure_database(dsn, "sitroom")]
    for opener in openers:
        with pytest.raises(StoreUnavailable) as caught:
            await opener()
        assert f"127.0.0.1:{proxy.port}" in str(caught.value)
        assert "secret" not in str(caught.value)  # never the password
