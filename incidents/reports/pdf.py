"""Reports as PDF with fpdf2: the building blocks (title, sections, tables, map, bar chart)
drawing any `Document`, and the situation report built from them.

Chinese text needs an embedded CJK font (see `fonts.py`); a document whose every text fits
Latin-1 (an English report without Chinese names) uses the Helvetica core font and embeds
nothing. fpdf2 parses the font file for each document: callers that make many reports pass
the `FontSpec` they found once instead of searching again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fpdf import FPDF
from fpdf.enums import TextMode
from fpdf.fonts import TTFFont

from incidents.model import Level
from incidents.reports.charts import layout_bars
from incidents.reports.fonts import FontSpec, find_cjk_font
from incidents.reports.mapsnap import (
    RADIUS_COLOUR,
    ZONE_COLOURS,
    ZONE_OPACITY,
    MapLayout,
    layout_map,
    legend_box,
    triangle,
)
from incidents.reports.model import PointKind, SitrepInput, ZoneKind
from incidents.reports.pdf_table import INK, Cell, TextMeasure, draw_grid
from incidents.reports.sitrep import sitrep_document
from incidents.reports.view import BarChart, Document, Fact, MapFigure, Section, Table

PT_PER_MM = 72.0 / 25.4
"""Points per millimetre: fpdf2 sizes fonts in points and places them in millimetres."""
_CJK = "cjk"
_HEAD_FILL: tuple[int, int, int] = (243, 244, 246)
_RED = (185, 28, 28)
_ON_LEVEL: dict[Level, tuple[int, int, int]] = {
    Level.I: (255, 255, 255), Level.II: INK, Level.III: INK, Level.IV: (255, 255, 255)}
"""Text colour readable on each level's colour."""
HEADING_MM = 10.0
"""Height of a section heading with the space above it."""
KEEP_WITH_HEADING_MM = 20.0
"""Least of a section's content that must fit under its heading on the same page."""
MAP_ASPECT = 0.68
"""Height of the map as a share of its width."""


def _rgb(colour: str) -> tuple[int, int, int]:
    """#rrggbb as an (r, g, b) triple."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def needs_cjk_font(doc: Document) -> bool:
    """True when some text of the document cannot be written with a Latin-1 core font."""
    try:
        "\n".join(doc.texts()).encode("latin-1")
    except UnicodeEncodeError:
        return True
    return False


class PdfWriter:
    """Draws the blocks of a document on A4 pages, top to bottom."""

    def __init__(self, font: FontSpec | None, title: str) -> None:
        """Start a document; `font` is the CJK font to embed, None for Helvetica only."""
        pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        pdf.set_margins(18, 18, 18)
        pdf.set_auto_page_break(True, margin=18)
        pdf.set_title(title)
        pdf.set_creator("sitroom")
        if font is not None:
            pdf.add_font(_CJK, "", str(font.path), collection_font_number=font.index)
        self.pdf = pdf
        self.measure = TextMeasure(pdf)
        self.family = _CJK if font is not None else "helvetica"
        self.bold = "B" if font is None else ""  # the CJK files have no bold face
        pdf.add_page()

    def use(self, size_pt: float, bold: bool = False) -> None:
        """Switch to the report font at `size_pt` (bold only where the font has a bold face)."""
        self.pdf.set_font(self.family, self.bold if bold else "", size_pt)

    @contextmanager
    def strong(self, size_pt: float) -> Iterator[None]:
        """Bold text at `size_pt`; without a bold face, glyphs are filled and outlined.

        The outline mode is a graphics state that outlives the text object, so it is set
        inside a saved state (q … Q) and cannot leak into the text that follows.
        """
        self.use(size_pt, bold=True)
        if self.bold:
            yield
            return
        with self.pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=size_pt / 80):
            yield

    def header(self, doc: Document) -> None:
        """Red title, subtitle, red rule and the issuer/time line."""
        pdf = self.pdf
        pdf.set_text_color(*_RED)
        with self.strong(17):
            pdf.multi_cell(0, 9, doc.title, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        if doc.subtitle:
            self.use(11.5)
            pdf.multi_cell(0, 6.5, doc.subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
        pdf.set_draw_color(*_RED)
        pdf.set_line_width(0.8)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.set_line_width(0.2)
        pdf.set_draw_color(0, 0, 0)
        pdf.ln(2)
        self.use(10)
        pdf.multi_cell(0, 6, "    ".join(f"{f.label}: {f.value}" for f in doc.meta),
                       align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)

    def heading(self, text: str, keep_mm: float = KEEP_WITH_HEADING_MM) -> None:
        """A section heading; starts a new page unless `keep_mm` of what follows fits under
        it too, so that a heading never stands alone at the foot of a page."""
        if self.pdf.will_page_break(HEADING_MM + keep_mm):
            self.pdf.add_page()
        self.pdf.ln(2)
        with self.strong(13):
            self.pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text: str) -> None:
        """Running text."""
        self.use(10.5)
        self.pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1)

    def items(self, items: tuple[str, ...]) -> None:
        """A numbered list."""
        self.use(10.5)
        for n, item in enumerate(items, 1):
            self.pdf.multi_cell(0, 6, f"{n}. {item}", new_x="LMARGIN", new_y="NEXT")

    def facts(self, facts: tuple[Fact, ...]) -> None:
        """Label/value pairs as a two-column table; a coloured fact fills its value cell."""
        self.use(9.5)
        rows = []
        for fact in facts:
            value = Cell(fact.value)
            if fact.colour is not None:
                ink = next((c for lv, c in _ON_LEVEL.items() if lv.colour == fact.colour), INK)
                value = Cell(fact.value, fill=_rgb(fact.colour), colour=ink)
            rows.append((Cell(fact.label, fill=_HEAD_FILL), value))
        draw_grid(self.pdf, self.measure, (self.pdf.epw * 0.25, self.pdf.epw * 0.75), rows,
                  line_h=5.0, pad=1.2)
        self.pdf.ln(2)

    def table(self, table: Table) -> None:
        """A table with caption and header row, repeated on each page it spans."""
        pdf = self.pdf
        if table.caption:
            if pdf.will_page_break(20):
                pdf.add_page()
            with self.strong(10):
                pdf.multi_cell(0, 6, table.caption, new_x="LMARGIN", new_y="NEXT")
        total = sum(table.widths)
        widths = [pdf.epw * w / total for w in table.widths]
        header = [Cell(h, fill=_HEAD_FILL, right=i in table.numeric)
                  for i, h in enumerate(table.headers)]
        self.use(8.5)
        rows = [[Cell(text, right=i in table.numeric) for i, text in enumerate(row)]
                for row in table.rows]
        if not rows:  # one row saying there is nothing
            rows = [[Cell(table.empty if i == 0 else "") for i in range(len(widths))]]
        draw_grid(pdf, self.measure, widths, rows, header)
        pdf.ln(2)

    def bars(self, chart: BarChart) -> None:
        """A bar chart as filled rectangles."""
        pdf = self.pdf
        font = 3.4
        layout = layout_bars(chart, pdf.epw, font)
        if pdf.will_page_break(layout.height + 12):
            pdf.add_page()
        if chart.caption:
            with self.strong(10):
                pdf.multi_cell(0, 6, chart.caption, new_x="LMARGIN", new_y="NEXT")
        x0, y0 = pdf.l_margin, pdf.get_y()
        self.use(font * PT_PER_MM)
        for r in layout.rows:
            baseline = y0 + r.y + layout.row / 2 + font * 0.35
            pdf.text(x0 + r.bar_x - font * 0.4 - pdf.get_string_width(r.label), baseline,
                     r.label)
            if r.bar_w > 0:
                pdf.set_fill_color(*_rgb(r.colour))
                pdf.rect(x0 + r.bar_x, y0 + r.y + layout.row * 0.15, r.bar_w,
                         layout.row * 0.7, style="F")
            pdf.text(x0 + r.bar_x + r.bar_w + font * 0.3, baseline, r.value_text)
        pdf.set_fill_color(255, 255, 255)  # fpdf2's tables fill cells with the current colour
        pdf.set_y(y0 + layout.height + 3)

    def map_layout(self, figure: MapFigure, doc: Document) -> MapLayout:
        """The map laid out the full text width."""
        width = self.pdf.epw
        return layout_map(figure.map, width, width * MAP_ASPECT, lang=doc.lang,
                          agency_names=doc.agency_names)

    def map(self, figure: MapFigure, doc: Document) -> None:
        """The map snapshot in vector graphics, the full text width, with its caption."""
        pdf = self.pdf
        layout = self.map_layout(figure, doc)
        if pdf.will_page_break(layout.height + 10):
            pdf.add_page()
        x0, y0 = pdf.l_margin, pdf.get_y()
        with pdf.rect_clip(x0, y0, layout.width, layout.height):
            _draw_map(self, layout, x0, y0)
        pdf.set_draw_color(156, 163, 175)
        pdf.rect(x0, y0, layout.width, layout.height)
        pdf.set_y(y0 + layout.height + 1.5)
        self.use(9)
        pdf.multi_cell(0, 5, figure.caption, align="C", new_x="LMARGIN", new_y="NEXT")

    def first_block_mm(self, section: Section, doc: Document) -> float:
        """Height of what must follow a section's heading on the same page: the map when it
        comes first (a map never breaks), else a few lines of text or table."""
        if section.paragraphs or section.facts or section.tables or not section.figures:
            return KEEP_WITH_HEADING_MM
        first = section.figures[0]
        if isinstance(first, MapFigure):
            return self.map_layout(first, doc).height + 10
        return KEEP_WITH_HEADING_MM

    def section(self, section: Section, doc: Document) -> None:
        """A whole section, blocks in the order the HTML shows them."""
        self.heading(section.heading, self.first_block_mm(section, doc))
        for paragraph in section.paragraphs:
            self.paragraph(paragraph)
        if section.facts:
            self.facts(section.facts)
        for table in section.tables:
            self.table(table)
        for figure in section.figures:
            if isinstance(figure, BarChart):
                self.bars(figure)
            else:
                self.map(figure, doc)
        if section.items:
            self.items(section.items)
        for paragraph in section.closing:
            self.paragraph(paragraph)

    def output(self) -> bytes:
        """The finished PDF."""
        return bytes(self.pdf.output())

    def close(self) -> None:
        """Close the font files fpdf2 holds open (it reads them lazily since 2.8.9 and closes
        only the fonts its output used, so an unused or failed document leaked the file)."""
        for font in self.pdf.fonts.values():
            if isinstance(font, TTFFont):
                font.close()


def _draw_map(w: PdfWriter, layout: MapLayout, x0: float, y0: float) -> None:
    """Draw a laid-out map with its top left corner at (x0, y0); the caller clips."""
    pdf, f = w.pdf, layout.font
    pdf.set_fill_color(248, 250, 252)
    pdf.rect(x0, y0, layout.width, layout.height, style="F")
    pdf.set_fill_color(238, 242, 230)
    pdf.set_draw_color(100, 116, 139)
    pdf.set_line_width(f / 12)
    for d in layout.districts:
        for ring in d.rings:
            pdf.polygon([(x0 + x, y0 + y) for x, y in ring], style="DF")
    w.use(f * PT_PER_MM)
    pdf.set_text_color(71, 85, 105)
    for d in layout.districts:
        if d.label_at is not None:
            x, y = d.label_at
            pdf.text(x0 + x - pdf.get_string_width(d.name) / 2, y0 + y, d.name)
    for z in layout.zones:
        fill, stroke = ZONE_COLOURS[z.kind]
        pdf.set_draw_color(*_rgb(stroke))
        pdf.set_fill_color(*_rgb(fill))
        pdf.set_line_width(f / 10)
        with pdf.local_context(fill_opacity=ZONE_OPACITY):
            for ring in z.rings:
                pdf.polygon([(x0 + x, y0 + y) for x, y in ring], style="DF")
    pdf.set_line_width(f / 8)
    pdf.set_dash_pattern(dash=f / 3, gap=f / 5)
    for k in layout.links:
        pdf.set_draw_color(*_rgb(k.colour))
        pdf.line(x0 + k.start[0], y0 + k.start[1], x0 + k.end[0], y0 + k.end[1])
    pdf.set_draw_color(*_rgb(RADIUS_COLOUR))
    pdf.set_line_width(f / 10)
    pdf.set_dash_pattern(dash=f / 2, gap=f / 3)
    for (cx, cy), r in layout.radii:
        pdf.circle(x0 + cx, y0 + cy, r, style="D")
    pdf.set_dash_pattern()
    pdf.set_text_color(17, 24, 39)
    for m in layout.markers:
        _marker(pdf, m.kind, x0 + m.x, y0 + m.y, m.size, m.fill)
        if m.label:
            w.use(f * 0.8 * PT_PER_MM)
            pdf.text(x0 + m.x + m.size * 1.4, y0 + m.y + f * 0.35, m.label)
    (bx, by), length, caption = layout.scale_bar
    pdf.set_draw_color(17, 24, 39)
    pdf.set_line_width(f / 8)
    pdf.polyline([(x0 + bx, y0 + by - f / 3), (x0 + bx, y0 + by), (x0 + bx + length, y0 + by),
                  (x0 + bx + length, y0 + by - f / 3)])
    w.use(f * PT_PER_MM)
    pdf.text(x0 + bx + (length - pdf.get_string_width(caption)) / 2, y0 + by - f / 2, caption)
    nx, ny = x0 + layout.north[0], y0 + layout.north[1]
    pdf.set_fill_color(17, 24, 39)
    pdf.polygon([(nx, ny), (nx + f / 2, ny + f * 1.4), (nx, ny + f), (nx - f / 2, ny + f * 1.4)],
                style="F")
    pdf.text(nx - pdf.get_string_width(layout.north_text) / 2, ny + f * 2.5, layout.north_text)
    if layout.legend:
        lx, ly, lw, lh = legend_box(layout)
        pdf.set_fill_color(255, 255, 255)
        pdf.set_draw_color(148, 163, 184)
        pdf.set_line_width(0.2)
        pdf.rect(x0 + lx, y0 + ly, lw, lh, style="DF")
        w.use(f * 0.85 * PT_PER_MM)
        for n, entry in enumerate(layout.legend):
            cy = y0 + ly + f * (1.0 + 1.3 * n)
            _swatch(pdf, entry.kind, x0 + lx + f, cy, f, entry.colour)
            pdf.text(x0 + lx + f * 1.8, cy + f * 0.35, entry.text)
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_fill_color(255, 255, 255)  # fpdf2's tables fill cells with the current colour
    pdf.set_line_width(0.2)


def _swatch(pdf: FPDF, kind: PointKind | ZoneKind | None, x: float, y: float, f: float,
            colour: str) -> None:
    """A legend line's symbol centred at (x, y): marker, area or dashed line."""
    if isinstance(kind, PointKind):
        _marker(pdf, kind, x, y, f * 0.4, colour)
        return
    if isinstance(kind, ZoneKind):
        pdf.set_fill_color(*_rgb(colour))
        pdf.set_draw_color(*_rgb(ZONE_COLOURS[kind][1]))
        pdf.set_line_width(f / 12)
        pdf.rect(x - f / 2, y - f * 0.35, f, f * 0.7, style="DF")
        return
    pdf.set_draw_color(*_rgb(colour))
    pdf.set_line_width(f / 8)
    pdf.set_dash_pattern(dash=f / 3, gap=f / 5)
    pdf.line(x - f * 0.6, y, x + f * 0.6, y)
    pdf.set_dash_pattern()


def _marker(pdf: FPDF, kind: PointKind, x: float, y: float, size: float, colour: str) -> None:
    pdf.set_fill_color(*_rgb(colour))
    pdf.set_line_width(size / 3)
    if kind is PointKind.FACILITY:
        pdf.set_draw_color(255, 255, 255)
        pdf.polygon(list(triangle(x, y, size)), style="DF")
        return
    pdf.set_draw_color(*((17, 17, 17) if kind is PointKind.INCIDENT else (255, 255, 255)))
    pdf.circle(x, y, size, style="DF")


def choose_font(doc: Document, font: FontSpec | None) -> FontSpec | None:
    """The CJK font the document needs (`font`, else one found now), or None for Latin-1."""
    if not needs_cjk_font(doc):
        return None
    return font if font is not None else find_cjk_font()


def render_document_pdf(doc: Document, font: FontSpec | None = None) -> bytes:
    """A document as PDF; `font` is the CJK font to embed, searched for when needed and None."""
    writer = PdfWriter(choose_font(doc, font), doc.title)
    try:
        writer.header(doc)
        for section in doc.sections:
            writer.section(section, doc)
        return writer.output()
    finally:
        writer.close()


def render_pdf(data: SitrepInput, *, font: FontSpec | None = None) -> bytes:
    """The situation report as PDF, with the same content as `sitrep.render_html`."""
    return render_document_pdf(sitrep_document(data), font)
