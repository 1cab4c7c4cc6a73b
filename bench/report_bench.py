"""Report benchmark: situation report generation time (HTML and PDF) beside a naive baseline.

The report is a large one: an incident with 200 timeline entries, 50 dispatch orders, 50
units and 12 facilities on the map of Xingtai's 18 districts, in Chinese.

sitroom's way: one Jinja environment per process (templates parsed and compiled once);
PDF tables drawn by `incidents.reports.pdf_table` (each cell wrapped once, character widths
cached); the CJK font found once at start-up and passed to every PDF.

The naive baseline is what a first attempt does: every HTML report builds a new Jinja
environment (so the templates are parsed and compiled again), and the PDF tables go through
fpdf2's own `FPDF.table()`, which lays each cell out twice and measures every character
through its generic text machinery each time. Everything else is shared code, and both pay
fpdf2's per-document costs (parsing the font file, subsetting it into the PDF), which no
caller can share between documents. Times are CPU time of this process (`process_time`),
so that other work on the machine does not blur the ratio.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from fpdf.fonts import FontFace

from incidents.cap import BoundingBox
from incidents.model import Incident, IncidentStatus, Level
from incidents.reports.fonts import FontSpec, find_cjk_font
from incidents.reports.model import (
    AgencyResources,
    Casualties,
    DecisionSupport,
    FacilityCount,
    Lang,
    LocalText,
    MapDistrict,
    MapInput,
    MapPoint,
    OrderRow,
    OrderState,
    PointKind,
    ReportKind,
    SitrepInput,
    TaskRow,
    TimelineEntry,
)
from incidents.reports.pdf import PdfWriter, choose_font, render_pdf
from incidents.reports.sitrep import html_environment, render_html, sitrep_document
from incidents.reports.view import Fact, Table
from maps.basemap import load_districts

AGENCIES = ("fire", "police", "health", "safety", "water")
T0 = datetime(2024, 7, 3, 14, 20, tzinfo=timezone(timedelta(hours=8)))


@dataclass(frozen=True)
class Timing:
    """Per-report times of one way of rendering."""

    name: str
    seconds: list[float]
    size: int
    """Bytes of the last report."""

    @property
    def ms(self) -> float:
        """Median milliseconds per report."""
        return statistics.median(self.seconds) * 1000.0


@dataclass(frozen=True)
class Result:
    """What the report benchmark measured."""

    html: Timing
    html_naive: Timing
    pdf: Timing
    pdf_naive: Timing
    font: str
    """The CJK font file embedded."""


def big_report() -> SitrepInput:
    """A Chinese progress report: 200 journal entries, 50 orders, 50 units, 18 districts."""
    lat, lon = 37.0712, 114.5043
    districts = tuple(
        MapDistrict(name=LocalText(zh=f["properties"]["name"], en=f["properties"]["name_en"]),
                    geometry=f["geometry"],
                    label_at=(f["properties"]["label_lat"], f["properties"]["label_lon"]))
        for f in load_districts()["features"])
    units = tuple(MapPoint(kind=PointKind.UNIT, lat=lat + (n % 10 - 5) * 0.004,
                           lon=lon + (n // 10 - 2) * 0.006, label=f"U{n:02d}",
                           agency=AGENCIES[n % len(AGENCIES)]) for n in range(50))
    facilities = tuple(MapPoint(kind=PointKind.FACILITY, lat=lat + 0.01 * (n % 4 - 2),
                                lon=lon + 0.012 * (n // 4 - 1), label=f"学校{n}")
                       for n in range(12))
    incident = Incident(id="inc-bench-1", type="chemical_leak", level=Level.II,
                        status=IncidentStatus.RESPONDING, title="襄都区某化工园区储罐危化品泄漏",
                        lat=lat, lon=lon, reported_at=T0, updated_at=T0 + timedelta(hours=5),
                        agency="fire")
    return SitrepInput(
        kind=ReportKind.PROGRESS, sequence=7, language=Lang.ZH,
        generated_at=T0 + timedelta(hours=6),
        issuer=LocalText(zh="邢台市应急指挥中心", en="Xingtai Emergency Command Centre"),
        incident=incident, incident_type=LocalText(zh="危化品泄漏", en="hazardous chemical leak"),
        district=LocalText(zh="襄都区", en="Xiangdu District"),
        timeline=tuple(TimelineEntry(
            at=T0 + timedelta(minutes=n * 1.5), actor=f"值班员{n % 9}",
            action=("note", "dispatch", "order_ack", "verify")[n % 4],
            summary=f"第{n}条处置动态：现场持续监测下风向浓度，检测点{n % 12}读数正常，"
                    f"继续做好警戒与疏散引导") for n in range(200)),
        orders=tuple(OrderRow(
            order_id=f"ord-{n:03d}", number=n + 1, unit=f"U{n:02d}",
            agency=AGENCIES[n % len(AGENCIES)],
            task=("堵漏与稀释", "交通管制", "医疗救护", "环境监测", "人员疏散")[n % 5],
            state=list(OrderState)[n % len(OrderState)], issued_at=T0 + timedelta(minutes=n),
            changed_at=T0 + timedelta(minutes=n + 20)) for n in range(50)),
        tasks=tuple(TaskRow(task=name, agency=AGENCIES[n], required=10, assigned=10, done=n * 2)
                    for n, name in enumerate(("堵漏与稀释", "交通管制", "医疗救护", "环境监测",
                                              "人员疏散"))),
        resources=tuple(AgencyResources(agency=a, units=10, on_scene=6, personnel=60,
                                        vehicles=12) for a in AGENCIES),
        casualties=Casualties(injured=3, evacuated=1200),
        decision=DecisionSupport(radius_m=2000, population=35000, facilities=(
            FacilityCount(kind="school", count=12), FacilityCount(kind="hospital", count=3))),
        map=MapInput(bbox=BoundingBox(south=36.98, west=114.38, north=37.16, east=114.63),
                     districts=districts, points=(*facilities, *units,
                                                  MapPoint(kind=PointKind.INCIDENT, lat=lat,
                                                           lon=lon, level=Level.II)),
                     radius_m=2000),
        next_steps=("继续监测下风向空气质量", "做好疏散群众安置"),
    )


class NaiveWriter(PdfWriter):
    """The PDF writer with fpdf2's `table()` for every table, as a first attempt has it."""

    def facts(self, facts: tuple[Fact, ...]) -> None:
        """Label/value pairs through `FPDF.table()`."""
        self.use(9.5)
        with self.pdf.table(col_widths=(1, 3), first_row_as_headings=False, line_height=5,
                            text_align="LEFT", padding=(1, 1.5)) as out:
            for fact in facts:
                row = out.row()
                row.cell(fact.label, style=FontFace(fill_color=(243, 244, 246)))
                row.cell(fact.value)
        self.pdf.ln(2)

    def table(self, table: Table) -> None:
        """A table through `FPDF.table()`, header repeated on each page."""
        if table.caption:
            self.use(10, bold=True)
            self.pdf.multi_cell(0, 6, table.caption, new_x="LMARGIN", new_y="NEXT")
        self.use(8.5)
        align = tuple("RIGHT" if i in table.numeric else "LEFT" for i in range(len(table.widths)))
        heads = FontFace(emphasis="BOLD" if self.bold else None, fill_color=(243, 244, 246))
        with self.pdf.table(col_widths=table.widths, text_align=align, headings_style=heads,
                            line_height=4.2, padding=(1.1, 1.1), repeat_headings=1) as out:
            out.row(list(table.headers))
            for cells in table.rows:
                out.row(list(cells))
        self.pdf.ln(2)


def naive_pdf(data: SitrepInput, font: FontSpec) -> bytes:
    """The situation report PDF drawn by `NaiveWriter`."""
    doc = sitrep_document(data)
    writer = NaiveWriter(choose_font(doc, font), doc.title)
    writer.header(doc)
    for section in doc.sections:
        writer.section(section, doc)
    return writer.output()


def _time(name: str, reps: int, render: Callable[[], str | bytes]) -> Timing:
    render()  # warm-up: imports, first template compile, the OS file cache
    seconds, out = [], render()
    for _ in range(reps):
        start = time.process_time()
        out = render()
        seconds.append(time.process_time() - start)
    return Timing(name, seconds, len(out))


def run(quick: bool = False) -> Result:
    """Time both ways of making the HTML and the PDF of the big report."""
    html_reps, pdf_reps = (10, 3) if quick else (50, 10)
    data = big_report()
    font = find_cjk_font()  # once, at start-up
    return Result(
        html=_time("sitroom", html_reps, lambda: render_html(data)),
        html_naive=_time("naive", html_reps,
                         lambda: render_html(data, environment=html_environment())),
        pdf=_time("sitroom", pdf_reps, lambda: render_pdf(data, font=font)),
        pdf_naive=_time("naive", pdf_reps, lambda: naive_pdf(data, font)),
        font=str(font.path),
    )


def report(result: Result) -> str:
    """Milliseconds per report, each beside its baseline, with the ratio."""
    lines = [
        "reports: situation report with 200 timeline entries, 50 orders, 50 units, 18 districts",
        "  naive = a new Jinja environment per HTML report (templates compiled again);",
        "  PDF tables through fpdf2's FPDF.table() (each cell laid out twice)",
        f"  PDF font: {result.font}",
        f"{'output':<8} {'sitroom ms':>11} {'naive ms':>10} {'ratio':>7} {'size KB':>9}"
        "   (CPU ms per report, median)",
    ]
    for kind, fast, slow in (("HTML", result.html, result.html_naive),
                             ("PDF", result.pdf, result.pdf_naive)):
        lines.append(f"{kind:<8} {fast.ms:>11.1f} {slow.ms:>10.1f} {slow.ms / fast.ms:>6.1f}x"
                     f" {fast.size / 1024:>9.0f}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run(quick=True)))
