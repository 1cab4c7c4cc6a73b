"""The desk's failed-check banner, pure: hidden while every invariant holds, else how many
problems and when (zh/en), with the first findings and their repairs as its tooltip."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard.desk_units import MAX_SHOWN, banner_view
from dashboard.i18n import Lang
from incidents.command import StateCheck
from incidents.unitstate import busy_without_order, without_journal

AT = datetime(2026, 12, 7, 12, 30, 5, tzinfo=UTC)


def test_the_banner_is_hidden_until_a_check_fails() -> None:
    assert banner_view(None, Lang.ZH) == ("", True, "")
    assert banner_view(StateCheck(at=AT, findings=[]), Lang.EN) == ("", True, "")


def test_the_banner_counts_the_problems_and_names_the_first_in_the_pages_language() -> None:
    findings = [busy_without_order(f"e{i}", "en_route") for i in range(MAX_SHOWN + 1)]
    text, hidden, tip = banner_view(StateCheck(at=AT, findings=findings), Lang.ZH)
    assert not hidden
    # Beijing time, as the desk's clock; the repair commands are `sitroom check`'s to print.
    assert text.startswith(f"⚠ 状态检查未通过：{MAX_SHOWN + 1} 处问题（20:30:05）")
    assert "单位显示执行任务但没有未完成的指令：e0" in tip and "另有 1 处" in tip
    assert "e3" not in tip and "--reason" not in tip and "unit_busy" not in tip
    text, _, tip = banner_view(StateCheck(at=AT, findings=[without_journal("i-1")]), Lang.EN)
    assert text.startswith("⚠ State check failed: 1 problem(s) at 20:30:05")
    assert tip == "incident has no journal row: i-1"
