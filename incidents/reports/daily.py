"""The daily summary (突发事件日报): counts by type, level and district, response times, and
open versus closed, computed from the day's incidents (pure) and drawn as HTML or PDF.

Response times are measured per incident from `reported_at` to `verified_at` and to
`first_on_scene_at`; incidents without the later time are left out of that figure (and
counted in neither its samples nor its mean). Percentiles interpolate linearly between the
closest ranks, as numpy's default and `statistics.quantiles(method="inclusive")` do.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime

import jinja2
import msgspec

from incidents.model import IncidentStatus, Level
from incidents.reports.fonts import FontSpec
from incidents.reports.model import DailyIncidentRow, Lang, LocalText
from incidents.reports.pdf import render_document_pdf
from incidents.reports.sitrep import render_document_html
from incidents.reports.texts import label, level_name, long_date, long_time
from incidents.reports.view import Bar, BarChart, Document, Fact, Section, Table

OUTSIDE = LocalText(zh="市域外", en="Outside the city")
"""District name of incidents that lie in no district."""
_BAR_COLOUR = "#2563eb"


class CountRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """How many incidents share one type, level or district."""

    key: str
    """The type code, level or district name (zh) counted."""
    name: LocalText
    """What to call it."""
    count: int
    """How many incidents."""


class Durations(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """Statistics of one response time over the incidents that have it, in seconds."""

    samples: int
    """Incidents that have the time."""
    mean_s: float | None
    """Mean; None without samples."""
    median_s: float | None
    """Median; None without samples."""
    p90_s: float | None
    """90th percentile (linear interpolation); None without samples."""


class DailySummary(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """The figures of one day."""

    day: date
    """The day summarised."""
    total: int
    """Incidents counted."""
    open: int
    """Incidents not closed."""
    closed: int
    """Incidents closed."""
    by_type: tuple[CountRow, ...]
    """Counts by type, most frequent first."""
    by_level: tuple[CountRow, ...]
    """Counts by level, I to IV, zeros included."""
    by_district: tuple[CountRow, ...]
    """Counts by district, most frequent first."""
    to_verify: Durations
    """Reported → verified."""
    to_scene: Durations
    """Reported → first unit on scene."""


def quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values, interpolating linearly between closest ranks."""
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def durations(seconds: Iterable[float]) -> Durations:
    """Mean, median and 90th percentile of some durations."""
    ordered = sorted(seconds)
    if not ordered:
        return Durations(samples=0, mean_s=None, median_s=None, p90_s=None)
    return Durations(samples=len(ordered), mean_s=math.fsum(ordered) / len(ordered),
                     median_s=quantile(ordered, 0.5), p90_s=quantile(ordered, 0.9))


def _between(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def _ranked(counts: Counter[str], names: dict[str, LocalText]) -> tuple[CountRow, ...]:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(CountRow(key=key, name=names[key], count=n) for key, n in ordered)


def summarize(day: date, incidents: list[DailyIncidentRow]) -> DailySummary:
    """The day's figures from its incidents (the caller chooses which incidents count)."""
    types: Counter[str] = Counter(i.type for i in incidents)
    type_names = {i.type: i.type_name for i in incidents}
    districts: Counter[str] = Counter((i.district or OUTSIDE).zh for i in incidents)
    district_names = {(i.district or OUTSIDE).zh: i.district or OUTSIDE for i in incidents}
    levels: Counter[Level] = Counter(i.level for i in incidents)
    by_level = tuple(CountRow(key=lv.value, count=levels[lv],
                              name=LocalText(zh=level_name(lv, Lang.ZH),
                                             en=level_name(lv, Lang.EN))) for lv in Level)
    closed = sum(i.status is IncidentStatus.CLOSED for i in incidents)
    verify = (_between(i.reported_at, i.verified_at) for i in incidents)
    scene = (_between(i.reported_at, i.first_on_scene_at) for i in incidents)
    return DailySummary(
        day=day, total=len(incidents), open=len(incidents) - closed, closed=closed,
        by_type=_ranked(types, type_names), by_level=by_level,
        by_district=_ranked(districts, district_names),
        to_verify=durations(s for s in verify if s is not None),
        to_scene=durations(s for s in scene if s is not None),
    )


def _minutes(seconds: float | None, lang: Lang) -> str:
    if seconds is None:
        return "—" if lang is Lang.ZH else "-"  # English PDFs stay in Latin-1 core fonts
    return f"{seconds / 60:.1f}"


def _count_section(heading: str, rows: tuple[CountRow, ...], lang: Lang,
                   colours: dict[str, str] | None = None) -> Section:
    head = label("category", lang)
    table = Table(caption="", headers=(head, label("count", lang)),
                  rows=tuple((r.name.pick(lang), str(r.count)) for r in rows), widths=(4, 1),
                  numeric=frozenset({1}), empty=label("none", lang))
    chart = BarChart(caption="", bars=tuple(
        Bar(r.name.pick(lang), r.count, (colours or {}).get(r.key, _BAR_COLOUR)) for r in rows))
    return Section(heading, tables=(table,), figures=(chart,) if rows else ())


def daily_document(summary: DailySummary, lang: Lang, *, issuer: LocalText | None = None,
                   generated_at: datetime | None = None) -> Document:
    """The summary's whole content in one language (pure)."""
    d = summary.day
    when = long_date(d.year, d.month, d.day, lang)
    title = (f"{label('daily_title', lang)}（{when}）" if lang is Lang.ZH
             else f"{label('daily_title', lang)}, {when}")
    meta = []
    if issuer is not None:
        meta.append(Fact(label("issuer", lang), issuer.pick(lang)))
    if generated_at is not None:
        meta.append(Fact(label("issued_at", lang),
                         long_time(generated_at, lang, generated_at.tzinfo)))
    overview = (f"当日共统计突发事件{summary.total}起，其中处置中{summary.open}起、"
                f"{IncidentStatus.CLOSED.label(lang)}{summary.closed}起。" if lang is Lang.ZH else
                f"{summary.total} incidents: {summary.open} open, {summary.closed} closed.")
    facts = (Fact(label("total", lang), str(summary.total)),
             Fact(label("open", lang), str(summary.open)),
             Fact(IncidentStatus.CLOSED.label(lang), str(summary.closed)))
    unit = label("minutes", lang)
    response = Table(
        caption="", headers=(label("measure", lang), label("samples", lang),
                             f"{label('mean', lang)} ({unit})", f"{label('median', lang)} ({unit})",
                             f"{label('p90', lang)} ({unit})"),
        rows=tuple((label(key, lang), str(s.samples), _minutes(s.mean_s, lang),
                    _minutes(s.median_s, lang), _minutes(s.p90_s, lang))
                   for key, s in (("to_verify", summary.to_verify),
                                  ("to_scene", summary.to_scene))),
        widths=(3, 1, 1.3, 1.3, 1.5), numeric=frozenset({1, 2, 3, 4}))
    level_colours = {lv.value: lv.colour for lv in Level}
    sections = (
        Section(label("daily_overview", lang), paragraphs=(overview,), facts=facts),
        _count_section(label("daily_by_type", lang), summary.by_type, lang),
        _count_section(label("daily_by_level", lang), summary.by_level, lang, level_colours),
        _count_section(label("daily_by_district", lang), summary.by_district, lang),
        Section(label("daily_response", lang), tables=(response,)),
    )
    return Document(lang=lang, title=title, subtitle="", meta=tuple(meta), sections=sections)


def render_html(summary: DailySummary, lang: Lang, *, issuer: LocalText | None = None,
                generated_at: datetime | None = None,
                environment: jinja2.Environment | None = None) -> str:
    """The daily summary as one self-contained HTML page (bar charts as inline SVG)."""
    doc = daily_document(summary, lang, issuer=issuer, generated_at=generated_at)
    return render_document_html(doc, environment)


def render_pdf(summary: DailySummary, lang: Lang, *, issuer: LocalText | None = None,
               generated_at: datetime | None = None, font: FontSpec | None = None) -> bytes:
    """The daily summary as PDF (bar charts as filled rectangles)."""
    doc = daily_document(summary, lang, issuer=issuer, generated_at=generated_at)
    return render_document_pdf(doc, font)
