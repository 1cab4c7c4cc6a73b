"""The rule engine: messages in, outcomes out; no I/O, time from an injected clock.

The engine keeps only what it must remember between messages: which rule keys have an open
incident (with their level and reported maximum), which sensors or devices are in breach, the
open report incidents still inside their correlation window, and each source's latest time
(an older reading that arrives late is ignored rather than undoing a newer one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from incidents.geo import haversine_m
from incidents.model import (
    Alarm,
    AlarmState,
    Envelope,
    FieldMessage,
    Level,
    Observation,
    Position,
    Report,
)
from incidents.outcomes import (
    Change,
    Correlated,
    KeyedIncident,
    OpenIncident,
    Outcome,
    Rule,
    UpdateIncident,
    area_key,
    fence_key,
    report_key,
)
from ingest.rules.config import Area, GeofenceRule, RuleSet, severity
from ingest.rules.index import RuleIndex, Rung, Watch

TITLE_TEXT_CHARS = 60
"""How much of a report's text goes into the title of the incident it opens."""


@dataclass(slots=True)
class _Tracked:
    """A threshold or area key: its incident, and who is in breach now."""

    level: Level
    """Level of the incident (the last one, while `open` is false)."""
    members: set[str] = field(default_factory=set)
    """Sensors above the lowest limit, or devices in alarm (`agency/id`)."""
    peak: float | None = None
    """Highest reading reported so far; none when unknown."""
    open: bool = True
    """False once closed while still in breach: nothing opens until the breach clears."""
    restored: bool = False
    """Rebuilt at start-up: members and peak are unknown until the next reading."""


@dataclass(slots=True)
class _Stay:
    """A watched vehicle inside a sensitive area."""

    area: str
    """The area's id."""
    since: datetime
    """When it was first seen inside."""
    escalated: bool = False
    """True once it stayed past the rule's dwell time."""


@dataclass(slots=True)
class _Cluster:
    """An open report incident that later reports of its type may join."""

    key: str
    lat: float
    lon: float
    """Where its first report was: distances are measured from here."""
    first_at: datetime
    last_at: datetime


class RuleEngine:
    """Evaluates field messages against a RuleSet; one engine per ingest process."""

    __slots__ = ("_clock", "_clusters", "_index", "_inside", "_last_at", "_tracked")

    def __init__(self, rules: RuleSet, clock: Callable[[], datetime]) -> None:
        """`clock` returns the current time, with a time zone."""
        if clock().tzinfo is None:
            raise ValueError("the rule engine's clock must return timezone-aware datetimes")
        self._index = RuleIndex(rules)
        self._clock = clock
        self._tracked: dict[str, _Tracked] = {}
        self._clusters: dict[str, list[_Cluster]] = {}
        self._last_at: dict[str, datetime] = {}
        self._inside: dict[str, _Stay] = {}  # "{rule}:{unit}" -> where it is

    @property
    def rules(self) -> RuleSet:
        """The rule set evaluated."""
        return self._index.rules

    def open_keys(self) -> frozenset[str]:
        """Keys the engine believes have an open incident (report keys only while joinable)."""
        tracked = {k for k, t in self._tracked.items() if t.open}
        return frozenset(tracked | {c.key for cs in self._clusters.values() for c in cs})

    def evaluate(self, envelope: Envelope, message: FieldMessage) -> list[Outcome]:
        """What `message` changes; call it once per newly stored message, in arrival order."""
        now = self._clock()
        at = min(message.ts, now)  # a publisher's clock running ahead must not mask later data
        if isinstance(message, Observation):
            return self._observation(envelope, message, at)
        if isinstance(message, Alarm):
            return self._alarm(envelope, message, at)
        if isinstance(message, Report):
            return self._report(message, at, now)
        if isinstance(message, Position):
            return self._position(message, at)
        return []

    def watches(self, position: Position) -> bool:
        """True when the geofence rules follow this vehicle (most positions: no rule)."""
        return self._index.fence_rules(position.unit_type) != ()

    def concerns(self, message: FieldMessage) -> bool:
        """False when no rule can act on `message`, whatever came before it: evaluating it
        would change nothing (the checks `evaluate` makes before it reads or writes state)."""
        if isinstance(message, Observation):
            if not math.isfinite(message.value):
                return False
            if self._index.gauge(message.sensor, message.quantity, message.unit) is not None:
                return True
            gas = self._index.gas(message.quantity, message.unit)
            return gas is not None and self._index.site_watch(
                gas, message.lat, message.lon) is not None
        if isinstance(message, Alarm):
            return (message.state is not AlarmState.TEST
                    and self._index.area_at(message.lat, message.lon) is not None)
        if isinstance(message, Position):
            return self.watches(message)
        return True

    def forget(self, key: str) -> None:
        """The incident of `key` was closed. A breach still going on opens nothing new until
        it clears, or crosses a higher threshold than the closed incident's level."""
        tracked = self._tracked.get(key)
        if tracked is not None:
            if tracked.members:
                tracked.open = False
            else:
                del self._tracked[key]
        kind, _, rest = key.partition(":")
        if kind == "reports":
            report_type = rest.partition(":")[0]
            clusters = self._clusters.get(report_type, [])
            clusters[:] = [c for c in clusters if c.key != key]

    def restore(self, incidents: Iterable[KeyedIncident]) -> None:
        """Rebuild the state from the open incidents that carry rule keys, at start-up."""
        now = self._clock()
        for incident in incidents:
            kind, _, rest = incident.key.partition(":")
            if kind in ("gauge", "site", "area", "fence") and rest:
                self._tracked[incident.key] = _Tracked(incident.level, restored=True)
            elif kind == "reports" and ":" in rest:
                spec = self._index.report_spec(rest.partition(":")[0])
                last = incident.last_report_at or incident.opened_at
                if spec.correlate and last + spec.window >= now:
                    clusters = self._clusters.setdefault(spec.type, [])
                    clusters[:] = [c for c in clusters if c.key != incident.key]
                    clusters.append(_Cluster(incident.key, incident.lat, incident.lon,
                                             incident.opened_at, last))
            else:
                raise ValueError(f"not a rule key: {incident.key!r} (expected gauge:…, "
                                 "site:…:…, area:…:… or reports:…:…)")

    def fork(self) -> RuleEngine:
        """An independent copy: evaluate a batch on the fork and keep it once the batch's
        outcomes are committed, so a failed commit leaves this engine as it was."""
        twin = RuleEngine.__new__(RuleEngine)
        twin._index, twin._clock = self._index, self._clock
        twin._tracked = {k: replace(t, members=set(t.members)) for k, t in self._tracked.items()}
        twin._clusters = {k: [replace(c) for c in cs] for k, cs in self._clusters.items()}
        twin._last_at = dict(self._last_at)
        twin._inside = {k: replace(v) for k, v in self._inside.items()}
        return twin

    # --- observations: gauges and hazardous sites ------------------------------------------

    def _observation(self, envelope: Envelope, obs: Observation, at: datetime) -> list[Outcome]:
        if not math.isfinite(obs.value):
            return []
        watch = self._index.gauge(obs.sensor, obs.quantity, obs.unit)
        if watch is None:
            gas = self._index.gas(obs.quantity, obs.unit)
            watch = None if gas is None else self._index.site_watch(gas, obs.lat, obs.lon)
        if watch is None:
            return []
        member = f"{envelope.agency}/{obs.sensor}"
        if not self._fresh(f"{member}/{obs.quantity}", at):
            return []
        reading = _Reading(obs.sensor, obs.value, watch.unit)
        return self._threshold(watch, member, reading, (obs.id,))

    def _threshold(self, watch: Watch, member: str, reading: _Reading,
                   evidence: tuple[str, ...]) -> list[Outcome]:
        rung = watch.rung_for(reading.value)
        state = self._tracked.get(watch.key)
        if state is None or not state.open:
            if rung is None:
                self._leave(watch.key, state, member)
                return []
            if state is not None and severity(rung.level) <= severity(state.level):
                state.members.add(member)  # closed while in breach: wait until it clears
                return []
            members = {member} | (state.members if state is not None else set())
            self._tracked[watch.key] = _Tracked(rung.level, members, reading.value)
            return [OpenIncident(
                key=watch.key, type=watch.type, level=rung.level,
                title_zh=f"{watch.place_zh}{watch.what_zh}超{rung.name_zh}",
                title_en=f"{watch.place_en}: {watch.what_en} above the {rung.name_en}",
                lat=watch.lat, lon=watch.lon, rule=watch.rule,
                note_zh=_above_zh(reading, rung), note_en=_above_en(reading, rung),
                evidence=evidence)]
        if rung is None:
            if member not in state.members:
                return []
            state.members.discard(member)
            if state.members:
                return []
            lowest = watch.rungs[0]
            return [UpdateIncident(
                key=watch.key, level=state.level, change=Change.CLEARED, evidence=evidence,
                note_zh=f"{reading.zh}，回落至{lowest.name_zh} {_num(lowest.limit)} "
                        f"{reading.unit}以下",
                note_en=f"{reading.en}, back below the {lowest.name_en} of "
                        f"{_num(lowest.limit)} {reading.unit}")]
        return self._still_above(watch, state, member, rung, reading, evidence)

    def _still_above(self, watch: Watch, state: _Tracked, member: str, rung: Rung,
                     reading: _Reading, evidence: tuple[str, ...]) -> list[Outcome]:
        was_clear = not state.members and not state.restored
        state.members.add(member)
        escalated = severity(rung.level) > severity(state.level)
        if escalated:
            state.level = rung.level
        if state.restored:  # the maximum reported before the restart is unknown: stay quiet
            state.restored = False
            state.peak = reading.value
            if not escalated:
                return []
        if escalated:
            change, zh, en = (Change.ESCALATED,
                              f"{_above_zh(reading, rung)}，升至{rung.level}级（"
                              f"{rung.level.label_zh}）",
                              f"{_above_en(reading, rung)}; level {rung.level}")
        elif was_clear:
            change, zh, en = (Change.BREACHED_AGAIN, f"{_above_zh(reading, rung)}（再次超出）",
                              f"{_above_en(reading, rung)} again")
        elif _rose(state.peak, reading.value, watch.step):
            change, zh, en = (Change.NEW_MAXIMUM, f"{reading.zh}，本次最高",
                              f"{reading.en}, the highest so far")
        else:
            return []
        state.peak = reading.value if state.peak is None else max(state.peak, reading.value)
        return [UpdateIncident(key=watch.key, level=state.level, change=change, note_zh=zh,
                               note_en=en, evidence=evidence)]

    # --- alarms in sensitive areas ---------------------------------------------------------

    def _alarm(self, envelope: Envelope, alarm: Alarm, at: datetime) -> list[Outcome]:
        if alarm.state is AlarmState.TEST:
            return []
        area = self._index.area_at(alarm.lat, alarm.lon)
        if area is None:
            return []
        member = f"{envelope.agency}/{alarm.device}"
        if not self._fresh(f"{member}/{alarm.type}", at):
            return []
        key = area_key(area.id, alarm.type)
        state = self._tracked.get(key)
        kind = self._index.alarm_type(alarm.type)
        if alarm.state is AlarmState.CLEARED:
            if state is None or member not in state.members:
                return []
            state.members.discard(member)
            if state.members:
                return []
            if not state.open:
                del self._tracked[key]
                return []
            return [UpdateIncident(
                key=key, level=state.level, change=Change.CLEARED, evidence=(alarm.id,),
                note_zh=f"设备 {alarm.device} 解除{kind.name_zh}，区域内报警已全部解除",
                note_en=f"device {alarm.device} cleared its {kind.name_en}; no device in "
                        "the area is in alarm")]
        if state is not None and member in state.members:
            return []  # still in alarm: nothing new
        note_zh = f"设备 {alarm.device} {kind.name_zh}" + (f"：{alarm.text}" if alarm.text else "")
        note_en = f"device {alarm.device}: {kind.name_en}" + (
            f": {alarm.text}" if alarm.text else "")
        if state is None or not state.open:  # a device alarming anew reopens a closed one
            members = {member} | (state.members if state is not None else set())
            self._tracked[key] = _Tracked(area.level, members)
            return [OpenIncident(
                key=key, type=kind.incident, level=area.level,
                title_zh=f"{area.name}{kind.name_zh}", title_en=f"{area.name_en}: {kind.name_en}",
                lat=alarm.lat, lon=alarm.lon, rule=Rule.SENSITIVE_AREA, note_zh=note_zh,
                note_en=note_en, evidence=(alarm.id,))]
        change = Change.ANOTHER_DEVICE if state.members else Change.BREACHED_AGAIN
        state.members.add(member)
        if state.restored:  # who alarmed before the restart is unknown: stay quiet
            state.restored = False
            return []
        return [UpdateIncident(key=key, level=state.level, change=change, note_zh=note_zh,
                               note_en=note_en, evidence=(alarm.id,))]

    # --- positions: watched vehicles and sensitive areas -----------------------------------

    def _position(self, pos: Position, at: datetime) -> list[Outcome]:
        rules = self._index.fence_rules(pos.unit_type)
        if not rules or not self._fresh(f"position/{pos.unit}", at):
            return []
        area = self._index.area_at(pos.lat, pos.lon)
        out: list[Outcome] = []
        for rule in rules:
            inside = area if area is not None and area.kind in rule.area_kinds else None
            stay_key = f"{rule.id}:{pos.unit}"
            stay = self._inside.get(stay_key)
            if stay is not None and (inside is None or inside.id != stay.area):
                del self._inside[stay_key]
                out += self._left(fence_key(rule.id, pos.unit, stay.area), pos)
                stay = None
            if inside is None:
                continue
            key = fence_key(rule.id, pos.unit, inside.id)
            if stay is None:
                self._inside[stay_key] = _Stay(inside.id, at)
                out += self._entered(rule, key, inside, pos)
            elif not stay.escalated and at - stay.since >= timedelta(minutes=rule.dwell_min):
                stay.escalated = True
                state = self._tracked.get(key)
                if state is not None and state.open and (
                        severity(rule.dwell_level) > severity(state.level)):
                    state.level = rule.dwell_level
                    out.append(UpdateIncident(
                        key=key, level=rule.dwell_level, change=Change.DWELL,
                        evidence=(pos.id,),
                        note_zh=f"{pos.unit} 在{inside.name}内停留超过 {rule.dwell_min:g} 分钟",
                        note_en=f"{pos.unit} has stayed in {inside.name_en} for more than"
                                f" {rule.dwell_min:g} min"))
        return out

    def _entered(self, rule: GeofenceRule, key: str, area: Area, pos: Position
                 ) -> list[Outcome]:
        state = self._tracked.get(key)
        note_zh = f"{pos.unit}（{pos.unit_type}）驶入{area.name}"
        note_en = f"{pos.unit} ({pos.unit_type}) entered {area.name_en}"
        if state is None or not state.open:
            self._tracked[key] = _Tracked(rule.level, {pos.unit})
            return [OpenIncident(
                key=key, type=rule.type, level=rule.level,
                title_zh=f"{rule.name_zh}：{pos.unit} 驶入{area.name}",
                title_en=f"{rule.name_en}: {pos.unit} in {area.name_en}",
                lat=pos.lat, lon=pos.lon, rule=Rule.GEOFENCE, note_zh=note_zh,
                note_en=note_en, evidence=(pos.id,))]
        state.members.add(pos.unit)
        if state.restored:  # inside before the restart too: nothing new to say
            state.restored = False
            return []
        return [UpdateIncident(key=key, level=state.level, change=Change.BREACHED_AGAIN,
                               note_zh=note_zh, note_en=note_en, evidence=(pos.id,))]

    def _left(self, key: str, pos: Position) -> list[Outcome]:
        state = self._tracked.get(key)
        if state is None:
            return []
        state.members.discard(pos.unit)
        if not state.open:
            del self._tracked[key]
            return []
        return [UpdateIncident(key=key, level=state.level, change=Change.CLEARED,
                               evidence=(pos.id,), note_zh=f"{pos.unit} 已驶离",
                               note_en=f"{pos.unit} has left the area")]

    # --- reports: correlation --------------------------------------------------------------

    def _report(self, report: Report, at: datetime, now: datetime) -> list[Outcome]:
        spec = self._index.report_spec(report.type)
        if spec.correlate:
            horizon = now - spec.window
            clusters = self._clusters.setdefault(report.type, [])
            clusters[:] = [c for c in clusters if c.last_at >= horizon]
            best: tuple[float, _Cluster] | None = None
            for cluster in clusters:
                if not cluster.first_at - spec.window <= at <= cluster.last_at + spec.window:
                    continue
                distance = haversine_m(report.lat, report.lon, cluster.lat, cluster.lon)
                if distance <= spec.radius_m and (best is None or distance < best[0]):
                    best = (distance, cluster)
            if best is not None:
                joined = best[1]
                joined.first_at, joined.last_at = min(joined.first_at, at), max(joined.last_at, at)
                return [Correlated(key=joined.key, report_id=report.id)]
        key = report_key(report.type, report.id)
        if spec.correlate:
            self._clusters[report.type].append(_Cluster(key, report.lat, report.lon, at, at))
        text = " ".join(report.text.split())
        if len(text) > TITLE_TEXT_CHARS:
            text = text[:TITLE_TEXT_CHARS - 1] + "…"
        by = f"（{report.reporter}）" if report.reporter else ""
        by_en = f" ({report.reporter})" if report.reporter else ""
        return [OpenIncident(
            key=key, type=report.type, level=report.level or spec.level,
            title_zh=f"{spec.name_zh}：{text}" if text else spec.name_zh,
            title_en=f"{spec.name_en}: {text}" if text else spec.name_en,
            lat=report.lat, lon=report.lon, rule=Rule.REPORT,
            note_zh=f"首报 {report.id}{by}", note_en=f"first report {report.id}{by_en}",
            evidence=(report.id,))]

    # --- shared ----------------------------------------------------------------------------

    def _fresh(self, source: str, at: datetime) -> bool:
        """True, and remember `at`, unless `source` already sent something newer."""
        last = self._last_at.get(source)
        if last is not None and at < last:
            return False
        self._last_at[source] = at
        return True

    def _leave(self, key: str, state: _Tracked | None, member: str) -> None:
        """`member` is out of breach for a key whose incident is closed."""
        if state is not None:
            state.members.discard(member)
            if not state.members:
                del self._tracked[key]


@dataclass(frozen=True, slots=True)
class _Reading:
    """A sensor's value, in the unit of the watch."""

    sensor: str
    value: float
    unit: str

    @property
    def zh(self) -> str:
        return f"{self.sensor} 读数 {_num(self.value)} {self.unit}"

    @property
    def en(self) -> str:
        return f"{self.sensor} reads {_num(self.value)} {self.unit}"


def _rose(previous: float | None, value: float, step: float) -> bool:
    """True if `value` is a new maximum worth reporting: at least `step` over `previous`."""
    return previous is None or (value > previous and value - previous >= step - 1e-9)


def _above_zh(reading: _Reading, rung: Rung) -> str:
    return f"{reading.zh}，超{rung.name_zh} {_num(rung.limit)} {reading.unit}"


def _above_en(reading: _Reading, rung: Rung) -> str:
    return f"{reading.en}, above the {rung.name_en} of {_num(rung.limit)} {reading.unit}"


def _num(value: float) -> str:
    """A reading as people write it: 63.8, 0.5, 120, 123.45 (no float noise)."""
    return f"{value:.6g}"
