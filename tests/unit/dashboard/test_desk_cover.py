"""The panel's needed / sent / short line and table."""

from __future__ import annotations

from dashboard.desk_cover import cover_rows, cover_summary, render_cover
from dashboard.i18n import Lang
from incidents.coverage import cover
from incidents.dispatch import OrderState
from incidents.taxonomy import load_taxonomy
from tests.unit.incidents.test_coverage import need, order

TAXONOMY = load_taxonomy()


def test_the_summary_says_sent_of_needed_short_and_confirmed() -> None:
    orders = [order(n, "attack", OrderState.ACKNOWLEDGED) for n in range(8)]
    found = cover([need("attack", 30), need("cordon", 20)], orders, "p")
    assert cover_summary(found, Lang.ZH) == "已派 8/50 · 缺 42 · 已确认 8"
    assert cover_summary(found, Lang.EN) == "sent 8 of 50 · 42 short · 8 confirmed"
    scene = [*orders[:7], order(9, "attack", OrderState.ON_SCENE)]
    full = cover([need("attack", 8)], scene, "p")
    assert cover_summary(full, Lang.ZH, scene) == "已派 8/8 · 已配齐 · 已确认 8 · 1 到场"
    assert cover_summary(cover([], orders[:2]), Lang.EN) == (
        "sent 2 (no plan applies) · 2 confirmed")


def test_short_tasks_are_marked_in_the_table() -> None:
    orders = [order(1, "attack", OrderState.ISSUED)]
    found = cover([need("attack", 3), need("cordon", 1)], [*orders,
                                                           order(2, "cordon", OrderState.DONE)],
                  "p")
    rows = cover_rows(found, TAXONOMY, Lang.ZH)
    assert [(r.task_id, r.short) for r in rows] == [("attack", 2), ("cordon", 0)]
    assert rows[0].who == "消防救援 · 水罐消防车"
    body = str([c.to_plotly_json() for c in render_cover("s", found, rows, Lang.ZH)])
    assert body.count("desk-cover-short") == 1 and "缺 2" in body
    assert render_cover("", cover([], []), [], Lang.ZH) == []
