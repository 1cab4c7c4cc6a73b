"""The daily summary: a hand-made day of five incidents and its hand-computed figures."""

from __future__ import annotations

import io
import statistics
from datetime import date, datetime, timedelta

import pytest
from pypdf import PdfReader

from incidents.model import IncidentStatus, Level
from incidents.reports.daily import (
    OUTSIDE,
    DailySummary,
    Durations,
    durations,
    quantile,
    render_html,
    render_pdf,
    summarize,
)
from incidents.reports.fonts import find_cjk_font
from incidents.reports.model import DailyIncidentRow, Lang, LocalText
from tests.unit.incidents.reports_sample import CST

DAY = date(2024, 7, 3)
FIRE = LocalText(zh="火灾", en="Fire")
FLOOD = LocalText(zh="内涝", en="Urban flooding")
CRASH = LocalText(zh="交通事故", en="Traffic accident")
XINDU = LocalText(zh="信都区", en="Xindu District")
XIANGDU = LocalText(zh="襄都区", en="Xiangdu District")


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 7, 3, hour, minute, tzinfo=CST)


def _row(n: int, type_: str, name: LocalText, level: Level, district: LocalText | None,
         status: IncidentStatus, reported: datetime, verify_min: int | None,
         scene_min: int | None) -> DailyIncidentRow:
    return DailyIncidentRow(
        id=f"inc-{n}", type=type_, type_name=name, level=level, district=district,
        status=status, reported_at=reported,
        verified_at=None if verify_min is None else reported + timedelta(minutes=verify_min),
        first_on_scene_at=None if scene_min is None else reported + timedelta(minutes=scene_min))


DAY_ROWS = [
    _row(1, "fire", FIRE, Level.III, XINDU, IncidentStatus.CLOSED, _at(8), 6, 15),
    _row(2, "fire", FIRE, Level.IV, XIANGDU, IncidentStatus.RESPONDING, _at(9), 10, 30),
    _row(3, "flood", FLOOD, Level.II, XINDU, IncidentStatus.CLOSED, _at(10), 2, None),
    _row(4, "traffic_accident", CRASH, Level.IV, None, IncidentStatus.REPORTED, _at(11), None,
         None),
    _row(5, "fire", FIRE, Level.IV, XINDU, IncidentStatus.CONTAINED, _at(12), 20, 8),
]


@pytest.fixture
def summary() -> DailySummary:
    """The summary of the hand-made day."""
    return summarize(DAY, DAY_ROWS)


def test_counts(summary: DailySummary) -> None:
    assert (summary.day, summary.total, summary.open, summary.closed) == (DAY, 5, 3, 2)
    assert [(r.key, r.count) for r in summary.by_type] == [
        ("fire", 3), ("flood", 1), ("traffic_accident", 1)]
    assert [(r.key, r.count) for r in summary.by_level] == [
        ("I", 0), ("II", 1), ("III", 1), ("IV", 3)]
    # ties sorted by the Chinese name's code points: 市 (U+5E02) before 襄 (U+8944)
    assert [(r.name, r.count) for r in summary.by_district] == [
        (XINDU, 3), (OUTSIDE, 1), (XIANGDU, 1)]


def test_response_times(summary: DailySummary) -> None:
    # reported → verified: 6, 10, 2, 20 min = 360, 600, 120, 1200 s (incident 4 unverified)
    # sorted 120 360 600 1200: mean 570; median (360 + 600) / 2 = 480;
    # p90 at rank 3 × 0.9 = 2.7: 600 + 0.7 × (1200 − 600) = 1020
    verify = summary.to_verify
    assert (verify.samples, verify.mean_s, verify.median_s) == (4, 570.0, 480.0)
    assert verify.p90_s == pytest.approx(1020.0)
    # reported → first on scene: 15, 30, 8 min = 900, 1800, 480 s
    # sorted 480 900 1800: mean 1060; median 900; p90 at rank 1.8: 900 + 0.8 × 900 = 1620
    scene = summary.to_scene
    assert (scene.samples, scene.mean_s, scene.median_s) == (3, 1060.0, 900.0)
    assert scene.p90_s == pytest.approx(1620.0)


def test_percentiles_agree_with_the_standard_library() -> None:
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    expected = statistics.quantiles(values, n=10, method="inclusive")[8]
    assert quantile(sorted(values), 0.9) == pytest.approx(expected)
    assert durations([42.0]) == Durations(samples=1, mean_s=42.0, median_s=42.0, p90_s=42.0)
    assert durations([]) == Durations(samples=0, mean_s=None, median_s=None, p90_s=None)


def test_an_empty_day() -> None:
    empty = summarize(DAY, [])
    assert (empty.total, empty.open, empty.closed, empty.by_type) == (0, 0, 0, ())
    assert all(r.count == 0 for r in empty.by_level)
    assert "<h1>突发事件日报（2024年7月3日）</h1>" in render_html(empty, Lang.ZH)


def test_html(summary: DailySummary) -> None:
    page = render_html(summary, Lang.ZH, issuer=LocalText(zh="邢台市应急指挥中心", en="XECC"),
                       generated_at=_at(23, 59))
    assert "<h1>突发事件日报（2024年7月3日）</h1>" in page
    assert "当日共统计突发事件5起，其中处置中3起、已结案2起。" in page
    assert page.count('<svg class="bars"') == 3  # by type, by level, by district
    assert f'fill="{Level.IV.colour}"' in page  # level bars in the level colours
    # minutes: verify 9.5 / 8.0 / 17.0; on scene 17.7 / 15.0 / 27.0
    for cell in ("9.5", "8.0", "17.0", "17.7", "15.0", "27.0"):
        assert f'<td class="num">{cell}</td>' in page, cell
    assert "http://" not in page and "https://" not in page


def test_pdf_in_both_languages(summary: DailySummary) -> None:
    zh = PdfReader(io.BytesIO(render_pdf(summary, Lang.ZH, font=find_cjk_font())))
    text = "\n".join(p.extract_text() for p in zh.pages)
    for expected in ("突发事件日报（2024年7月3日）", "一、总体情况", "五、响应时效", "接报至核实",
                     "信都区", "9.5", "27.0"):
        assert expected in text, expected
    en = PdfReader(io.BytesIO(render_pdf(summary, Lang.EN)))  # all Latin-1: core font only
    text = " ".join("\n".join(p.extract_text() for p in en.pages).split())
    assert "Daily Incident Summary, 3 Jul 2024" in text
    assert "Reported to first unit on scene 3 17.7 15.0 27.0" in text
    assert "Outside the city" in text
