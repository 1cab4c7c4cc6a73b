"""The desk's bulk dialog (批量处理): close several open incidents, or merge them into one, with
a reason; the line under its button then says how many were done and which were not, and why.

The dialog offers the open incidents in a searchable multi-select; the command service closes or
merges each as the single actions would (incidents.bulk), so the permission, the journal and
the refusals are theirs. What is shown is built by pure functions (options, summary, result).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

from dashboard.auth import Action
from dashboard.desk_callbacks import Message, attempt, clicked
from dashboard.desk_data import DeskData
from dashboard.desk_text import LABELS as DESK_LABELS
from dashboard.desk_text import level_short, stamp, type_name
from dashboard.i18n import Lang
from incidents.bulk import BulkResult, BulkVerb
from incidents.command import Actor
from incidents.lifecycle import Resolution
from incidents.model import Incident, IncidentStatus
from incidents.store import StoreUnavailable
from incidents.taxonomy import Taxonomy

LABELS = DESK_LABELS.extend({
    "b_open": ("批量结案 / 合并", "Bulk close / merge"),
    "b_title": ("批量处理在办事件", "Close or merge open incidents"),
    "b_hint": ("逐起按单起结案或合并的规则处理，每起都记入处置日志（含原因）；未能处理的会逐起说明",
               "Each incident is closed or merged as it would be alone and journaled with the"
               " reason; any that cannot be are listed with why"),
    "b_resolved": ("结案（处置完毕）", "Close as resolved"),
    "b_false_alarm": ("结案（误报）", "Close as false alarm"),
    "b_merge": ("合并为一起", "Merge into one"),
    "b_pick": ("选择事件（可搜索，可多选）", "Choose incidents (search, several)"),
    "b_target": ("合并到（保留的事件）", "Merge into (the incident kept)"),
    "b_reason": ("原因（必填，记入每起事件的处置日志）",
                 "Reason (required, journaled with every incident)"),
    "b_confirm": ("确认执行", "Confirm"),
    "b_none": ("尚未选择事件", "No incident chosen yet"),
    "b_will_resolved": ("将以「处置完毕」结案 {n} 起：{names}",
                        "Will close {n} as resolved: {names}"),
    "b_will_false_alarm": ("将以「误报」结案 {n} 起：{names}",
                           "Will close {n} as false alarms: {names}"),
    "b_will_merge": ("将把 {n} 起合并到「{target}」：{names}",
                     "Will merge {n} into “{target}”: {names}"),
    "b_need_target": ("请选择合并到哪一起事件", "Choose the incident to merge into"),
    "b_closed": ("已结案 {n} 起", "Closed {n}"),
    "b_merged": ("已合并 {n} 起到「{target}」", "Merged {n} into “{target}”"),
    "b_refused": ("，{n} 起未能处理：{items}", "; {n} could not be: {items}"),
    "b_select_all": ("全选", "Select all"),
    "b_deselect_all": ("全不选", "Deselect all"),
    "b_selected_count": ("已选 {num_selected} 起", "{num_selected} selected"),
    "b_search": ("搜索", "Search"),
    "b_clear_search": ("清除搜索", "Clear search"),
    "b_clear_selection": ("清除选择", "Clear selection"),
    "b_no_options": ("没有符合的在办事件", "No open incident matches"),
})
OPEN_ID = "desk-bulk-open"
"""The button that opens the dialog."""
DIALOG_ID = "desk-bulk"
_CLOSED = "desk-dialog desk-bulk"
_VERBS = ("resolved", "false_alarm", "merge")
OFFERED_MAX = 1000
"""Open incidents offered in the dialog, most recent first (a city has dozens open at once;
what the service accepts per command is the setting bulk_max_incidents)."""
_OPEN = [IncidentStatus.REPORTED, IncidentStatus.VERIFIED, IncidentStatus.RESPONDING,
         IncidentStatus.CONTAINED]
_SHOWN_NAMES = 8
"""Incidents named in the summary before "…"."""


# --- pure: what is shown ---------------------------------------------------------------------


def option_label(incident: Incident, taxonomy: Taxonomy, lang: Lang) -> str:
    """"III级 · 火灾 · 仓库起火 · 11-26 09:15", the way the leader finds it in the list."""
    return " · ".join((level_short(incident.level, lang),
                       type_name(taxonomy, incident.type, lang), incident.title,
                       stamp(incident.reported_at)))


def incident_options(incidents: Sequence[Incident], taxonomy: Taxonomy, lang: Lang
                     ) -> list[dict[str, str]]:
    """Dropdown options of the incidents, by id."""
    return [{"label": option_label(i, taxonomy, lang), "value": i.id} for i in incidents]


def _names(ids: Sequence[str], names: Mapping[str, str], lang: Lang) -> str:
    shown = [f"「{names.get(i, i)}」" if lang is Lang.ZH else names.get(i, i)
             for i in ids[:_SHOWN_NAMES]]
    more = len(ids) - len(shown)
    sep = "、" if lang is Lang.ZH else "; "
    return sep.join(shown) + (f"{sep}…（另 {more} 起）" if lang is Lang.ZH and more
                              else f"{sep}… ({more} more)" if more else "")


def chosen(verb: str, picked: Sequence[str] | None, target: str | None) -> list[str]:
    """The incidents the command applies to (a merge's target is not merged into itself)."""
    ids = list(dict.fromkeys(picked or ()))
    return [i for i in ids if not (verb == "merge" and i == target)]


def summary(verb: str, picked: Sequence[str] | None, target: str | None,
            names: Mapping[str, str], lang: Lang) -> str:
    """What confirming will do, naming how many and which."""
    ids = chosen(verb, picked, target)
    if not ids:
        return LABELS("b_none", lang)
    if verb == "merge":
        if not target:
            return LABELS("b_need_target", lang)
        return LABELS("b_will_merge", lang).format(n=len(ids), names=_names(ids, names, lang),
                                                    target=names.get(target, target))
    return LABELS(f"b_will_{verb}", lang).format(n=len(ids), names=_names(ids, names, lang))


def result_text(result: BulkResult, names: Mapping[str, str], lang: Lang) -> str:
    """"已结案 12 起，2 起未能处理：「…」（why）；…" or the English."""
    if result.action is BulkVerb.MERGE:
        target = result.target or ""
        text = LABELS("b_merged", lang).format(n=result.done, target=names.get(target, target))
    else:
        text = LABELS("b_closed", lang).format(n=result.done)
    refused = [item for item in result.items if not item.done]
    if refused:
        zh = lang is Lang.ZH
        items = ("；" if zh else "; ").join(
            f"「{names.get(item.incident_id, item.incident_id)}」（{item.error_zh or item.error}）"
            if zh else f"{names.get(item.incident_id, item.incident_id)} ({item.error})"
            for item in refused)
        text += LABELS("b_refused", lang).format(n=len(refused), items=items)
    return text


# --- layout -----------------------------------------------------------------------------------


def open_button(lang: Lang, may_act: bool) -> html.Div:
    """The button above the incident list (disabled for a role that may not close) and the
    line where the last bulk command's result stays."""
    return html.Div(className="desk-bulk-bar", children=[
        html.Button(LABELS("b_open", lang), id=OPEN_ID, type="button", n_clicks=0,
                    disabled=not may_act, className="desk-btn desk-bulk-open"),
        html.Div("", id="desk-bulk-result", className="desk-msg", role="status"),
    ])


def dropdown_labels(lang: Lang) -> dcc.Dropdown.Labels:
    """The multi-select's own words (select all, n selected …) in the page's language."""
    return {"select_all": LABELS("b_select_all", lang),
            "deselect_all": LABELS("b_deselect_all", lang),
            "selected_count": LABELS("b_selected_count", lang),
            "search": LABELS("b_search", lang),
            "clear_search": LABELS("b_clear_search", lang),
            "clear_selection": LABELS("b_clear_selection", lang),
            "no_options_found": LABELS("b_no_options", lang)}


def dialog(lang: Lang) -> html.Div:
    """The dialog, closed."""
    verbs = [{"label": LABELS(f"b_{verb}", lang), "value": verb} for verb in _VERBS]
    return html.Div(id=DIALOG_ID, className=_CLOSED, children=html.Div(
        className="desk-dialog-box", role="dialog", children=[
            html.Div(className="desk-dialog-head", children=[
                html.H3(LABELS("b_title", lang)),
                html.Div(LABELS("b_hint", lang), className="desk-sub")]),
            html.Div(className="desk-dialog-body desk-bulk-body", children=[
                dcc.RadioItems(id="desk-bulk-verb", options=verbs, value="false_alarm",
                               inline=True, className="desk-tabs desk-bulk-verbs"),
                html.Label(LABELS("b_pick", lang), htmlFor="desk-bulk-pick"),
                dcc.Dropdown(id="desk-bulk-pick", multi=True, searchable=True, options=[],
                             value=[], placeholder=LABELS("b_pick", lang),
                             labels=dropdown_labels(lang)),
                html.Div(id="desk-bulk-target-row", style={"display": "none"}, children=[
                    html.Label(LABELS("b_target", lang), htmlFor="desk-bulk-target"),
                    dcc.Dropdown(id="desk-bulk-target", searchable=True, options=[],
                                 value=None, placeholder=LABELS("b_target", lang),
                                 labels=dropdown_labels(lang)),
                ]),
                html.Label(LABELS("b_reason", lang), htmlFor="desk-bulk-reason"),
                dcc.Textarea(id="desk-bulk-reason", className="desk-note", maxLength=2000,
                             value=""),
                html.Div(LABELS("b_none", lang), id="desk-bulk-summary",
                         className="desk-bulk-summary", role="status"),
            ]),
            html.Div("", id="desk-bulk-msg", className="desk-msg desk-msg-err"),
            html.Div(className="desk-dialog-foot", children=[
                html.Button(DESK_LABELS("d_cancel", lang), id="desk-bulk-cancel",
                            type="button", n_clicks=0, className="desk-btn"),
                html.Button(LABELS("b_confirm", lang), id="desk-bulk-confirm", type="button",
                            n_clicks=0, className="desk-btn desk-btn-strong"),
            ]),
        ]))


# --- callbacks --------------------------------------------------------------------------------


def register(app: Dash, data: DeskData, taxonomy: Taxonomy) -> None:
    """Wire the dialog: open with the open incidents, summarise the choice, run the command."""

    @app.callback(Output("desk-bulk-summary", "children"),
                  Output("desk-bulk-target-row", "style"),
                  Input("desk-bulk-verb", "value"), Input("desk-bulk-pick", "value"),
                  Input("desk-bulk-target", "value"), State("desk-bulk-pick", "options"),
                  State("desk-lang", "data"))
    def describe(verb: str, picked: list[str] | None, target: str | None,
                 options: list[dict[str, str]] | None, lang_value: str) -> tuple[Any, ...]:
        names = {o["value"]: o["label"] for o in options or ()}
        shown = {"display": "block" if verb == "merge" else "none"}
        return summary(verb, picked, target, names, Lang.of(lang_value)), shown

    @app.callback(Output(DIALOG_ID, "className"), Output("desk-bulk-pick", "options"),
                  Output("desk-bulk-pick", "value"), Output("desk-bulk-target", "options"),
                  Output("desk-bulk-target", "value"), Output("desk-bulk-reason", "value"),
                  Output("desk-bulk-msg", "children"),
                  Output("desk-bulk-result", "children"),
                  Output("desk-bulk-result", "className"),
                  Output("desk-bump", "data", allow_duplicate=True),
                  Input(OPEN_ID, "n_clicks"), Input("desk-bulk-cancel", "n_clicks"),
                  Input("desk-bulk-confirm", "n_clicks"), State("desk-bulk-verb", "value"),
                  State("desk-bulk-pick", "value"), State("desk-bulk-target", "value"),
                  State("desk-bulk-reason", "value"), State("desk-bulk-pick", "options"),
                  State("desk-bump", "data"), State("desk-lang", "data"),
                  prevent_initial_call=True)
    def on_dialog(_open: Any, _cancel: Any, _confirm: Any, verb: str,
                  picked: list[str] | None, target: str | None, reason: str | None,
                  options: list[dict[str, str]] | None, bump: int | None,
                  lang_value: str) -> tuple[Any, ...]:
        lang = Lang.of(lang_value)
        trigger = ctx.triggered_id
        desk_untouched = (no_update,) * 3
        if not clicked():
            return (no_update,) * 7 + desk_untouched
        if trigger == "desk-bulk-cancel":
            return (_CLOSED, no_update, [], no_update, None, "", "") + desk_untouched
        if trigger == OPEN_ID:
            try:
                offered = incident_options(data.incidents(_OPEN, None, OFFERED_MAX), taxonomy,
                                           lang)
            except StoreUnavailable:
                message = Message(DESK_LABELS("unavailable", lang), False)
                return (no_update,) * 7 + (*message.outputs(), no_update)
            return (f"{_CLOSED} desk-dialog-open", offered, [], offered, None, "", "",
                    *desk_untouched)
        # confirm
        names = {o["value"]: o["label"] for o in options or ()}
        ids = chosen(verb, picked, target)
        if verb == "merge" and not target:
            return (no_update,) * 6 + (LABELS("b_need_target", lang),) + desk_untouched
        done: list[BulkResult] = []

        def run(actor: Actor) -> str:
            if verb == "merge":
                done.append(data.merge_many(str(target), ids, actor, reason or ""))
            else:
                done.append(data.close_many(ids, actor, reason or "", Resolution(verb)))
            return ""

        refusal = attempt(lang, Action.INCIDENT_ACT, run)
        if not done:  # refused as a whole (role, reason, limit, database): the dialog says why
            return (no_update,) * 6 + (refusal.text,) + desk_untouched
        result = done[0]
        message = Message(result_text(result, names, lang), ok=result.refused == 0)
        return (_CLOSED, no_update, [], no_update, None, "", "", *message.outputs(),
                (bump or 0) + 1)
