"""Horizontal bar charts, laid out once and drawn as SVG here and as PDF rectangles in `pdf.py`.

The layout works in any unit (pixels for SVG, millimetres for PDF): labels on the left, bars
scaled to the largest value, the figure written after each bar. Pure and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from incidents.reports.mapsnap import text_width
from incidents.reports.view import BarChart


@dataclass(frozen=True, slots=True)
class BarRow:
    """One bar, placed."""

    label: str
    """Text left of the bar."""
    value_text: str
    """The figure right of the bar."""
    colour: str
    """Bar colour."""
    y: float
    """Top of the row."""
    bar_x: float
    """Left end of the bar (right end of the label column)."""
    bar_w: float
    """Length of the bar; zero for a zero value."""


@dataclass(frozen=True, slots=True)
class BarLayout:
    """A bar chart placed in a box of the given width."""

    width: float
    """Box width."""
    height: float
    """Box height: one row per bar."""
    row: float
    """Height of a row."""
    font: float
    """Text size."""
    rows: tuple[BarRow, ...]
    """The bars, top to bottom."""


def _figure(value: float) -> str:
    """A count as a count, anything else with one decimal."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def layout_bars(chart: BarChart, width: float, font: float) -> BarLayout:
    """Place the chart's bars in a box `width` wide, with text of size `font` (pure)."""
    row = font * 1.6
    label_w = min(width * 0.4, max((text_width(b.label, font) for b in chart.bars),
                                   default=0.0) + font * 0.6)
    value_w = max((text_width(_figure(b.value), font) for b in chart.bars),
                  default=0.0) + font * 0.6
    room = max(0.0, width - label_w - value_w)
    top = max((b.value for b in chart.bars), default=0.0)
    rows = tuple(
        BarRow(label=b.label, value_text=_figure(b.value), colour=b.colour, y=n * row,
               bar_x=label_w, bar_w=room * b.value / top if top > 0 and b.value > 0 else 0.0)
        for n, b in enumerate(chart.bars))
    return BarLayout(width=width, height=row * len(rows), row=row, font=font, rows=rows)


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def bars_svg(chart: BarChart, width: float = 640.0, font: float = 13.0) -> str:
    """The chart as an inline SVG element (no namespace: it lives inside an HTML page)."""
    layout = layout_bars(chart, width, font)
    out = [f'<svg class="bars" viewBox="0 0 {_num(width)} {_num(layout.height)}" '
           f'width="{_num(width)}" height="{_num(layout.height)}" role="img" '
           f'font-family="sans-serif" font-size="{_num(font)}">']
    for r in layout.rows:
        baseline = r.y + layout.row / 2 + font * 0.35
        out.append(f'<text x="{_num(r.bar_x - font * 0.4)}" y="{_num(baseline)}" '
                   f'text-anchor="end">{escape(r.label)}</text>')
        out.append(f'<rect x="{_num(r.bar_x)}" y="{_num(r.y + layout.row * 0.15)}" '
                   f'width="{_num(r.bar_w)}" height="{_num(layout.row * 0.7)}" '
                   f'fill="{escape(r.colour)}"/>')
        out.append(f'<text x="{_num(r.bar_x + r.bar_w + font * 0.3)}" y="{_num(baseline)}">'
                   f'{escape(r.value_text)}</text>')
    out.append("</svg>")
    return "\n".join(out)
