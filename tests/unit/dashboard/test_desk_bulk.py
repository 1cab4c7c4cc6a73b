"""The bulk dialog's pure parts: the options, the summary naming how many and which, and the
result line with every refusal."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard.desk_bulk import chosen, incident_options, result_text, summary
from dashboard.i18n import Lang
from incidents.bulk import BulkItem, BulkResult, BulkVerb
from incidents.model import Incident, IncidentStatus, Level
from incidents.taxonomy import load_taxonomy

AT = datetime(2026, 11, 26, 1, 15, tzinfo=UTC)  # 09:15 in Beijing
NAMES = {"a": "仓库起火", "b": "车辆自燃", "c": "化工厂泄漏"}


def incident(incident_id: str, title: str) -> Incident:
    """An open fire reported at AT."""
    return Incident(id=incident_id, type="fire", level=Level.III,
                    status=IncidentStatus.REPORTED, title=title, lat=37.06, lon=114.49,
                    reported_at=AT, updated_at=AT, agency="fire")


def test_options_read_as_the_list_does() -> None:
    taxonomy = load_taxonomy()
    (zh,) = incident_options([incident("a", "仓库起火")], taxonomy, Lang.ZH)
    assert zh == {"label": "III级 · 火灾 · 仓库起火 · 11-26 09:15", "value": "a"}
    (en,) = incident_options([incident("a", "仓库起火")], taxonomy, Lang.EN)
    assert en["label"].startswith("Lv III · ") and en["label"].endswith("11-26 09:15")


def test_the_summary_names_how_many_and_which() -> None:
    assert summary("false_alarm", ["a", "b"], None, NAMES, Lang.ZH) == (
        "将以「误报」结案 2 起：「仓库起火」、「车辆自燃」")
    assert summary("resolved", ["a"], None, NAMES, Lang.EN) == (
        "Will close 1 as resolved: 仓库起火")
    assert summary("merge", ["a", "b", "c"], "a", NAMES, Lang.ZH) == (
        "将把 2 起合并到「仓库起火」：「车辆自燃」、「化工厂泄漏」")
    assert summary("merge", ["b"], None, NAMES, Lang.EN) == "Choose the incident to merge into"
    assert summary("resolved", [], None, NAMES, Lang.ZH) == "尚未选择事件"
    many = [str(i) for i in range(12)]
    assert summary("resolved", many, None, {}, Lang.ZH).endswith("…（另 4 起）")


def test_the_target_is_not_merged_into_itself() -> None:
    assert chosen("merge", ["a", "b", "a"], "a") == ["b"]
    assert chosen("resolved", ["a", "b", "a"], "a") == ["a", "b"]


def test_the_result_says_what_was_done_and_why_not() -> None:
    result = BulkResult(action=BulkVerb.CLOSE, target=None, done=1, refused=2, items=[
        BulkItem(incident_id="a", done=True),
        BulkItem(incident_id="b", done=False, error="must be contained", error_zh="须先控制"),
        BulkItem(incident_id="x", done=False, error="incident x does not exist",
                 error_zh="事件 x 不存在")])
    assert result_text(result, NAMES, Lang.ZH) == (
        "已结案 1 起，2 起未能处理：「车辆自燃」（须先控制）；「x」（事件 x 不存在）")
    assert result_text(result, NAMES, Lang.EN) == (
        "Closed 1; 2 could not be: 车辆自燃 (must be contained);"
        " x (incident x does not exist)")
    merged = BulkResult(action=BulkVerb.MERGE, target="a", done=2, refused=0,
                        items=[BulkItem(incident_id="b", done=True),
                               BulkItem(incident_id="c", done=True)])
    assert result_text(merged, NAMES, Lang.ZH) == "已合并 2 起到「仓库起火」"
