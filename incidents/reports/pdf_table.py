"""Tables for the PDF reports: each cell's text measured and wrapped once, rows drawn with
plain rectangles and text, the header repeated on every page, a tall row split across pages.

fpdf2's own `table()` lays out each cell twice (once to size the row, once to draw it) and
measures every character through its generic text machinery each time; a report with a
200-row timeline spent most of its time there. Here character widths are cached per font
size (fpdf2 does not kern without text shaping, so a string's width is the sum of its
characters'), and each cell is wrapped once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF

RGB = tuple[int, int, int]
"""A colour as (red, green, blue), 0–255."""
INK: RGB = (17, 24, 39)
"""Default text colour."""

# A line may break before and after any CJK character; Latin words stay whole when they can.
_WIDE = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
_TOKEN = re.compile(f"[{_WIDE}]|[^\\s{_WIDE}]+|\\s+")


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell's text and colours."""

    text: str
    """What the cell says; newlines start new lines."""
    fill: RGB | None = None
    """Background colour; None for none."""
    colour: RGB = INK
    """Text colour."""
    right: bool = False
    """Align right (figures)."""


class TextMeasure:
    """Widths and line breaks of text in the PDF's current font, with a per-character cache."""

    def __init__(self, pdf: FPDF) -> None:
        """Measure with `pdf`'s current font and size, whatever they are at each call."""
        self._pdf = pdf
        self._cache: dict[tuple[str, float, str], float] = {}

    def width(self, text: str) -> float:
        """Width of `text` in the current font, in document units."""
        key = (self._pdf.font_family + self._pdf.font_style, self._pdf.font_size_pt)
        cache, total = self._cache, 0.0
        for ch in text:
            found = cache.get((*key, ch))
            if found is None:
                found = cache[(*key, ch)] = self._pdf.get_string_width(ch)
            total += found
        return total

    def wrap(self, text: str, width: float) -> list[str]:
        """`text` broken into lines no wider than `width` (a character wider stays alone)."""
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line, used = "", 0.0
            for token in _TOKEN.findall(paragraph):
                size = self.width(token)
                if used + size <= width:
                    if line or not token.isspace():  # no line starts with a space
                        line, used = line + token, used + size
                    continue
                if line.strip():
                    lines.append(line.rstrip())
                line, used = "", 0.0
                if token.isspace():
                    continue  # spaces at a break vanish
                while size > width and len(token) > 1:
                    cut = self._fitting(token, width)
                    lines.append(token[:cut])
                    token = token[cut:]
                    size = self.width(token)
                line, used = token, size
            lines.append(line.rstrip())
        return lines

    def _fitting(self, token: str, width: float) -> int:
        """How many leading characters of `token` fit in `width`; at least one."""
        used = 0.0
        for n, ch in enumerate(token):
            used += self.width(ch)
            if used > width:
                return max(1, n)
        return len(token)


def draw_grid(pdf: FPDF, measure: TextMeasure, widths: Sequence[float],
              rows: Sequence[Sequence[Cell]], header: Sequence[Cell] | None = None, *,
              line_h: float = 4.2, pad: float = 1.1) -> None:
    """Draw rows of cells from the current y down, breaking pages as needed (fonts as set)."""
    xs = [pdf.l_margin + sum(widths[:i]) for i in range(len(widths))]
    top = pdf.t_margin

    def wrapped(cells: Sequence[Cell]) -> list[list[str]]:
        return [measure.wrap(c.text, w - 2 * pad) for c, w in zip(cells, widths, strict=True)]

    head = wrapped(header) if header is not None else None
    head_h = (max(map(len, head)) * line_h + 2 * pad) if head is not None else 0.0

    def draw(cells: Sequence[Cell], lines: list[list[str]], start: int, count: int) -> None:
        y = pdf.get_y()
        h = count * line_h + 2 * pad
        for x, w, cell, text in zip(xs, widths, cells, lines, strict=True):
            if cell.fill is not None:
                pdf.set_fill_color(*cell.fill)
            pdf.rect(x, y, w, h, style="DF" if cell.fill is not None else "D")
            pdf.set_text_color(*cell.colour)
            for n, line in enumerate(text[start:start + count]):
                left = x + w - pad - measure.width(line) if cell.right else x + pad
                pdf.text(left, y + pad + line_h * (n + 0.78), line)
        pdf.set_y(y + h)

    def new_page() -> None:
        pdf.add_page()
        if header is not None and head is not None:
            draw(header, head, 0, max(map(len, head)))

    if pdf.get_y() + head_h + line_h + 2 * pad > pdf.page_break_trigger:
        pdf.add_page()
    if header is not None and head is not None:
        draw(header, head, 0, max(map(len, head)))
    page_lines = math.floor((pdf.page_break_trigger - top - head_h - 2 * pad) / line_h)
    for cells in rows:
        lines = wrapped(cells)
        total, start, fresh = max(map(len, lines)), 0, False
        while start < total:
            fit = math.floor((pdf.page_break_trigger - pdf.get_y() - 2 * pad) / line_h)
            left = total - start
            # Move a row that fits on a page to the next page rather than split it; on a
            # fresh page, draw at least a line whatever happens, so that the loop ends.
            if not fresh and (fit < 1 or (fit < left and start == 0 and left <= page_lines)):
                new_page()
                fresh = True
                continue
            count = max(1, min(fit, left))
            draw(cells, lines, start, count)
            start, fresh = start + count, False
    pdf.set_text_color(*INK)
    pdf.set_fill_color(255, 255, 255)
