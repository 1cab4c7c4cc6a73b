"""`python -m sitroom up` as an operator runs it: all embedded, one command, Ctrl-C stops all.

The runner starts PostgreSQL, redis-server and amqtt from wheels on free ports under the test's
own var dir, then ingest and the dashboard. The test talks to it only from the outside: MQTT
3.1.1 to the embedded broker, HTTP to the dashboard's API, SQL to the embedded PostgreSQL, and
signals to its processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import asyncpg
import psutil
import pytest

from dashboard.auth import Role
from tests.support.auth import bearer, create_token
from tests.support.ingest import publisher
from tests.support.servers import free_port
from tests.support.waiting import eventually_sync

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
TOPIC = "sitroom/v1/police/position/car-7"
"""The default topic root: `up` runs with no settings but the ports and the var dir."""


@dataclass(frozen=True)
class Ports:
    """The loopback ports this run of `sitroom up` was told to use."""

    mqtt: int
    postgres: int
    redis: int
    dashboard: int
    video: int

    def all(self) -> tuple[int, ...]:
        return (self.mqtt, self.postgres, self.redis, self.dashboard, self.video)


@dataclass
class Up:
    """A running `sitroom up` and where to reach it."""

    process: subprocess.Popen[bytes]
    ports: Ports
    var_dir: Path
    log: Path
    token: str | None = None
    """Bearer token for /api (issued once the database is up); without it /api/health tells
    only the status word and the rest of /api answers 401."""

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.ports.mqtt}"

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports.postgres}/sitroom"

    def api(self, path: str) -> tuple[int, Any] | None:
        """GET /api/`path`: (status, JSON body), or None while nothing answers."""
        if self.process.poll() is not None:
            raise AssertionError(f"sitroom up exited with {self.process.returncode}; "
                                 f"see {self.log}")
        try:
            headers = bearer(self.token) if self.token else {}
            with urlopen(Request(f"http://127.0.0.1:{self.ports.dashboard}/api/{path}",
                                 headers=headers), timeout=5) as response:
                return response.status, json.loads(response.read())
        except HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"null")
        except (URLError, ConnectionError, TimeoutError):
            return None

    def health(self) -> dict[str, Any]:
        found = self.api("health")
        return found[1] if found is not None and isinstance(found[1], dict) else {}

    def unit(self, unit: str) -> dict[str, Any] | None:
        """The unit's feature in /api/units, or None."""
        found = self.api("units")
        if found is None or found[0] != 200:
            return None
        for feature in found[1]["features"]:
            if feature["id"] == unit:
                return dict(feature)
        return None

    def ingest_worker(self) -> dict[str, Any]:
        """The one ingest heartbeat in the health report (empty while there is none)."""
        workers = self.health().get("ingest", {}).get("workers", [])
        return dict(workers[0]) if len(workers) == 1 else {}


def distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def up_env(var_dir: Path, ports: Ports) -> dict[str, str]:
    """The caller's environment without any SITROOM_* setting: everything is embedded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITROOM_")}
    env.update({
        "SITROOM_VAR_DIR": str(var_dir),
        "SITROOM_EMBEDDED__MQTT": str(ports.mqtt),
        "SITROOM_EMBEDDED__POSTGRES": str(ports.postgres),
        "SITROOM_EMBEDDED__REDIS": str(ports.redis),
        "SITROOM_DASHBOARD_PORT": str(ports.dashboard),
        "SITROOM_VIDEO__PORT": str(ports.video),
        # Healthy without feeds: this run has none until the test publishes (silent feeds
        # degrade health: tests/fault/test_feeds_silent.py).
        "SITROOM_FEEDS__AGENCIES": "[]",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    })
    return env


def process_tree(pid: int) -> list[Any]:
    """psutil.Process objects of `pid`'s descendants (they remember their start time)."""
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def alive(process: Any) -> bool:
    """True if the process (not a later one with its pid) still runs and is not a zombie."""
    try:
        return bool(process.is_running()) and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def ingest_pids(runner: int) -> list[int]:
    """Pids of the runner's ingest children (`python -m sitroom ingest`)."""
    pids: list[int] = []
    for child in process_tree(runner):
        try:
            if "ingest" in child.cmdline() and alive(child):
                pids.append(int(child.pid))
        except psutil.Error:
            continue  # gone (or a zombie) between listing and reading
    return pids


def leftovers(var_dir: Path, ports: Ports) -> list[str]:
    """Processes whose command line names the var dir or a port, or whose env has the var dir."""
    marks = {str(p) for p in ports.all()}
    found: list[str] = []
    for proc in psutil.process_iter(["pid", "cmdline", "environ"]):
        if proc.pid == os.getpid() or not alive(proc):
            continue
        argv: list[str] = list(proc.info["cmdline"] or [])
        env: dict[str, str] = dict(proc.info["environ"] or {})
        if (any(str(var_dir) in arg or arg in marks for arg in argv)
                or env.get("SITROOM_VAR_DIR") == str(var_dir)):
            found.append(f"{proc.pid}: {' '.join(argv)}")
    return found


def listening(ports: Ports) -> list[int]:
    """Those of `ports` that some socket listens on, on any address."""
    found = set()
    for conn in psutil.net_connections(kind="inet"):
        port = getattr(conn.laddr, "port", None)  # laddr is () for some socket kinds
        if conn.status == psutil.CONN_LISTEN and port in ports.all():
            found.add(int(port))
    return sorted(found)


def tail(path: Path, lines: int = 40) -> str:
    if not path.is_file():
        return f"({path} missing)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def sitroom_up(tmp_path: Path) -> Iterator[Up]:
    """`python -m sitroom up` with embedded servers on free ports; stopped and reaped after."""
    ports = Ports(*distinct_free_ports(5))
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "sitroom", "up"], stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=up_env(tmp_path, ports), cwd=tmp_path)
    up = Up(process, ports, tmp_path, log)
    try:
        yield up
    finally:
        tree = process_tree(process.pid)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for child in tree:  # only what this run started, by pid and start time
            if alive(child):
                child.kill()
        print(f"--- {log}\n{tail(log)}")
        for child_log in sorted((tmp_path / "log").glob("*.log")):
            print(f"--- {child_log}\n{tail(child_log, 15)}")


def position_json(message_id: str, lat: float) -> str:
    return json.dumps({"id": message_id, "ts": datetime.now(UTC).isoformat(), "unit": "car-7",
                       "lat": lat, "lon": 114.5})


async def _stored(database_url: str, message_id: str) -> tuple[int, list[dict[str, Any]]]:
    """How often `message_id` is in positions, and every dead letter."""
    conn = await asyncpg.connect(database_url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM positions WHERE id = $1", message_id)
        rows = await conn.fetch("SELECT topic, payload, reason, detail FROM dead_letters")
    finally:
        await conn.close()
    return int(count), [dict(r) for r in rows]


def test_up_runs_ingests_restarts_and_stops_cleanly(sitroom_up: Up) -> None:
    up = sitroom_up
    started = time.monotonic()
    eventually_sync(up.health, lambda h: h.get("status") == "ok", timeout_s=90, interval_s=0.25)
    print(f"\nsitroom up healthy after {time.monotonic() - started:.1f} s")
    assert set(up.health()) == {"status"}, "anonymous probes learn nothing but the status"
    anonymous = up.api("units")
    assert anonymous is not None and anonymous[0] == 401
    up.token = asyncio.run(create_token(up.database_url, Role.OPERATOR))

    # A position over MQTT 3.1.1, QoS 1, reaches the live units within 2 s.
    first_id = str(uuid.uuid4())
    with publisher(up.mqtt_url, "3.1.1") as pub:
        sent = time.monotonic()
        pub.publish(TOPIC, position_json(first_id, 37.07))
        car = eventually_sync(lambda: up.unit("car-7"), lambda u: u is not None, timeout_s=2)
        print(f"publish → /api/units: {(time.monotonic() - sent) * 1000:.0f} ms")
        assert car is not None and car["geometry"]["coordinates"] == [114.5, 37.07]
        assert car["properties"]["agency"] == "police" and car["properties"]["online"] is True

        # A malformed payload is dead-lettered; the same id again is stored once.
        pub.publish(TOPIC, b"{not json")
        pub.publish(TOPIC, position_json(first_id, 37.07))
    worker = eventually_sync(up.ingest_worker,
                             lambda w: w.get("dead_letters", 0) >= 1
                             and w.get("duplicates", 0) >= 1, timeout_s=10)
    assert worker["received"] == 3 and worker["committed"] >= 1
    assert up.health()["ingest"]["dead_letters"] == 1
    count, letters = asyncio.run(_stored(up.database_url, first_id))
    assert count == 1
    assert [(d["topic"], bytes(d["payload"]), d["reason"]) for d in letters] == [
        (TOPIC, b"{not json", "malformed_json")]
    assert letters[0]["detail"], "a dead letter says what was wrong with it"

    # SIGKILL the ingest child: the supervisor starts a new one, which ingests again.
    (old,) = eventually_sync(lambda: ingest_pids(up.process.pid), lambda p: len(p) == 1)
    killed_at = time.time()
    os.kill(old, signal.SIGKILL)
    new = eventually_sync(lambda: ingest_pids(up.process.pid),
                          lambda p: len(p) == 1 and p[0] != old, timeout_s=15)
    print(f"ingest {old} killed; {new[0]} started {time.time() - killed_at:.1f} s later")
    # The embedded amqtt keeps no session for anonymous clients: a position published before
    # the new ingest has subscribed again would be lost, so wait for its first heartbeat that
    # says it is connected (it subscribes in on_connect, before it reports that).
    eventually_sync(up.ingest_worker,
                    lambda w: w.get("at", 0) > killed_at and bool(w.get("broker_connected")),
                    timeout_s=20)
    second_id = str(uuid.uuid4())
    with publisher(up.mqtt_url, "3.1.1") as pub:
        pub.publish(TOPIC, position_json(second_id, 37.08))
    car = eventually_sync(lambda: up.unit("car-7"),
                          lambda u: u is not None and u["geometry"]["coordinates"][1] == 37.08,
                          timeout_s=5)
    assert car is not None
    assert ingest_pids(up.process.pid) == new, "the new ingest stays up"

    # The journal's head is anchored outside the database by a child of its own.
    anchoring = [p for p in process_tree(up.process.pid)
                 if alive(p) and p.cmdline()[-3:-1] == ["anchor", "--every"]]
    assert len(anchoring) == 1, "sitroom up anchors the journal"

    # Ctrl-C: the runner exits 0 and takes every child and every port with it.
    tree = process_tree(up.process.pid)
    assert {"postgres", "redis-server"} <= {p.name() for p in tree if alive(p)}, tree
    stopping = time.monotonic()
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(timeout=30) == 0
    print(f"stopped in {time.monotonic() - stopping:.1f} s")
    assert [p.pid for p in tree if alive(p)] == []
    assert leftovers(up.var_dir, up.ports) == []
    assert listening(up.ports) == []
