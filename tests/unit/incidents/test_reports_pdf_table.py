"""PDF tables: line wrapping keeps every character within the width, rows split across pages
with the header repeated."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from fpdf import FPDF
from fpdf.fonts import TTFFont
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from incidents.reports.fonts import find_cjk_font
from incidents.reports.pdf_table import Cell, TextMeasure, draw_grid


def _pdf(cjk: bool = False) -> FPDF:
    pdf = FPDF(unit="mm", format="A4")
    if cjk:
        font = find_cjk_font()
        pdf.add_font("cjk", "", str(font.path), collection_font_number=font.index)
        pdf.set_font("cjk", "", 10)
    else:
        pdf.set_font("helvetica", "", 10)
    pdf.add_page()
    return pdf


def test_latin_words_stay_whole_and_spaces_vanish_at_breaks() -> None:
    measure = TextMeasure(_pdf())
    width = measure.width("Traffic control at")
    text = "Traffic control at the Xingshi Road junction"
    lines = measure.wrap(text, width)
    assert lines[0] == "Traffic control at"
    assert len(lines) > 2 and " ".join(lines) == text  # broken only at spaces
    assert all(measure.width(line) <= width for line in lines)
    assert measure.wrap("a\nb", 100) == ["a", "b"]
    assert measure.wrap("", 100) == [""]


def test_a_word_wider_than_the_cell_is_cut() -> None:
    measure = TextMeasure(_pdf())
    lines = measure.wrap("inc-20240703-000000000007", measure.width("inc-2024070"))
    assert "".join(lines) == "inc-20240703-000000000007"
    assert all(measure.width(line) <= measure.width("inc-2024070") for line in lines)
    assert len(lines) == 3


@pytest.fixture
def cjk_pdf() -> Iterator[FPDF]:
    """A page with the CJK font; fpdf2 keeps the font file open until output, so close it."""
    pdf = _pdf(cjk=True)
    yield pdf
    for font in pdf.fonts.values():
        if isinstance(font, TTFFont):
            font.close()


def test_chinese_breaks_between_any_two_characters(cjk_pdf: FPDF) -> None:
    measure = TextMeasure(cjk_pdf)
    text = "现场持续监测下风向浓度，检测点读数正常"
    lines = measure.wrap(text, measure.width("现场持续监测"))
    assert lines[0] == "现场持续监测" and "".join(lines) == text


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab cdXYZ-,.12 \n")), max_size=120),
       st.floats(min_value=3.0, max_value=60.0))
def test_wrapping_keeps_the_text_and_the_width(text: str, width: float) -> None:
    measure = TextMeasure(_pdf())
    lines = measure.wrap(text, width)
    for line in lines:
        assert len(line) <= 1 or measure.width(line) <= width + 1e-9
        assert line == line.strip(" ")
    # Only spaces at line breaks (and at line ends) may go: the words are all there, in order.
    assert re.sub(r"\s+", "", "".join(lines)) == re.sub(r"\s+", "", text)
    assert len(lines) >= text.count("\n") + 1


def test_a_long_table_repeats_its_header_and_splits_a_tall_row() -> None:
    pdf = _pdf()
    header = [Cell("When", fill=(240, 240, 240)), Cell("What", fill=(240, 240, 240))]
    tall = "\n".join(f"line {n}" for n in range(80))  # taller than a page
    rows = [[Cell(f"r{n}"), Cell("short")] for n in range(60)] + [[Cell("tall"), Cell(tall)]]
    draw_grid(pdf, TextMeasure(pdf), (40, 130), rows, header)
    reader = PdfReader(io.BytesIO(bytes(pdf.output())))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    assert all(text.count("When") == 1 for text in pages)  # header on every page
    everything = "\n".join(pages)
    assert all(f"r{n}\n" in everything or f"r{n} " in everything for n in range(60))
    assert all(f"line {n}" in everything for n in range(80))  # nothing lost in the split
    # A row taller than a page starts right after the last short row (moving it would not
    # help) and goes on over the next page.
    page_of = {key: next(i for i, text in enumerate(pages) if key in text)
               for key in ("r59", "line 0", "line 79")}
    assert page_of["line 0"] == page_of["r59"] < page_of["line 79"]


def test_a_row_that_fits_a_page_moves_to_the_next_page_whole() -> None:
    pdf = _pdf()
    pdf.set_y(pdf.page_break_trigger - 8)  # room for one line, not three
    draw_grid(pdf, TextMeasure(pdf), (170,), [[Cell("alpha\nbeta\ngamma")]])
    reader = PdfReader(io.BytesIO(bytes(pdf.output())))
    assert len(reader.pages) == 2
    assert reader.pages[0].extract_text().strip() == ""
    assert reader.pages[1].extract_text().split() == ["alpha", "beta", "gamma"]
