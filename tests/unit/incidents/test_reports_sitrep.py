"""The situation report as HTML: government layout, both languages, self-contained, escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from incidents.model import IncidentStatus, Level
from incidents.reports import texts
from incidents.reports.model import Lang, ReportKind
from incidents.reports.sitrep import html_environment, render_html, sitrep_title
from tests.unit.incidents.reports_sample import sample_input

SECTIONS_ZH = ("一、基本情况", "二、人员伤亡", "三、处置进展", "四、力量调度", "五、下一步工作",
               "签发", "附图：现场态势图")
SECTIONS_EN = ("1. Basic facts", "2. Casualties", "3. Response so far", "4. Forces dispatched",
               "5. Next steps", "Sign-off", "Annex: situation map")


class _Collect(HTMLParser):
    """Tags, attributes and text of a page, to check it is well formed and what it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        self._in_h2 = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_h2:
            self.h2.append(data.strip())


def _parse(html: str) -> _Collect:
    parser = _Collect()
    parser.feed(html)
    parser.close()
    return parser


def test_chinese_report_has_the_government_layout_in_order() -> None:
    page = render_html(sample_input(Lang.ZH))
    parsed = _parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="zh">' in page
    assert parsed.h2 == list(SECTIONS_ZH)
    title = "关于信都区危化品泄漏事件的续报（第2期）"
    assert f"<h1>{title}</h1>" in page and f"<title>{title}</title>" in page
    body = "".join(parsed.text)
    for expected in ("邢台市应急指挥中心", "2024年7月3日17时00分（北京时间）", "较大（III级）",
                     "处置中", "据各方报告：受伤3人、转移疏散120人", "常住人口约12,000人",
                     "学校2处、医院1处", "视频核实，确认泄漏", "已到场", "交通管制",
                     "继续推进“堵漏与稀释”（消防救援，已完成0/2）", "有关情况将及时续报。"):
        assert expected in body, expected


def test_english_report_has_the_same_structure() -> None:
    page = render_html(sample_input(Lang.EN))
    parsed = _parse(page)
    assert '<html lang="en">' in page
    assert parsed.h2 == list(SECTIONS_EN)
    body = "".join(parsed.text)
    assert "Progress Report No. 2 on the hazardous chemical leak in Xindu District" in body
    for expected in ("Xingtai Emergency Command Centre", "Major (Level III)", "Responding",
                     "3 injured, 120 evacuated", "about 12,000 residents, 2 schools, 1 hospitals",
                     "On scene", "Fire and rescue", "Further reports will follow."):
        assert expected in body, expected
    assert "一、基本情况" not in body


def test_tables_hold_every_timeline_entry_and_order() -> None:
    data = sample_input(Lang.ZH)
    parsed = _parse(render_html(data))
    rows = sum(1 for tag, _ in parsed.tags if tag == "tr")
    facts, signoff, casualties = 9, 4, 2
    # header + rows for: timeline, resources, orders, tasks
    expected = facts + casualties + (1 + len(data.timeline)) + (1 + len(data.resources)) \
        + (1 + len(data.orders)) + (1 + len(data.tasks)) + signoff
    assert rows == expected


def test_level_colour_is_shown_beside_the_level() -> None:
    page = render_html(sample_input(Lang.ZH, level=Level.I))
    assert f'<span class="chip" style="background: {Level.I.colour}"></span>特别重大（I级）' in page


def test_final_report_gives_the_outcome_instead_of_next_steps() -> None:
    data = sample_input(Lang.ZH, ReportKind.FINAL, status=IncidentStatus.CLOSED)
    parsed = _parse(render_html(data))
    assert parsed.h2[4] == "五、处置结果"
    body = "".join(parsed.text)
    assert "关于信都区危化品泄漏事件的终报" in body
    assert "泄漏已封堵，周边空气质量恢复正常。" in body
    # reported 14:20, closed (updated_at) 16:25: 2 h 5 min
    assert "事件于2024年7月3日16时25分（北京时间）处置完毕，历时2小时5分钟" in body
    assert "有关情况将及时续报" not in body


def test_title_per_kind_and_language() -> None:
    assert sitrep_title(sample_input(Lang.EN, ReportKind.FINAL)) == (
        "Final Report on the hazardous chemical leak in Xindu District")
    assert sitrep_title(sample_input(Lang.ZH, ReportKind.FINAL)) == "关于信都区危化品泄漏事件的终报"


@pytest.mark.parametrize("lang", list(Lang))
def test_html_holds_no_url_at_all(lang: Lang) -> None:
    page = render_html(sample_input(lang))
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "@import" not in page and "url(" not in page
    assert "<svg" in page  # the map is inline


def test_user_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script>&<img src=x onerror=1>'
    page = render_html(sample_input(Lang.ZH, title=hostile))
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&lt;img src=x onerror=1&gt;" in page
    assert hostile in "".join(_parse(page).text)


def test_a_fresh_environment_renders_the_same_page() -> None:
    data = sample_input(Lang.ZH)
    assert render_html(data, environment=html_environment()) == render_html(data)


def test_every_label_exists_in_both_languages() -> None:
    for key in texts.label_keys():
        zh, en = texts.label(key, Lang.ZH), texts.label(key, Lang.EN)
        assert zh and en and zh != en or key in {"km"}, key
        en.encode("latin-1")  # English reports stay printable with the core PDF fonts
