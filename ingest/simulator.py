"""Simulated field units and callers, publishing through the real field client.

Units answer dispatch orders: each agency's field client follows the orders of that agency's
units, and the units' progress reports (acks) go back through the same client, kept in its
outbox until ingest receipts them.
"""

from __future__ import annotations

import logging
import queue
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import FrameType

from config.settings import Settings
from incidents.dispatch import DispatchOrderMessage
from incidents.model import Ack, Kind, Position
from ingest.field_client import FieldClient, new_id
from ingest.rules.config import RuleSet, load_rules
from ingest.sim_events import REPORTS, EventReports
from ingest.sim_units import FLEETS, Fleet, Hub, Response, SimUnit, load_hubs, make_units
from ingest.sim_weather import demo_stations

__all__ = ["FLEETS", "REPORTS", "Simulator", "run_simulator"]

log = logging.getLogger(__name__)

WEATHER_EVERY_S = 60.0
"""How often the simulated weather stations report."""


def utc_now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


class Simulator:
    """Steps the fleet on a clock and publishes fixes, callers' reports and order progress.

    Orders arrive on paho's threads and wait in a queue; only the thread that calls `tick`
    (or `run`) touches the units, so a seeded run makes the same choices every time. Callers'
    reports follow `rules` (default: the shipped rules): see ingest.sim_events.
    """

    def __init__(self, units: Sequence[SimUnit], hubs: list[Hub],
                 clients: Mapping[str, FieldClient], rng: random.Random, *, rate: float,
                 report_every: float | None, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], datetime] = utc_now,
                 rules: RuleSet | None = None) -> None:
        missing = {u.fleet.agency for u in units} - set(clients)
        if missing:
            raise ValueError(f"no field client for agencies {sorted(missing)}")
        self.units = {u.unit: u for u in units}
        """The simulated units by id."""
        self._callers = (EventReports(hubs, rules or load_rules(), rng, new_id=new_id)
                         if report_every else None)
        self._clients = clients
        self._rng = rng
        self._rate = rate
        self._report_every = report_every
        self._clock = clock
        self._wall_clock = wall_clock
        self._inbox: queue.SimpleQueue[DispatchOrderMessage] = queue.SimpleQueue()
        self._last = clock()
        self._next_report = self._draw_next_report(self._last)
        self._stations = demo_stations(rng) if "weather" in clients else []
        self._next_weather = self._last
        self.acks_sent = 0
        """Progress reports published so far."""

    def follow_orders(self) -> None:
        """Have each agency's client receive the orders of that agency's units."""
        by_agency: dict[str, set[str]] = {}
        for unit in self.units.values():
            by_agency.setdefault(unit.fleet.agency, set()).add(unit.unit)
        for agency, names in by_agency.items():
            self._clients[agency].follow_orders(names, self._inbox.put)

    def wait_following(self, timeout_s: float) -> bool:
        """Wait until every client's order subscriptions are confirmed; False on timeout."""
        deadline = time.monotonic() + timeout_s
        agencies = {u.fleet.agency for u in self.units.values()}
        return all(self._clients[a].wait_following(max(0.0, deadline - time.monotonic()))
                   for a in sorted(agencies))

    def tick(self) -> None:
        """Hand out the orders that arrived, move every unit, publish what happened."""
        now_s = self._clock()
        dt_s, self._last = now_s - self._last, now_s
        now = self._wall_clock()
        acks: dict[str, list[Ack]] = {}
        for unit, ack in self._take_orders(now):
            acks.setdefault(unit.fleet.agency, []).append(ack)
        for unit in self.units.values():
            for ack in unit.step(dt_s, now):
                acks.setdefault(unit.fleet.agency, []).append(ack)
        for agency, agency_acks in acks.items():
            for ack in agency_acks:
                log.info("%s: %s order %s", ack.unit, ack.state, ack.order)
            self._clients[agency].send_many(Kind.ACK, agency_acks)
            self.acks_sent += len(agency_acks)
        self._publish_positions(dt_s, now)
        if self._stations and now_s >= self._next_weather:
            for station in self._stations:
                station.step()
            self._clients["weather"].send_many(
                Kind.OBSERVATION, [o for s in self._stations for o in s.observations(now)])
            self._next_weather = now_s + WEATHER_EVERY_S
        if self._callers is not None and now_s >= self._next_report:
            made = self._callers.next_report(now)
            if made is not None and made[0] in self._clients:
                agency, report = made
                self._clients[agency].send(Kind.REPORT, report)
                log.info("report %s (%s): %s", report.type, report.level, report.text)
            self._next_report = self._draw_next_report(now_s)

    def run(self, stop: threading.Event, tick_s: float, duration: float | None = None) -> None:
        """Tick every `tick_s` seconds until `stop` is set or `duration` seconds have passed."""
        started = self._last = self._clock()
        while not stop.wait(tick_s):
            self.tick()
            if duration is not None and self._clock() - started >= duration:
                break

    def _take_orders(self, now: datetime) -> list[tuple[SimUnit, Ack]]:
        answers: list[tuple[SimUnit, Ack]] = []
        while True:
            try:
                order = self._inbox.get_nowait()
            except queue.Empty:
                return answers
            unit = self.units.get(order.unit)
            if unit is None:  # the clients follow only our units; kept for safety
                log.warning("order %s is for %s, which is not simulated", order.id, order.unit)
                continue
            log.info("%s: order %s (%s, resend %d)", unit.unit, order.id, order.task.zh,
                     order.resend)
            answers.extend((unit, ack) for ack in unit.receive(order, now))

    def _publish_positions(self, dt_s: float, now: datetime) -> None:
        # Each unit reports with probability rate·dt per tick: on average `rate` fixes a second.
        chance = self._rate * dt_s
        batches: dict[str, list[Position]] = {}
        for unit in self.units.values():
            if self._rng.random() < chance:
                batches.setdefault(unit.fleet.agency, []).append(unit.position(now, new_id()))
        for agency, positions in batches.items():
            self._clients[agency].send_many(Kind.POSITION, positions)

    def _draw_next_report(self, now_s: float) -> float:
        if not self._report_every:
            return float("inf")
        return now_s + self._rng.expovariate(1 / self._report_every)


def _with_username(url: str, username: str) -> str:
    """The broker URL with a username, if it has none: brokers keep sessions of named clients."""
    scheme, _, rest = url.partition("://")
    return url if "@" in rest else f"{scheme}://{username}@{rest}"


def run_simulator(settings: Settings, *, units: int, rate: float, duration: float | None,
                  report_every: float, seed: int | None = None,
                  response: Response | None = None) -> int:
    """Publish and answer orders until stopped (SIGINT/SIGTERM) or `duration` seconds pass."""
    assert settings.mqtt_url is not None
    rng = random.Random(seed)
    hubs = load_hubs()
    # Only agencies ingest accepts as a topic segment: anything else would be dead-lettered.
    fleets: list[Fleet] = [f for f in FLEETS if f.agency in settings.agencies]
    fleet = make_units(units, hubs, rng, fleets, response)
    agencies = sorted(({f.agency for f in fleets} | {r[1] for r in REPORTS} | {"weather"})
                      & set(settings.agencies))
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
    simulator = Simulator(fleet, hubs, clients, rng, rate=rate, report_every=report_every,
                          rules=load_rules(settings.rules_file))
    simulator.follow_orders()
    log.info("simulating %d units at %.2f fixes/s each; they answer dispatch orders",
             len(fleet), rate)
    try:
        simulator.run(stop, tick, duration)
    finally:
        for client in clients.values():
            client.wait_drained(5)
            client.close()
    return 0
