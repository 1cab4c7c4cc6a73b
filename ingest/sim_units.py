"""Simulated fleets, pure: who drives where, and how a crew answers a dispatch order.

A unit patrols around its hub. Given an order it acknowledges after a short delay, reports
en route and drives to the incident faster than on patrol, reports on scene when there,
works a while, reports done and patrols again. Time comes in as arguments, so a seeded
fleet behaves the same on every run.
"""

from __future__ import annotations

import logging
import math
import random
import re
import tomllib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path

from incidents.dispatch import DispatchOrderMessage
from incidents.model import Ack, AckState, Position

log = logging.getLogger(__name__)

_EARTH_M_PER_DEG = 111_320.0
_NEAR_M = 1.0
"""Closer than this on both axes counts as arrived."""
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9._:@\-]{1,128}\Z")
_DONE_NOTE = "处置完毕，恢复巡逻 / task done, back on patrol"


@dataclass(frozen=True, slots=True)
class Hub:
    """A place units patrol around (one per district in the demo city)."""

    code: str
    """Administrative division code (GB/T 2260)."""
    name: str
    """The district's Chinese name, used in callers' reports."""
    lat: float
    """Centre, WGS-84."""
    lon: float
    """Centre, WGS-84."""
    radius_km: float
    """Units patrol within this distance of the centre."""
    weight: int
    """Relative share of the units and the callers' reports placed here."""


@dataclass(frozen=True, slots=True)
class Fleet:
    """One kind of unit: who owns it, how fast it drives, its share of the units."""

    agency: str
    """The agency whose topics its messages go on."""
    unit_type: str
    """The taxonomy's unit kind code, sent as the positions' `unit_type`."""
    prefix: str
    """Unit ids are `{prefix}-001`, `{prefix}-002` …"""
    speed_mps: tuple[float, float]
    """Patrol speed range, metres per second."""
    share: int
    """Weight among the fleets: units per 100 beyond the one of each kind (see fleet_counts)."""


# The kinds the shipped plans ask for, of the default topic agencies. 110/119/120/122 are the
# national hotlines (police, fire, ambulance, traffic police); the rest are pinyin initials:
# 特警 tj, 救援 jy, 危化 wh, 登高 dg, 洗消 xx, 医疗 yl, 疾控 jk, 水利 sl (泵车 bc, 水文 sw,
# 防汛 fx), 安全 af (专家 zj, 执法 zf, 物资 wz), 人防 rf, 气象 qx.
FLEETS = (
    Fleet("police", "patrol_car", "xt-110", (8.0, 16.0), 40),
    Fleet("police", "traffic_police", "xt-122", (6.0, 14.0), 5),
    Fleet("police", "special_police", "xt-110-tj", (8.0, 15.0), 2),
    Fleet("fire", "fire_engine", "xt-119", (7.0, 13.0), 13),
    Fleet("fire", "rescue_team", "xt-119-jy", (7.0, 13.0), 3),
    Fleet("fire", "hazmat_unit", "xt-119-wh", (6.0, 12.0), 1),
    Fleet("fire", "aerial_ladder", "xt-119-dg", (5.0, 10.0), 1),
    Fleet("fire", "decon_unit", "xt-119-xx", (6.0, 11.0), 1),
    Fleet("health", "ambulance", "xt-120", (9.0, 18.0), 17),
    Fleet("health", "medical_team", "xt-120-yl", (8.0, 15.0), 3),
    Fleet("health", "epidemic_team", "xt-120-jk", (8.0, 14.0), 1),
    Fleet("water", "pump_truck", "xt-sl-bc", (5.0, 10.0), 3),
    Fleet("water", "hydrology_team", "xt-sl-sw", (7.0, 14.0), 1),
    Fleet("water", "flood_rescue_team", "xt-sl-fx", (6.0, 12.0), 2),
    Fleet("safety", "expert_team", "xt-af-zj", (9.0, 16.0), 1),
    Fleet("safety", "safety_inspector", "xt-af-zf", (8.0, 15.0), 1),
    Fleet("safety", "emergency_supply", "xt-af-wz", (6.0, 12.0), 2),
    Fleet("civil_defence", "civil_defence_team", "xt-rf", (7.0, 13.0), 2),
    Fleet("weather", "weather_team", "xt-qx", (8.0, 15.0), 1),
)


def load_hubs(path: Path | None = None) -> list[Hub]:
    """The demo city's hubs from config/demo_city.toml."""
    text = (path.read_text("utf-8") if path else
            (resources.files("config") / "demo_city.toml").read_text("utf-8"))
    return [Hub(code=h["code"], name=h["name"], lat=h["lat"], lon=h["lon"],
                radius_km=h["radius_km"], weight=h["weight"])
            for h in tomllib.loads(text)["hub"]]


def fleet_counts(count: int, fleets: Sequence[Fleet] = FLEETS) -> list[int]:
    """How many of `count` units each fleet gets, in the order of `fleets`.

    With K fleets of shares s_k (total S) and count >= K, every fleet gets one unit and the
    other count - K are shared out by share, largest remainder first (Hamilton's method):
    n_k = 1 + floor((count - K) * s_k / S), plus one for the fleets with the largest
    remainders until the total is count. With fewer units than fleets there is no minimum:
    all count units are shared out by share the same way.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    total = sum(f.share for f in fleets)
    base = 1 if count >= len(fleets) else 0
    spare = count - base * len(fleets)
    parts = [divmod(spare * f.share, total) for f in fleets]
    counts = [base + whole for whole, _ in parts]
    by_remainder = sorted(range(len(fleets)),
                          key=lambda i: (-parts[i][1], -fleets[i].share, i))
    for i in by_remainder[:count - sum(counts)]:
        counts[i] += 1
    return counts


@dataclass(frozen=True, slots=True)
class Response:
    """How a simulated crew answers a dispatch order."""

    ack_delay_s: tuple[float, float] = (3.0, 15.0)
    """Time to read an order before acknowledging it, seconds (uniform)."""
    work_s: tuple[float, float] = (60.0, 180.0)
    """Time on scene before reporting done, seconds (uniform)."""
    speed_factor: float = 1.4
    """En route a unit drives its top patrol speed times this (lights and siren)."""


class Duty(StrEnum):
    """What a simulated unit is doing."""

    PATROL = "patrol"
    ACKNOWLEDGING = "acknowledging"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"


def ack_id(order_id: str, state: AckState) -> str:
    """The id of a unit's `state` report on an order: the same report always has the same id."""
    candidate = f"{order_id}:{state.value}"
    # An order id from elsewhere may not fit a message id; a fresh one is then as good.
    return candidate if _MESSAGE_ID.fullmatch(candidate) else str(uuid.uuid4())


class SimUnit:
    """A vehicle that drives street-like legs (east-west, then north-south) and obeys orders."""

    def __init__(self, unit: str, fleet: Fleet, hub: Hub, rng: random.Random,
                 response: Response | None = None) -> None:
        self.unit = unit
        self.fleet = fleet
        self.hub = hub
        self.response = response or Response()
        self._rng = rng
        self.lat, self.lon = self._random_point()
        self._target = self._random_point()
        self.speed = 0.0
        self.heading = 0.0
        self._pause_s = 0.0
        self.duty = Duty.PATROL
        self.order: DispatchOrderMessage | None = None
        """The order being carried out, if any."""
        self._timer_s = 0.0
        self._seen: set[str] = set()

    @property
    def busy(self) -> bool:
        """True while carrying out an order."""
        return self.order is not None

    def _random_point(self) -> tuple[float, float]:
        radius_m = self.hub.radius_km * 1000 * math.sqrt(self._rng.random())
        angle = self._rng.uniform(0, 2 * math.pi)
        lat = self.hub.lat + radius_m * math.cos(angle) / _EARTH_M_PER_DEG
        lon = self.hub.lon + radius_m * math.sin(angle) / (
            _EARTH_M_PER_DEG * math.cos(math.radians(self.hub.lat)))
        return lat, lon

    def receive(self, order: DispatchOrderMessage, now: datetime) -> list[Ack]:
        """Take an order; a busy unit turns it down, and an order seen before changes nothing."""
        if order.id in self._seen:
            # QoS 1 redelivers, and an overdue order is re-sent (resend > 0): answer once.
            log.debug("%s: order %s again (resend %d), already handled", self.unit, order.id,
                      order.resend)
            return []
        self._seen.add(order.id)
        if self.order is not None:
            current = self.order
            note = (f"正在执行指令 {current.id}（{current.incident.title[:80]}），无法接受新指令"
                    f" / busy with order {current.id} ({current.incident.title[:80]})")
            return [self._ack(order, AckState.REJECTED, now, note)]
        self.order = order
        self.duty = Duty.ACKNOWLEDGING
        self._timer_s = self._rng.uniform(*self.response.ack_delay_s)
        return []

    def step(self, dt_s: float, now: datetime) -> list[Ack]:
        """Advance the unit by `dt_s` seconds; return the progress reports it makes."""
        order = self.order
        if order is None:
            self._patrol(dt_s)
            return []
        if self.duty is Duty.ACKNOWLEDGING:
            self._patrol(dt_s)  # the crew reads the order on the move
            self._timer_s -= dt_s
            if self._timer_s > 0:
                return []
            self.duty = Duty.EN_ROUTE
            self.speed = self.fleet.speed_mps[1] * self.response.speed_factor
            return [self._ack(order, AckState.ACKNOWLEDGED, now),
                    self._ack(order, AckState.EN_ROUTE, now)]
        if self.duty is Duty.EN_ROUTE:
            if not self._drive((order.incident.lat, order.incident.lon), self.speed, dt_s):
                return []
            self.lat, self.lon = order.incident.lat, order.incident.lon
            self.duty = Duty.ON_SCENE
            self.speed = 0.0
            self._timer_s = self._rng.uniform(*self.response.work_s)
            return [self._ack(order, AckState.ON_SCENE, now)]
        self._timer_s -= dt_s  # on scene: working
        if self._timer_s > 0:
            return []
        self.order = None
        self.duty = Duty.PATROL
        self._target = self._random_point()  # back to its own district
        self._pause_s = 0.0
        return [self._ack(order, AckState.DONE, now, _DONE_NOTE)]

    def position(self, now: datetime, message_id: str) -> Position:
        """The current fix as a message."""
        return Position(id=message_id, ts=now, unit=self.unit,
                        lat=round(self.lat, 6), lon=round(self.lon, 6),
                        speed=round(self.speed, 1), heading=self.heading, accuracy=5.0,
                        unit_type=self.fleet.unit_type)

    def _ack(self, order: DispatchOrderMessage, state: AckState, now: datetime,
             note: str | None = None) -> Ack:
        return Ack(id=ack_id(order.id, state), ts=now, order=order.id, unit=self.unit,
                   state=state, note=note)

    def _patrol(self, dt_s: float) -> None:
        if self._pause_s > 0:
            self._pause_s -= dt_s
            self.speed = 0.0
            return
        if self.speed == 0.0:
            self.speed = self._rng.uniform(*self.fleet.speed_mps)
        if self._drive(self._target, self.speed, dt_s):
            # Arrived: stop a while, then head somewhere else.
            self._target = self._random_point()
            self._pause_s = self._rng.choice([0.0, 0.0, 5.0, 20.0])

    def _drive(self, target: tuple[float, float], speed: float, dt_s: float) -> bool:
        """Drive toward `target` for `dt_s` seconds, east-west leg first; True once there."""
        budget = speed * dt_s
        while True:
            metres_per_deg_lon = _EARTH_M_PER_DEG * math.cos(math.radians(self.lat))
            d_lon_m = (target[1] - self.lon) * metres_per_deg_lon
            d_lat_m = (target[0] - self.lat) * _EARTH_M_PER_DEG
            if abs(d_lon_m) > _NEAR_M:
                move = min(budget, abs(d_lon_m))
                self.lon += math.copysign(move, d_lon_m) / metres_per_deg_lon
                self.heading = 90.0 if d_lon_m > 0 else 270.0
            elif abs(d_lat_m) > _NEAR_M:
                move = min(budget, abs(d_lat_m))
                self.lat += math.copysign(move, d_lat_m) / _EARTH_M_PER_DEG
                self.heading = 0.0 if d_lat_m > 0 else 180.0
            else:
                return True
            budget -= move
            if budget <= 0:
                return False


def make_units(count: int, hubs: list[Hub], rng: random.Random,
               fleets: Sequence[Fleet] = FLEETS,
               response: Response | None = None) -> list[SimUnit]:
    """`count` units over the fleets (fleet_counts) and the hubs (weighted to the urban ones).

    Each unit draws from its own generator, seeded from `rng`: what one unit does never
    shifts the random choices of another.
    """
    weights = [h.weight for h in hubs]
    units = []
    for fleet, n in zip(fleets, fleet_counts(count, fleets), strict=True):
        for number in range(1, n + 1):
            hub = rng.choices(hubs, weights)[0]
            units.append(SimUnit(f"{fleet.prefix}-{number:03d}", fleet, hub,
                                 random.Random(rng.getrandbits(64)), response))
    return units
