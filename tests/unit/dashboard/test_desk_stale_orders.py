"""The panel's order list marks an order flagged for no progress: "无进展 N 分钟"."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from dashboard.desk_panel import order_views, render_orders
from dashboard.i18n import Lang
from incidents.briefing import describe
from incidents.dispatch import OrderState
from tests.unit.dashboard.test_desk_panel import NOW, TAXONOMY, order


def test_a_stale_open_order_says_for_how_long_nothing_happened() -> None:
    moved = NOW - timedelta(minutes=42)
    stale = msgspec.structs.replace(order("o1", OrderState.EN_ROUTE), updated_at=moved,
                                    stale_at=NOW - timedelta(minutes=12))
    ended = msgspec.structs.replace(stale, id="o2", state=OrderState.CANCELLED)
    fresh = order("o3", OrderState.EN_ROUTE)
    views = {v.id: v for v in order_views([stale, ended, fresh], TAXONOMY, Lang.ZH, NOW)}
    assert {i: v.stale_min for i, v in views.items()} == {"o1": 42, "o2": None, "o3": None}
    for lang, text in ((Lang.ZH, "无进展 42 分钟"), (Lang.EN, "no progress for 42 min")):
        rendered = str(render_orders(order_views([stale], TAXONOMY, lang, NOW), "", True,
                                     lang))
        assert text in rendered and "desk-order-stale" in rendered
    assert "desk-stale" not in str(render_orders([views["o3"]], "", True, Lang.ZH))


def test_the_timeline_says_which_orders_ended_and_why() -> None:
    closed = {"action": "orders_cancelled", "data": {
        "reason": "incident_closed:resolved", "orders": [{"unit": "e1"}, {"unit": "e2"}]}}
    assert describe(closed, Lang.ZH) == "指令取消：e1, e2（事件已结案）"
    assert describe(closed, Lang.EN) == "Orders cancelled: e1, e2 (incident closed)"
    leader = {"action": "orders_cancelled", "data": {"reason": "车辆故障",
                                                      "orders": [{"unit": "e1"}]}}
    assert describe(leader, Lang.ZH) == "指令取消：e1（车辆故障）"
    stale = {"action": "order_stale", "data": {"unit": "e1", "minutes": 30}}
    assert describe(stale, Lang.EN) == "Order without progress: e1, 30 min"
