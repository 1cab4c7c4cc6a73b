"""Restart everything mid-dispatch (issue #14): units have acked en route when the dashboard
and ingest are SIGKILLed; after both restart and the incidents close, every unit is available
again and `sitroom check` passes. Then inconsistencies forced in SQL are named by
`sitroom check` with their repair, and `sitroom check --repair` clears them, journaled.

In the simulated day that motivated it, 56 of 68 units stayed en route after one restart and
every plan proposed no unit.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from config.settings import DispatchSettings, FeedWatchSettings, IngestSettings, Settings
from incidents.model import Ack, AckState, Kind, Position
from ingest.field_client import FieldClient, new_id
from tests.support.auth import create_token
from tests.support.http import send_json
from tests.support.processes import settings_env, start_sitroom
from tests.support.servers import ServerProcess, free_port, start_mosquitto, wait_port
from tests.support.waiting import eventually

pytestmark = [pytest.mark.fault, pytest.mark.integration]

UNITS = [f"e{i}" for i in range(6)]
HERE = (37.06, 114.49)


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[ServerProcess]:
    """A private Mosquitto (the field clients' sessions outlive ingest's restart)."""
    server = start_mosquitto(tmp_path / "mosquitto")
    yield server
    server.stop()


def sitroom(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `sitroom` command as an operator would."""
    return subprocess.run([sys.executable, "-m", "sitroom", *args], env=settings_env(settings),
                          text=True, capture_output=True, timeout=120, check=False)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _rows(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def availability(dsn: str) -> dict[str, str | None]:
    """Each unit's availability as the units table holds it."""
    return {r["unit"]: r["availability"] for r in await _rows(
        dsn, "SELECT unit, availability FROM units WHERE unit = ANY($1::text[])", UNITS)}


async def order_states(dsn: str) -> dict[str, str]:
    """Each order's state by unit."""
    return {r["unit"]: r["state"] for r in await _rows(
        dsn, "SELECT unit, state FROM dispatch_orders")}


async def test_units_are_free_after_a_restart_and_the_close(
    own_mosquitto: ServerProcess, database_url: str, redis_server: str, redis_prefix: str,
    tmp_path: Path,
) -> None:
    leader = await create_token(database_url, "leader", label="leader-restart")
    settings = Settings(
        database_url=database_url, redis_url=redis_server, redis_prefix=redis_prefix,
        mqtt_url=f"mqtt://127.0.0.1:{own_mosquitto.port}", mqtt_protocol="5",
        topic_root=f"t{uuid.uuid4().hex[:8]}/v1", var_dir=tmp_path,
        dashboard_port=free_port(), feeds=FeedWatchSettings(agencies=()),
        dispatch=DispatchSettings(check_every_s=5),
        ingest=IngestSettings(client_id=f"ingest-{uuid.uuid4().hex[:6]}",
                              session_expiry_s=600, heartbeat_s=0.5))
    logs = {name: tmp_path / f"{name}.log" for name in ("ingest", "dashboard")}

    def start(name: str) -> subprocess.Popen[bytes]:
        return start_sitroom([name], settings, logs[name])

    processes = {name: start(name) for name in logs}
    clients = {unit: FieldClient(settings.mqtt_url or "", "fire", unit,
                                 tmp_path / f"outbox-{unit}.sqlite",
                                 topic_root=settings.topic_root, resend_after_s=2).start()
               for unit in UNITS}
    api = f"http://127.0.0.1:{settings.dashboard_port}/api"

    def ack(unit: str, order: str, state: AckState) -> None:
        clients[unit].send(Kind.ACK, Ack(id=new_id(), ts=datetime.now(UTC), order=order,
                                         unit=unit, state=state))

    try:
        await asyncio.to_thread(wait_port, settings.dashboard_port, processes["dashboard"],
                                90.0, logs["dashboard"])
        await eventually(lambda: all(c.connected for c in clients.values()), bool)
        for i, (unit, client) in enumerate(clients.items()):
            client.send(Kind.POSITION, Position(
                id=new_id(), ts=datetime.now(UTC), unit=unit, unit_type="fire_engine",
                lat=HERE[0] + i * 0.001, lon=HERE[1]))
        await eventually(lambda: availability(database_url), lambda a: len(a) == len(UNITS))

        incidents, orders = [], {}
        for units in (UNITS[:3], UNITS[3:]):
            status, incident = send_json("POST", f"{api}/incidents", leader, {
                "type": "fire", "title": "仓库起火", "lat": HERE[0], "lon": HERE[1]})
            assert status == 201, incident
            url = f"{api}/incidents/{incident['id']}"
            assert send_json("POST", f"{url}/actions", leader, {"action": "verify"})[0] == 200
            status, issued = send_json("POST", f"{url}/dispatch", leader, {"assignments": [
                {"task": "fire_attack", "unit": u} for u in units]})
            assert status == 201, issued
            incidents.append(url)
            orders.update({o["unit"]: o["id"] for o in issued})
        for unit in UNITS[:4]:
            ack(unit, orders[unit], AckState.ACKNOWLEDGED)
            ack(unit, orders[unit], AckState.EN_ROUTE)
        await eventually(lambda: order_states(database_url),
                         lambda s: [s[u] for u in UNITS[:4]] == ["en_route"] * 4)

        # Mid-dispatch: both processes die; the last two units ack while ingest is down.
        for process in processes.values():
            process.send_signal(signal.SIGKILL)
            process.wait()
        for unit in UNITS[4:]:
            ack(unit, orders[unit], AckState.EN_ROUTE)
        processes = {name: start(name) for name in logs}
        await asyncio.to_thread(wait_port, settings.dashboard_port, processes["dashboard"],
                                90.0, logs["dashboard"])
        await eventually(lambda: availability(database_url),
                         lambda a: set(a.values()) == {"en_route"}, timeout_s=60)

        for url in incidents:
            for action in ("contain", "close"):
                status, done = send_json("POST", f"{url}/actions", leader, {"action": action})
                assert status == 200, done
        assert set((await availability(database_url)).values()) == {"available"}
        assert set((await order_states(database_url)).values()) == {"cancelled"}
        status, incident = send_json("POST", f"{api}/incidents", leader, {
            "type": "fire", "title": "又一处起火", "lat": HERE[0], "lon": HERE[1]})
        send_json("POST", f"{api}/incidents/{incident['id']}/actions", leader,
                  {"action": "verify"})

        def proposed() -> list[str]:
            _, plan = send_json("GET", f"{api}/incidents/{incident['id']}/proposal", leader)
            return sorted(u["unit"]["unit"] for p in plan["proposals"] for u in p["units"])
        await eventually(lambda: asyncio.to_thread(proposed), lambda p: len(p) == 3)
        passed = sitroom(settings, "check")
        assert passed.returncode == 0, passed.stderr
        assert "check passed" in passed.stdout

        # Forced inconsistencies: an open order on a closed incident, a busy unit without one.
        await _rows(database_url, "UPDATE dispatch_orders SET state = 'en_route' WHERE id = $1",
                    orders["e0"])
        await _rows(database_url, "UPDATE units SET availability = 'on_scene' WHERE unit = $1",
                    "e5")
        failed = sitroom(settings, "check")
        assert failed.returncode == 1
        assert "open_order_on_closed_incident: " in failed.stderr
        assert "sitroom unit release e0 --reason" in failed.stderr
        assert "unit_busy_without_order" in failed.stderr
        assert "sitroom unit release e5 --reason" in failed.stderr
        # The dashboard's own watch sees them too (the desk's warning reads it).
        await eventually(lambda: asyncio.to_thread(send_json, "GET", f"{api}/check", leader),
                         lambda answer: len(answer[1]["findings"]) == 2, timeout_s=30)
        repaired = sitroom(settings, "check", "--repair", "--by", "ops-duty")
        assert repaired.returncode == 0, repaired.stderr
        assert repaired.stdout.count("repaired: ") == 2
        assert sitroom(settings, "check").returncode == 0
        cancelled = await _rows(
            database_url, "SELECT actor, data FROM incident_events"
            " WHERE action = 'orders_cancelled' AND actor = 'ops-duty'")
        assert len(cancelled) == 1 and "sitroom check --repair" in cancelled[0]["data"]
    finally:
        for client in clients.values():
            client.close()
        for process in processes.values():
            _stop(process)
