"""A report as display-ready blocks: every text resolved in one language, every time formatted.

Reports (the situation report, the daily summary) are first turned into a `Document`; the
HTML template and the PDF writer then draw the same document, so the two outputs cannot
drift apart. Texts here are plain, unescaped strings: each writer escapes for its format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from incidents.reports.model import Lang, LocalText, MapInput


@dataclass(frozen=True, slots=True)
class Fact:
    """A labelled value, such as 事件等级: 较大（III级）."""

    label: str
    """What the value is."""
    value: str
    """The value, formatted."""
    colour: str | None = None
    """A colour chip shown before the value (the level's colour), if any."""


@dataclass(frozen=True, slots=True)
class Table:
    """A table with a caption and a header row."""

    caption: str
    """Caption above the table; empty for none."""
    headers: tuple[str, ...]
    """Column headings."""
    rows: tuple[tuple[str, ...], ...]
    """Cells, row by row, as many as headers."""
    widths: tuple[float, ...]
    """Relative column widths."""
    numeric: frozenset[int] = frozenset()
    """Indexes of columns aligned right (figures)."""

    @property
    def percentages(self) -> tuple[float, ...]:
        """Column widths as percentages of the table's width."""
        total = sum(self.widths) or 1.0
        return tuple(round(100.0 * w / total, 1) for w in self.widths)
    empty: str = ""
    """Text shown instead of the rows when there are none."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a bar chart."""

    label: str
    """What the bar counts."""
    value: float
    """Its length."""
    colour: str
    """Its colour."""


@dataclass(frozen=True, slots=True)
class BarChart:
    """A horizontal bar chart."""

    caption: str
    """Caption above the chart."""
    bars: tuple[Bar, ...]
    """Bars, top to bottom."""


@dataclass(frozen=True, slots=True)
class MapFigure:
    """The map snapshot."""

    caption: str
    """Caption under the map."""
    map: MapInput
    """What to draw."""


Figure = BarChart | MapFigure
"""Anything drawn rather than written."""


@dataclass(frozen=True, slots=True)
class Section:
    """A numbered section (一、基本情况 …); its blocks are shown in field order."""

    heading: str
    """The heading, numbered."""
    paragraphs: tuple[str, ...] = ()
    """Running text."""
    facts: tuple[Fact, ...] = ()
    """Label/value pairs, shown as a two-column table."""
    tables: tuple[Table, ...] = ()
    """Tables."""
    figures: tuple[Figure, ...] = ()
    """Charts and maps."""
    items: tuple[str, ...] = ()
    """A numbered list."""
    closing: tuple[str, ...] = ()
    """Running text after everything else (有关情况将及时续报。)."""


@dataclass(frozen=True, slots=True)
class Document:
    """A whole report, ready to draw."""

    lang: Lang
    """Language of every text."""
    title: str
    """The title, centred at the top."""
    subtitle: str
    """A line under the title (the incident's own name, the day); empty for none."""
    meta: tuple[Fact, ...]
    """Issuer and time, under the red rule."""
    sections: tuple[Section, ...]
    """The body."""
    agency_names: Mapping[str, LocalText] = field(default_factory=dict)
    """Agency names for the map legend."""

    def texts(self) -> list[str]:
        """Every text of the document: what a PDF writer must find glyphs for."""
        out = [self.title, self.subtitle]
        out.extend(t for f in self.meta for t in (f.label, f.value))
        for s in self.sections:
            out.append(s.heading)
            out.extend(s.paragraphs)
            out.extend(s.items)
            out.extend(s.closing)
            out.extend(t for f in s.facts for t in (f.label, f.value))
            for table in s.tables:
                out.extend((table.caption, table.empty, *table.headers))
                out.extend(cell for row in table.rows for cell in row)
            for fig in s.figures:
                out.append(fig.caption)
                if isinstance(fig, BarChart):
                    out.extend(b.label for b in fig.bars)
                else:
                    out.extend(d.name.pick(self.lang) for d in fig.map.districts)
                    out.extend(p.label for p in fig.map.points)
                    out.extend(n.pick(self.lang) for n in self.agency_names.values())
        return out
