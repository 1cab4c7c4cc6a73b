"""PostgreSQL crashes under a running dashboard and ingest worker, and comes back.

While it is down, every API route answers 503 with a JSON reason at once (none 500, none
hangs), and the field units' messages are held (not receipted: ingest never acknowledges
what it has not committed). When it is back on the same port and data directory, everything
recovers by itself: the routes answer as before, every message published before and during
the outage is stored exactly once, and the background tasks are alive (the health report
lists none dead; the dashboard logged the unit index's outage once, not once per round).
"""

from __future__ import annotations

import asyncio
import functools
import http.cookiejar
import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config.settings import FeedWatchSettings, IngestSettings, Settings
from incidents.model import Kind, Position
from incidents.store import Store, ensure_database
from incidents.store.layers import LayerStore
from ingest.field_client import FieldClient, new_id
from tests.conftest import Broker
from tests.support.auth import TEST_PASSWORD, create_token, create_user, csrf_of
from tests.support.processes import start_sitroom
from tests.support.servers import ServerProcess, free_port, start_postgres, wait_port
from tests.support.waiting import eventually

pytestmark = [pytest.mark.fault, pytest.mark.integration]

UNITS = 3
PER_ROUND = 40
HOLD_S = 4.0
"""The outage lasts at least this long (several rounds of every background task)."""
ANSWER_WITHIN_S = 5.0
"""An answer during the outage must come this fast (a hang is a failure)."""

# GET routes outside the command API's OpenAPI document (the command API's are read from it).
OTHER_GETS = [
    "/api/health", "/api/units", "/api/incidents", "/api/hotspots", "/api/layers",
    "/api/layers/{name}.geojson", "/api/layers/by-kind/{layer_kind}.geojson", "/api/streams",
    "/api/deadletters", "/api/cap", "/api/cap/{alert_id}", "/api/wall/summary",
    "/api/reports/daily", "/api/incidents/{incident_id}/cap",
    "/api/incidents/{incident_id}/sitrep", "/api/incidents/{incident_id}/video",
]
LAYER = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "id": "h1", "properties": {"name": "医院", "kind": "hospital"},
     "geometry": {"type": "Point", "coordinates": [114.5, 37.07]}}]}


@dataclass
class Client:
    """HTTP to the dashboard as one caller: a bearer token or a signed-in session."""

    base: str
    token: str | None = None
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """(status, JSON document or None, seconds taken)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=headers)
        started = time.monotonic()
        try:
            with opener.open(request, timeout=30) as response:
                status, kind, raw = (response.status, response.headers.get_content_type(),
                                     response.read())
        except urllib.error.HTTPError as error:
            with error:
                status, kind, raw = error.code, error.headers.get_content_type(), error.read()
        took = time.monotonic() - started
        return status, json.loads(raw) if kind.endswith("json") else None, took

    def sign_in(self, username: str) -> None:
        """Sign in through the form, keeping the session cookie."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        with opener.open(self.base + "/login?next=/api/health", timeout=30) as page:
            csrf = csrf_of(page.read().decode())
        form = urllib.parse.urlencode({"username": username, "password": TEST_PASSWORD,
                                       "csrf_token": csrf, "next": "/api/health"}).encode()
        with opener.open(self.base + "/login", data=form, timeout=30) as answer:
            assert answer.status == 200


@dataclass
class System:
    """Our own PostgreSQL, with a dashboard and an ingest worker on it."""

    pg: ServerProcess
    dsn: str
    settings: Settings
    dashboard: subprocess.Popen[bytes]
    ingest: subprocess.Popen[bytes]
    logs: Path


def _crash(pg: ServerProcess) -> None:
    """`pg_ctl stop -m immediate`: SIGQUIT to the postmaster, no checkpoint."""
    pg.process.send_signal(signal.SIGQUIT)
    pg.process.wait(timeout=30)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
async def system(tmp_path: Path, redis_server: str, redis_prefix: str,
                 mosquitto: Broker) -> AsyncIterator[System]:
    """PostgreSQL of our own (this test crashes it), the shared Redis and broker."""
    # Its data lives outside pytest's temporary root: a pytest session starting meanwhile
    # (another worktree's) makes that root 0700 again, and PostgreSQL, running as its own
    # user, could then not start again on its data directory.
    data = Path(tempfile.mkdtemp(prefix="sitroom-pg-outage-"))
    pg = start_postgres(data / "pg")
    try:
        dsn = f"postgresql://postgres@127.0.0.1:{pg.port}/sitroom"
        await ensure_database(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres", "sitroom")
        store = await Store.connect(dsn)
        try:
            await store.migrate()
            await LayerStore(store.pool).put_layer("hospitals", "facilities", "EPSG:4326",
                                                   LAYER)
        finally:
            await store.close()
        await create_user(dsn, "lead", "leader")
        settings = Settings(
            database_url=dsn, redis_url=redis_server, redis_prefix=redis_prefix,
            mqtt_url=mosquitto.url, mqtt_protocol=mosquitto.protocol,
            topic_root=f"t{uuid.uuid4().hex[:8]}/v1", var_dir=tmp_path,
            dashboard_port=free_port(),
            # Health is "ok" only with every watched feed arriving; this test's units come
            # and go in rounds, and silent feeds have their own test (test_feeds_silent.py).
            feeds=FeedWatchSettings(agencies=()),
            ingest=IngestSettings(client_id=f"ingest-{uuid.uuid4().hex[:6]}",
                                  session_expiry_s=600, heartbeat_s=0.5))
        logs = tmp_path / "logs"
        logs.mkdir()
        ingest = start_sitroom(["ingest"], settings, logs / "ingest.log")
        dashboard = start_sitroom(["dashboard"], settings, logs / "dashboard.log")
        try:
            await asyncio.to_thread(wait_port, settings.dashboard_port, dashboard, 90.0,
                                    logs / "dashboard.log")
            yield System(pg, dsn, settings, dashboard, ingest, logs)
        finally:
            _stop(dashboard)
            _stop(ingest)
    finally:
        pg.stop()
        shutil.rmtree(data, ignore_errors=True)


def _routes(openapi: dict[str, Any]) -> list[str]:
    gets = [path for path, ops in openapi["paths"].items() if "get" in ops]
    assert "/api/incidents/{incident_id}/timeline" in gets  # the document lists the API
    return sorted(set(gets) | set(OTHER_GETS))


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


def _commands(incident_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The main command routes, each with a valid body."""
    return [
        ("/api/incidents", {"type": "fire", "title": "停电期间报警", "lat": 37.06,
                            "lon": 114.49, "level": "III"}),
        (f"/api/incidents/{incident_id}/actions", {"action": "verify"}),
        (f"/api/incidents/{incident_id}/notes", {"text": "数据库停机期间的备注"}),
        (f"/api/incidents/{incident_id}/merge", {"absorbed": str(uuid.uuid4())}),
        (f"/api/incidents/{incident_id}/dispatch", {"plan": None}),
        ("/api/orders/o-unknown/reassign", {"unit": "unit-00"}),
        ("/api/units/unit-00/release", {"reason": "停机期间"}),
    ]


def _says_why(path: str, doc: Any) -> bool:
    """Whether a 503's JSON says what is wrong (the health report: the database is down)."""
    if not isinstance(doc, dict):
        return False
    if path == "/api/health" and "status" in doc:  # past sign-in (a session), the report
        return doc["status"] == "down" and doc["database"]["ok"] is False
    return bool(doc.get("error"))


def _said(log: Path, task: str) -> list[str]:
    """The lines of a process's log about one background task's outages."""
    return [line for line in log.read_text(errors="replace").splitlines()
            if f" {task}: " in line]


def _send(clients: list[FieldClient], round_: int) -> set[str]:
    sent: set[str] = set()
    for i, client in enumerate(clients):
        batch = [Position(id=new_id(), ts=datetime.now(UTC), unit=f"unit-{i:02d}",
                          lat=37.07 + round_ * 1e-4, lon=114.5 + i * 1e-3)
                 for _ in range(PER_ROUND)]
        sent.update(client.send_many(Kind.POSITION, list(batch)))
    return sent


@pytest.fixture
def field_units(system: System, tmp_path: Path) -> Iterator[list[FieldClient]]:
    """Field units that keep each message in an outbox until ingest receipts it."""
    settings = system.settings
    clients = [FieldClient(settings.mqtt_url or "", "police", f"unit-{i:02d}",
                           tmp_path / f"outbox-{i}.sqlite", topic_root=settings.topic_root,
                           resend_after_s=3).start() for i in range(UNITS)]
    yield clients
    for client in clients:
        client.close()


async def test_every_route_answers_503_while_postgres_is_down_and_all_recovers(
        system: System, field_units: list[FieldClient]) -> None:
    base = f"http://127.0.0.1:{system.settings.dashboard_port}"
    token = Client(base, await create_token(system.dsn, "leader"))
    session = Client(base)
    await asyncio.to_thread(session.sign_in, "lead")
    await eventually(lambda: asyncio.to_thread(token.call, "GET", "/api/health"),
                     lambda r: r[0] == 200 and r[1]["ingest"]["ok"], timeout_s=60,
                     interval_s=0.25)
    status, created, _ = await asyncio.to_thread(token.call, "POST", "/api/incidents",
                                                 _commands("-")[0][1])
    assert status == 201, created
    ids = {"incident_id": created["id"], "name": "hospitals", "layer_kind": "facilities",
           "alert_id": "no-such-alert", "unit": "unit-00"}
    _, openapi, _ = await asyncio.to_thread(token.call, "GET", "/api/openapi.json")
    routes = [_fill(path, ids) for path in _routes(openapi)]
    before = {path: (await asyncio.to_thread(token.call, "GET", path))[0] for path in routes}
    assert all(code < 500 for code in before.values()), before
    assert before[f"/api/incidents/{created['id']}/timeline"] == 200

    await eventually(lambda: all(c.connected for c in field_units), bool, timeout_s=15)
    sent = _send(field_units, 0)
    await eventually(lambda: sum(c.pending() for c in field_units), lambda n: n == 0,
                     timeout_s=30, interval_s=0.2)

    await asyncio.to_thread(_crash, system.pg)
    down_at = time.monotonic()
    sent |= _send(field_units, 1)

    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for client, who in ((token, "token"), (session, "session")):
        calls: list[tuple[str, str, dict[str, Any] | None]] = [
            ("GET", path, None) for path in routes]
        calls += [("POST", path, body) for path, body in _commands(created["id"])]
        for method, path, body in calls:
            status, doc, took = await asyncio.to_thread(client.call, method, path, body)
            seen[who, path] = status
            # A session is checked in Redis: routes served from the live state still answer.
            served_anyway = who == "session" and method == "GET" and status == before[path]
            if took > ANSWER_WITHIN_S:
                problems.append(f"{who} {method} {path}: answered after {took:.1f} s")
            if not served_anyway and (status != 503 or not _says_why(path, doc)):
                problems.append(f"{who} {method} {path}: {status} {doc!r:.200}")
    assert not problems, "\n".join(problems)
    # Past sign-in, the routes that read PostgreSQL answered 503 themselves.
    incident = f"/api/incidents/{created['id']}"
    for path in (incident, f"{incident}/timeline", f"{incident}/orders", "/api/layers",
                 "/api/incidents/search", "/api/deadletters", f"{incident}/notes"):
        assert seen["session", path] == 503, (path, seen["session", path])
    # Held, not lost: ingest receipts only what it committed.
    assert sum(c.pending() for c in field_units) > 0
    await asyncio.sleep(HOLD_S)  # every background task goes through failed rounds
    assert sum(c.pending() for c in field_units) > 0

    await asyncio.to_thread(system.pg.restart)  # same port, same data directory
    outage_s = time.monotonic() - down_at

    async def answers() -> dict[str, int]:
        return {path: (await asyncio.to_thread(token.call, "GET", path))[0]
                for path in routes}

    await eventually(answers, lambda now: now == before, timeout_s=30, interval_s=0.5)
    status, _, _ = await asyncio.to_thread(
        session.call, "POST", f"/api/incidents/{created['id']}/notes", {"text": "恢复"})
    assert status in (200, 201)
    sent |= _send(field_units, 2)
    await eventually(lambda: sum(c.pending() for c in field_units), lambda n: n == 0,
                     timeout_s=60, interval_s=0.25)
    store = await Store.connect(system.dsn)
    try:
        stored = await store.position_ids()
    finally:
        await store.close()
    assert len(stored) == len(set(stored)) == len(sent) == UNITS * PER_ROUND * 3
    assert set(stored) == sent

    # Alive: no process died, no background task died, each outage logged once per task.
    assert system.dashboard.poll() is None and system.ingest.poll() is None
    status, report, _ = await eventually(
        lambda: asyncio.to_thread(token.call, "GET", "/api/health"),
        lambda r: r[0] == 200 and r[1]["status"] == "ok", timeout_s=20, interval_s=0.25)
    assert report["tasks"] == {"ok": True, "failed": {}}
    for log, task in (("dashboard", "unit index"), ("ingest", "ingest heartbeat"),
                      ("ingest", "dispatch-order sender"), ("ingest", "ingest commits")):
        said = await eventually(functools.partial(_said, system.logs / f"{log}.log", task),
                                lambda lines: len(lines) >= 2, timeout_s=10)
        assert len(said) == 2, said  # the outage, once, and its end
        assert "retrying with backoff" in said[0] and "working again after" in said[1]
    dashboard_log = (system.logs / "dashboard.log").read_text(errors="replace")
    ingest_log = (system.logs / "ingest.log").read_text(errors="replace")
    for name, text in (("dashboard", dashboard_log), ("ingest", ingest_log)):
        errors = [line for line in text.splitlines() if " ERROR " in line]
        assert not errors, f"{name}: {errors}"
    print(f"PostgreSQL down {outage_s:.1f} s; {len(routes)} GET routes and"
          f" {len(_commands('-'))} commands answered 503; {len(sent)} messages stored once")
