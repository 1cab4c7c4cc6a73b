"""Headings stay with their content: the situation map's heading is never left alone at the
foot of a page while the map goes to the next one, whatever length the report has before it."""

from __future__ import annotations

import io
from datetime import timedelta

import msgspec
import pytest
from pypdf import PdfReader

from incidents.reports.fonts import FontSpec, find_cjk_font
from incidents.reports.model import Lang, SitrepInput, TimelineEntry
from incidents.reports.pdf import render_pdf
from tests.unit.incidents.reports_sample import T0, english_input, sample_input

HEADINGS = {Lang.ZH: "附图：现场态势图", Lang.EN: "Annex: situation map"}
CAPTIONS = {Lang.ZH: "事件现场态势图", Lang.EN: "Situation map:"}
"""Text of the caption printed under the map: it lands on the map's page."""


@pytest.fixture(scope="module")
def cjk_font() -> FontSpec:
    """The Chinese font of this machine (CI installs fonts-wqy-microhei)."""
    return find_cjk_font()


def _longer(data: SitrepInput, entries: int) -> SitrepInput:
    """The sample with `entries` more journal lines: pushes the map down the pages."""
    zh = data.language is Lang.ZH
    extra = tuple(TimelineEntry(at=T0 + timedelta(minutes=30 + n), actor="值班员" if zh else "Desk",
                                action="note", summary=f"第{n}条进展" if zh else f"Update {n}")
                  for n in range(entries))
    return msgspec.structs.replace(data, timeline=data.timeline + extra)


def _pages_with(pdf: bytes, text: str) -> list[int]:
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    return [n for n, page in enumerate(pages) if text in page]


@pytest.mark.parametrize("lang", [Lang.ZH, Lang.EN])
def test_map_heading_is_on_the_maps_page(lang: Lang, cjk_font: FontSpec) -> None:
    base = sample_input(Lang.ZH) if lang is Lang.ZH else english_input()
    map_pages = set()
    # Each journal line is one table row of about 5 mm: 3 rows a step move the end of the
    # text down the page in 15 mm steps, through every place where the heading fits and the
    # map (about 120 mm) does not.
    for entries in range(0, 45, 3):
        document = render_pdf(_longer(base, entries), font=cjk_font)
        heading = _pages_with(document, HEADINGS[lang])
        caption = _pages_with(document, CAPTIONS[lang])
        assert len(heading) == 1 and heading == caption, (entries, heading, caption)
        map_pages.add(heading[0])
    assert len(map_pages) >= 2  # the sweep did push the map onto a later page
