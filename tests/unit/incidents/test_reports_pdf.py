"""The situation report as PDF: Chinese glyphs mapped to text, English in core fonts, escaped
text printed as text, the map drawn as vectors. Needs a CJK font (fonts-wqy-microhei)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader

from incidents.model import IncidentStatus
from incidents.reports.fonts import FontSpec, find_cjk_font
from incidents.reports.model import Lang, ReportKind
from incidents.reports.pdf import needs_cjk_font, render_pdf
from incidents.reports.sitrep import sitrep_document
from tests.unit.incidents.reports_sample import english_input, sample_input


@pytest.fixture(scope="module")
def cjk_font() -> FontSpec:
    """The Chinese font of this machine (CI installs fonts-wqy-microhei)."""
    return find_cjk_font()


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _font_names(pdf: bytes) -> set[str]:
    reader = PdfReader(io.BytesIO(pdf))
    names: set[str] = set()
    for page in reader.pages:
        resources: Any = page["/Resources"]
        fonts: Any = resources.get_object().get("/Font", {})
        for ref in fonts.get_object().values():
            names.add(str(ref.get_object()["/BaseFont"]))
    return names


def test_chinese_pdf_text_is_extractable(cjk_font: FontSpec) -> None:
    pdf = render_pdf(sample_input(Lang.ZH), font=cjk_font)
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    # Extraction goes through the embedded font's ToUnicode map: this proves the glyphs map.
    for expected in ("关于信都区危化品泄漏事件的续报（第2期）", "一、基本情况", "二、人员伤亡",
                     "三、处置进展", "四、力量调度", "五、下一步工作", "附图：现场态势图",
                     "邢台市应急指挥中心",
                     "较大（III级）", "视频核实，确认泄漏", "襄都区", "2 公里"):
        assert expected in text, expected


def test_final_pdf_has_the_outcome(cjk_font: FontSpec) -> None:
    data = sample_input(Lang.ZH, ReportKind.FINAL, status=IncidentStatus.CLOSED)
    text = _text(render_pdf(data, font=cjk_font))
    assert "关于信都区危化品泄漏事件的终报" in text and "五、处置结果" in text


def test_english_pdf_without_chinese_uses_a_core_font() -> None:
    data = english_input()
    assert not needs_cjk_font(sitrep_document(data))
    pdf = render_pdf(data)  # no font given and none needed: nothing is searched or embedded
    assert _font_names(pdf) == {"/Helvetica", "/Helvetica-Bold"}
    text = " ".join(_text(pdf).split())  # the title wraps
    assert "Progress Report No. 2 on the hazardous chemical leak in Xindu District" in text
    assert "Chemical plant tank leak" in text and "Closed the Xingshi Road" in text
    assert "1. Basic facts" in text and "Annex: situation map" in text


def test_english_pdf_with_chinese_names_embeds_the_cjk_font(cjk_font: FontSpec) -> None:
    data = sample_input(Lang.EN)  # the incident's own title is Chinese
    assert needs_cjk_font(sitrep_document(data))
    pdf = render_pdf(data, font=cjk_font)
    assert any("WenQuanYi" in name or "cjk" in name.lower() for name in _font_names(pdf))
    text = _text(pdf)
    assert "Progress Report No. 2 on the hazardous chemical leak in Xindu" in text
    assert "信都区某化工厂危化品泄漏" in text


def test_markup_in_user_text_is_printed_as_text(cjk_font: FontSpec) -> None:
    hostile = "<script>alert(1)</script>泄漏"
    text = _text(render_pdf(sample_input(Lang.ZH, title=hostile), font=cjk_font))
    assert hostile in text
    assert "&lt;" not in text


def test_map_is_drawn_as_vector_paths(cjk_font: FontSpec) -> None:
    pdf = render_pdf(sample_input(Lang.ZH), font=cjk_font)
    reader = PdfReader(io.BytesIO(pdf))
    content = b"".join(page.get_contents().get_data()  # type: ignore[union-attr]
                       for page in reader.pages)
    assert b" re W n" in content  # the map is clipped to its frame
    # Circles are four Bézier curves each: radius ring, incident, two units, legend dots.
    assert len(re.findall(rb" c\s", content)) >= 4 * 4
    assert re.search(rb"\[[\d.]+ [\d.]+\] [\d.]+ d", content)  # the dashed radius ring
    # The incident marker's fill is the level's colour (III: #f5c400 = 245, 196, 0).
    assert b"0.9608 0.7686 0 rg" in content


def test_outlined_bold_does_not_leak_into_body_text(cjk_font: FontSpec) -> None:
    """The CJK font has no bold face: headings are outlined (text render mode 2), a graphics
    state that outlives its text object; body text must still be drawn filled (mode 0)."""
    reader = PdfReader(io.BytesIO(render_pdf(sample_input(Lang.ZH), font=cjk_font)))
    outlined = filled = 0
    for page in reader.pages:
        data = page.get_contents().get_data().decode("latin-1")  # type: ignore[union-attr]
        data = re.sub(r"\((?:\\.|[^\\)])*\)", "()", data, flags=re.S)  # drop string bytes
        modes = [0]
        for op in re.finditer(r"(?<![\w.])(q|Q|Tj|(\d) Tr)(?![\w.])", data):
            if op.group(1) == "q":
                modes.append(modes[-1])
            elif op.group(1) == "Q":
                modes.pop()
            elif op.group(2) is not None:
                modes[-1] = int(op.group(2))
            elif modes[-1] == 0:
                filled += 1
            else:
                outlined += 1
        assert modes == [0]
    assert outlined >= 6  # title and the five section headings
    assert filled > outlined
