"""Simulated field units and callers, publishing through the real field client."""

from __future__ import annotations

import logging
import math
import random
import signal
import threading
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import FrameType

from config.settings import Settings
from incidents.model import Kind, Level, Position, Report
from ingest.field_client import FieldClient, new_id

log = logging.getLogger(__name__)

_EARTH_M_PER_DEG = 111_320.0


@dataclass(frozen=True, slots=True)
class Hub:
    """A place units patrol around (one per district in the demo city)."""

    code: str
    name: str
    lat: float
    lon: float
    radius_km: float
    weight: int


@dataclass(frozen=True, slots=True)
class Fleet:
    """One kind of unit: who owns it, how fast it drives, how many of every 10 units."""

    agency: str
    unit_type: str
    prefix: str
    speed_mps: tuple[float, float]
    share: int


FLEETS = (
    Fleet("police", "patrol_car", "xt-110", (8.0, 16.0), 5),
    Fleet("fire", "fire_engine", "xt-119", (7.0, 13.0), 2),
    Fleet("health", "ambulance", "xt-120", (9.0, 18.0), 3),
)

# (type, receiving agency, what a caller says): the Chinese text is what the call-taker types.
REPORTS = (
    ("fire", "fire", "{place}居民楼起火，有浓烟，疑似有人被困"),
    ("traffic_accident", "police", "{place}路口两车相撞，有人员受伤"),
    ("chemical_leak", "safety", "{place}化工企业储罐阀门泄漏，有刺激性气味"),
    ("flood", "water", "{place}低洼路段积水深约40厘米，车辆涉水熄火"),
    ("crowd", "police", "{place}商业广场人员聚集，秩序混乱"),
    ("medical", "health", "{place}一名老人晕倒，需要急救"),
)


def load_hubs(path: Path | None = None) -> list[Hub]:
    """The demo city's hubs from config/demo_city.toml."""
    text = (path.read_text("utf-8") if path else
            (resources.files("config") / "demo_city.toml").read_text("utf-8"))
    return [Hub(code=h["code"], name=h["name"], lat=h["lat"], lon=h["lon"],
                radius_km=h["radius_km"], weight=h["weight"])
            for h in tomllib.loads(text)["hub"]]


class SimUnit:
    """A vehicle that drives street-like legs (east-west, then north-south) between stops."""

    def __init__(self, unit: str, fleet: Fleet, hub: Hub, rng: random.Random) -> None:
        self.unit = unit
        self.fleet = fleet
        self.hub = hub
        self._rng = rng
        self.lat, self.lon = self._random_point()
        self._target = self._random_point()
        self.speed = 0.0
        self.heading = 0.0
        self._pause_s = 0.0

    def _random_point(self) -> tuple[float, float]:
        radius_m = self.hub.radius_km * 1000 * math.sqrt(self._rng.random())
        angle = self._rng.uniform(0, 2 * math.pi)
        lat = self.hub.lat + radius_m * math.cos(angle) / _EARTH_M_PER_DEG
        lon = self.hub.lon + radius_m * math.sin(angle) / (
            _EARTH_M_PER_DEG * math.cos(math.radians(self.hub.lat)))
        return lat, lon

    def step(self, dt_s: float) -> None:
        """Advance the vehicle by `dt_s` seconds."""
        if self._pause_s > 0:
            self._pause_s -= dt_s
            self.speed = 0.0
            return
        if self.speed == 0.0:
            self.speed = self._rng.uniform(*self.fleet.speed_mps)
        budget = self.speed * dt_s
        metres_per_deg_lon = _EARTH_M_PER_DEG * math.cos(math.radians(self.lat))
        d_lon_m = (self._target[1] - self.lon) * metres_per_deg_lon
        d_lat_m = (self._target[0] - self.lat) * _EARTH_M_PER_DEG
        if abs(d_lon_m) > 1.0:  # east-west leg first
            move = math.copysign(min(budget, abs(d_lon_m)), d_lon_m)
            self.lon += move / metres_per_deg_lon
            self.heading = 90.0 if move > 0 else 270.0
        elif abs(d_lat_m) > 1.0:
            move = math.copysign(min(budget, abs(d_lat_m)), d_lat_m)
            self.lat += move / _EARTH_M_PER_DEG
            self.heading = 0.0 if move > 0 else 180.0
        else:  # arrived: stop a while, then head somewhere else
            self._target = self._random_point()
            self._pause_s = self._rng.choice([0.0, 0.0, 5.0, 20.0])

    def position(self) -> Position:
        """The current fix as a message."""
        return Position(id=new_id(), ts=datetime.now(UTC), unit=self.unit,
                        lat=round(self.lat, 6), lon=round(self.lon, 6),
                        speed=round(self.speed, 1), heading=self.heading, accuracy=5.0,
                        unit_type=self.fleet.unit_type)


def make_units(count: int, hubs: list[Hub], rng: random.Random) -> list[SimUnit]:
    """`count` units spread over the fleets and the hubs (weighted to the urban districts)."""
    shares = [f for f in FLEETS for _ in range(f.share)]
    weights = [h.weight for h in hubs]
    numbers: dict[str, int] = {}
    units = []
    for i in range(count):
        fleet = shares[i % len(shares)]
        numbers[fleet.prefix] = numbers.get(fleet.prefix, 0) + 1
        hub = rng.choices(hubs, weights)[0]
        units.append(SimUnit(f"{fleet.prefix}-{numbers[fleet.prefix]:03d}", fleet, hub, rng))
    return units


def make_report(hubs: list[Hub], rng: random.Random) -> tuple[str, Report]:
    """A plausible caller's report near a hub, with the agency that receives it."""
    kind, agency, text_zh = rng.choice(REPORTS)
    hub = rng.choices(hubs, [h.weight for h in hubs])[0]
    lat = hub.lat + rng.uniform(-0.02, 0.02)
    lon = hub.lon + rng.uniform(-0.02, 0.02)
    level = rng.choices([Level.IV, Level.III, Level.II, Level.I], [60, 28, 10, 2])[0]
    return agency, Report(id=new_id(), ts=datetime.now(UTC), type=kind, lat=round(lat, 6),
                          lon=round(lon, 6), text=text_zh.format(place=hub.name), level=level,
                          reporter="simulator")


def _with_username(url: str, username: str) -> str:
    """The broker URL with a username, if it has none: brokers keep sessions of named clients."""
    scheme, _, rest = url.partition("://")
    return url if "@" in rest else f"{scheme}://{username}@{rest}"


def run_simulator(settings: Settings, *, units: int, rate: float, duration: float | None,
                  report_every: float, seed: int | None = None) -> int:
    """Publish until stopped (SIGINT/SIGTERM) or `duration` seconds have passed."""
    assert settings.mqtt_url is not None
    rng = random.Random(seed)
    hubs = load_hubs()
    fleet = make_units(units, hubs, rng)
    agencies = sorted({f.agency for f in FLEETS} | {r[1] for r in REPORTS})
    outboxes = settings.var_dir / "outbox"
    broker = settings.public_mqtt_url or settings.mqtt_url
    clients = {
        agency: FieldClient(_with_username(broker, f"sim-{agency}"), agency,
                            f"sim-{agency}", outboxes / f"sim-{agency}.sqlite",
                            topic_root=settings.topic_root, protocol=settings.mqtt_protocol).start()
        for agency in agencies
    }
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    tick = max(0.05, min(1.0, 1.0 / rate)) if rate > 0 else 1.0
    started = last = time.monotonic()
    next_report = started + rng.expovariate(1 / report_every)
    log.info("simulating %d units at %.2f fixes/s each", units, rate)
    try:
        while not stop.wait(tick):
            now = time.monotonic()
            for unit in fleet:
                unit.step(now - last)
            last = now
            batches: dict[str, list[Position]] = {}
            for unit in fleet:
                if rng.random() < rate * tick:
                    batches.setdefault(unit.fleet.agency, []).append(unit.position())
            for agency, positions in batches.items():
                clients[agency].send_many(Kind.POSITION, list(positions))
            if now >= next_report:
                agency, report = make_report(hubs, rng)
                clients[agency].send(Kind.REPORT, report)
                log.info("report %s: %s", report.type, report.text)
                next_report = now + rng.expovariate(1 / report_every)
            if duration is not None and now - started >= duration:
                break
    finally:
        for client in clients.values():
            client.wait_drained(5)
            client.close()
    return 0
