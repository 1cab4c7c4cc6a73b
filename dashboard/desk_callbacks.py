"""The desk's callbacks: lists, selection, the panel, and the actions.

Every callback that acts checks the signed-in user's permission first (`require`), journals
with them as the actor, and turns a refusal — by role or by the command service — into a clear
message in the page's language. Reads go through DeskData; the rest is pure (desk_list,
desk_panel, desk_dispatch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dash_leaflet as dl
from dash import ALL as EVERY
from dash import MATCH, ClientsideFunction, Dash, Input, Output, State, ctx, html, no_update
from flask import request

from config.video import VideoSettings
from dashboard.auth import Action, NotAllowed, NotAuthenticated, current_user, require
from dashboard.desk_cover import cover_rows, cover_summary, render_cover
from dashboard.desk_data import DeskData
from dashboard.desk_dispatch import (
    SLOT,
    assignments,
    busy_chosen,
    dialog,
    dialog_state,
    render_dialog,
    shortfalls,
)
from dashboard.desk_list import (
    ALL,
    ListFilter,
    alarm_list,
    digest,
    incident_list,
    incident_rows,
    select,
    unit_list,
    unit_rows,
)
from dashboard.desk_panel import (
    ACTIONS,
    REASSIGN,
    Permissions,
    enabled_actions,
    header,
    level_action,
    order_views,
    render_header,
    render_orders,
    render_timeline,
    timeline,
)
from dashboard.desk_support import render_cameras, render_reports, render_support, support_view
from dashboard.desk_text import LABELS, clock
from dashboard.i18n import Lang
from dashboard.video_links import watch_url
from incidents.command import Actor
from incidents.coverage import cover as plan_cover
from incidents.errors import CommandRefused, Invalid
from incidents.journal import JournalKeyError
from incidents.lifecycle import Action as Move
from incidents.lifecycle import Resolution
from incidents.model import Level
from incidents.store import StoreUnavailable
from incidents.taxonomy import Taxonomy

FOCUS_ZOOM = 12
"""Zoom the map flies to when an incident is selected."""
_LEVEL_BUTTONS = [f"desk-lvl-{lv.value}" for lv in Level]
_MOVES = {"verify": (Move.VERIFY, None), "contain": (Move.CONTAIN, None),
          "resolved": (Move.CLOSE, Resolution.RESOLVED),
          "false_alarm": (Move.CLOSE, Resolution.FALSE_ALARM)}


@dataclass(frozen=True, slots=True)
class Message:
    """What an action tells the leader."""

    text: str
    """The message, in the page's language."""
    ok: bool
    """False for a refusal."""

    def outputs(self) -> tuple[str, str]:
        """The message line's children and class."""
        return (f"{clock(datetime.now(UTC))} {self.text}",
                "desk-msg " + ("desk-msg-ok" if self.ok else "desk-msg-err"))


def attempt(lang: Lang, permission: Action, body: Callable[[Actor], str]) -> Message:
    """Run `body` as the signed-in user if they may; a refusal becomes the message."""
    zh = lang is Lang.ZH
    try:
        user = require(permission)
        done = body(Actor(name=user.username, client=request.remote_addr))
        return Message(LABELS("done", lang).format(what=done), True)
    except NotAllowed as exc:
        return Message(exc.hint.zh if zh else exc.hint.en, False)
    except CommandRefused as exc:
        return Message(exc.zh if zh else exc.en, False)
    except StoreUnavailable:
        return Message(LABELS("unavailable", lang), False)
    except JournalKeyError as exc:
        return Message(str(exc), False)


def clicked() -> bool:
    """Whether the callback runs because something was clicked (not because rows re-rendered)."""
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


def register(app: Dash, data: DeskData, taxonomy: Taxonomy, video: VideoSettings | None,
             map_id: str) -> None:
    """Wire the desk's callbacks."""
    _lists(app, data, taxonomy)
    _selection(app, data, map_id)
    _panel(app, data, taxonomy, video)
    _actions(app, data)
    _dispatch(app, data, taxonomy)


def _lists(app: Dash, data: DeskData, taxonomy: Taxonomy) -> None:
    # The lists leave as plain data, drawn row by row by assets/desk_list.js (only the rows
    # in view); a list identical to the one the browser holds (same digest) is not sent
    # again. Selection is drawn in the browser too: selecting does not re-read the list.
    # None of these callbacks outputs to the map: filtering and sorting leave it alone.
    @app.callback(Output("desk-list-data", "data"), Output("desk-list-digest", "data"),
                  Output("desk-count", "children"),
                  Input("desk-tick", "n_intervals"), Input("desk-f-level", "value"),
                  Input("desk-f-type", "value"), Input("desk-f-district", "value"),
                  Input("desk-f-status", "value"), Input("desk-f-time", "value"),
                  Input("desk-f-sort", "value"), Input("desk-bump", "data"),
                  Input("desk-live", "data"), State("desk-list-digest", "data"),
                  State("desk-lang", "data"))
    def refresh_list(_tick: Any, levels: list[str] | None, types: list[str] | None,
                     districts: list[str] | None, status: str | None, window: str | None,
                     sort: str | None, _bump: Any, _live: Any, held: str | None,
                     lang_value: str) -> tuple[Any, Any, Any]:
        lang, now = Lang.of(lang_value), datetime.now(UTC)
        flt = ListFilter.from_controls(levels, types, districts, status, window, sort)
        try:
            found = data.incidents(sorted(flt.statuses),
                                   now - flt.window if flt.window else None,
                                   limit=data.max_incidents)
        except StoreUnavailable:
            return no_update, no_update, LABELS("unavailable", lang)
        codes = data.districts.codes(found)
        rows = incident_rows(select(found, codes, flt, now), codes,
                             data.districts.names(lang is Lang.ZH), taxonomy, lang, now)
        body = incident_list(rows, lang)
        count = LABELS("count", lang).format(n=len(rows))
        fingerprint = digest(body)
        if fingerprint == held:
            return no_update, no_update, count
        return body, fingerprint, count

    @app.callback(Output("desk-other-data", "data"), Output("desk-other-digest", "data"),
                  Input("desk-ltab", "value"), Input("desk-tick", "n_intervals"),
                  Input("desk-f-agency", "value"), State("desk-other-digest", "data"),
                  State("desk-lang", "data"))
    def refresh_other(tab: str, _tick: Any, agency: str | None, held: str | None,
                      lang_value: str) -> tuple[Any, Any]:
        if tab == "incidents":
            return no_update, no_update
        lang, now = Lang.of(lang_value), datetime.now(UTC)
        chosen = None if agency in (None, ALL) else agency
        body: Any
        try:
            if tab == "units":
                units, busy = data.units(now)
                body = unit_list(unit_rows(units, busy, chosen, taxonomy, lang, now,
                                           data.online_s), lang)
            else:
                body = alarm_list(data.alarms(now, chosen), taxonomy, lang)
        except StoreUnavailable:
            body = {"kind": tab, "rows": [], "empty": LABELS("unavailable", lang)}
        # Which tab and agency it answers: assets/desk.js shows it only if still chosen.
        answer = {"tab": tab, "agency": agency, "body": body}
        fingerprint = digest(answer)
        if fingerprint == held:
            return no_update, no_update
        return answer, fingerprint

    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("sitroomDesk", "otherList"),
        Output("desk-lsec-incidents", "style"), Output("desk-lsec-other", "style"),
        Output("desk-other-shown", "data"), Input("desk-ltab", "value"),
        Input("desk-other-data", "data"), Input("desk-f-agency", "value"))
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("sitroomDeskList", "incidents"),
        Output("desk-list-drawn", "data"), Input("desk-list-data", "data"),
        Input("desk-selected", "data"))
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("sitroomDeskList", "other"),
        Output("desk-other-drawn", "data"), Input("desk-other-shown", "data"))


def _selection(app: Dash, data: DeskData, map_id: str) -> None:
    # A click on an incident's row or marker sets desk-selected (assets/desk.js).
    @app.callback(Output("desk-focus", "children"), Output(map_id, "viewport"),
                  Input("desk-selected", "data"), prevent_initial_call=True)
    def focus(selected: str | None) -> tuple[Any, Any]:
        if not selected:
            return [], no_update
        try:
            incident = data.incident(selected)
        except (CommandRefused, StoreUnavailable):
            return [], no_update
        centre = [incident.lat, incident.lon]
        ring = dl.CircleMarker(center=centre, radius=20, interactive=False,
                               className="desk-focus-ring",
                               pathOptions={"color": "#ffffff", "weight": 2, "fill": False,
                                            "dashArray": "4 4"})
        return [ring], {"center": centre, "zoom": FOCUS_ZOOM, "transition": "flyTo"}


def _panel(app: Dash, data: DeskData, taxonomy: Taxonomy, video: VideoSettings | None) -> None:
    buttons = [f"desk-act-{name}" for name in ACTIONS] + _LEVEL_BUTTONS

    @app.callback(Output("desk-panel", "className"), Output("desk-head", "children"),
                  Output("desk-timeline", "children"), Output("desk-orders", "children"),
                  Output("desk-reports", "children"),
                  *[Output(b, "disabled") for b in buttons],
                  Output("desk-sitrep-form", "action"), Output("desk-preview", "href"),
                  Output("desk-actions", "title"),
                  Input("desk-selected", "data"), Input("desk-tick", "n_intervals"),
                  Input("desk-bump", "data"), Input("desk-live", "data"),
                  State("desk-lang", "data"), State("desk-perm", "data"))
    def refresh_panel(selected: str | None, _tick: Any, _bump: Any, _live: Any,
                      lang_value: str, perm: dict[str, Any] | None) -> tuple[Any, ...]:
        lang, now = Lang.of(lang_value), datetime.now(UTC)
        perm = perm or {}
        may = Permissions(act=bool(perm.get("act")), dispatch=bool(perm.get("dispatch")),
                          role_text=str(perm.get("role", "")),
                          conference=bool(perm.get("conference")))
        readonly = "" if may.act else LABELS("no_permission", lang).format(role=may.role_text)
        idle: tuple[Any, ...] = ("desk-panel desk-panel-empty", [], [], [], [],
                                 *[True] * len(buttons), "", "", readonly)
        if not selected:
            return idle
        try:
            found = data.panel(selected)
        except (CommandRefused, StoreUnavailable):
            return idle
        incident = found.incident
        enabled = enabled_actions(incident.status, incident.level, may)
        api = f"/api/incidents/{incident.id}/sitrep?lang={lang.value}"
        plan_id, requirements = data.service.requirements(incident)
        cover = plan_cover(requirements, found.orders, plan_id)
        summary = cover_summary(cover, lang, found.orders)
        return (
            "desk-panel",
            render_header(header(incident, data.districts.of(incident.lat, incident.lon),
                                 taxonomy, lang, now, found.orders,
                                 summary if found.orders or cover.needed else None)),
            render_timeline(timeline(found.timeline, lang)),
            render_cover(summary, cover, cover_rows(cover, taxonomy, lang), lang)
            + render_orders(order_views(found.orders, taxonomy, lang, now), "", may.dispatch,
                            lang),
            render_reports(found.reports, taxonomy, lang),
            *[not enabled[name] for name in ACTIONS], *[not enabled[lv.value] for lv in Level],
            f"{api}&format=pdf", f"{api}&format=html", readonly,
        )

    @app.callback(Output("desk-support", "children"), Output("desk-cameras", "children"),
                  Input("desk-selected", "data"), Input("desk-bump", "data"),
                  Input("desk-slow", "n_intervals"), State("desk-lang", "data"))
    def refresh_support(selected: str | None, _bump: Any, _slow: Any,
                        lang_value: str) -> tuple[Any, Any]:
        lang = Lang.of(lang_value)
        if not selected:
            return [], []
        try:
            support, orders = data.support(selected)
            view = support_view(support, orders, taxonomy, lang)
        except (CommandRefused, StoreUnavailable) as exc:
            return str(exc), []
        return render_support(view, lang), render_cameras(view.cameras, _player(video, lang),
                                                          lang)

    @app.callback(Output("desk-pbody", "className"), Input("desk-ptab", "value"))
    def show_tab(tab: str) -> str:
        return f"desk-pbody show-{tab}"

    # The conference: the same route as API clients (POST /api/incidents/<id>/conference),
    # from the browser, which then opens the room's page (assets/desk.js).
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("sitroomDesk", "conference"),
        Output("desk-conference-msg", "children"), Input("desk-act-conference", "n_clicks"),
        State("desk-selected", "data"), State("desk-lang", "data"), prevent_initial_call=True)


def _player(video: VideoSettings | None, lang: Lang) -> Callable[[list[str]], str] | None:
    """Links to the video server's player for the signed-in user, when there is a server."""
    if video is None:
        return None
    try:
        user = current_user()
    except NotAuthenticated:
        return None
    return lambda streams: watch_url(video, user, streams, lang.value)


def _actions(app: Dash, data: DeskData) -> None:
    @app.callback(Output("desk-msg", "children"), Output("desk-msg", "className"),
                  Output("desk-bump", "data"), Output("desk-note", "value"),
                  *[Input(f"desk-act-{name}", "n_clicks") for name in (*_MOVES, "note")],
                  *[Input(b, "n_clicks") for b in _LEVEL_BUTTONS],
                  State("desk-selected", "data"), State("desk-note", "value"),
                  State("desk-bump", "data"), State("desk-lang", "data"),
                  prevent_initial_call=True)
    def act(*args: Any) -> tuple[Any, ...]:
        selected, note, bump, lang_value = args[-4:]
        trigger = str(ctx.triggered_id or "")
        if not selected or not clicked():
            return no_update, no_update, no_update, no_update
        lang = Lang.of(lang_value)
        clear_note: Any = no_update

        def run(actor: Actor) -> str:
            nonlocal clear_note
            if trigger.startswith("desk-lvl-"):
                wanted = Level(trigger.removeprefix("desk-lvl-"))
                current = data.incident(selected).level
                data.act(selected, level_action(current, wanted), actor, level=wanted)
                return LABELS("act_level", lang) + f" → {wanted.value}"
            name = trigger.removeprefix("desk-act-")
            if name == "note":
                if not (note or "").strip():
                    raise Invalid(LABELS("need_note", Lang.ZH), LABELS("need_note", Lang.EN))
                data.note(selected, note, actor)
                clear_note = ""
                return LABELS("act_note", lang)
            move, resolution = _MOVES[name]
            data.act(selected, move, actor, resolution=resolution)
            return LABELS(f"res_{name}" if resolution else f"act_{name}", lang)

        message = attempt(lang, Action.INCIDENT_ACT, run)
        return (*message.outputs(), (bump or 0) + 1, clear_note)

    @app.callback(Output("desk-msg", "children", allow_duplicate=True),
                  Output("desk-msg", "className", allow_duplicate=True),
                  Output("desk-bump", "data", allow_duplicate=True),
                  Input({"type": REASSIGN, "order": EVERY}, "n_clicks"),
                  State("desk-bump", "data"), State("desk-lang", "data"),
                  prevent_initial_call=True)
    def reassign(_clicks: Any, bump: int | None, lang_value: str) -> tuple[Any, ...]:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not clicked():
            return no_update, no_update, no_update
        lang = Lang.of(lang_value)

        def run(actor: Actor) -> str:
            order = data.reassign(str(trigger["order"]), actor)
            return f"{LABELS('o_reassign', lang)} → {order.unit}"

        return (*attempt(lang, Action.DISPATCH, run).outputs(), (bump or 0) + 1)


def _dispatch(app: Dash, data: DeskData, taxonomy: Taxonomy) -> None:
    closed = "desk-dialog"
    partial_closed = "desk-dpartial"
    slot = {"type": SLOT, "task": MATCH, "slot": MATCH}

    # A slot's far / busy mark follows the unit chosen in it (assets/desk_dispatch.js).
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("sitroomDispatch", "slotClass"), Output(slot, "className"),
        Input(slot, "value"), State("desk-dialog-plan", "data"))

    @app.callback(Output("desk-dialog", "className"), Output("desk-dialog-title", "children"),
                  Output("desk-dialog-body", "children"), Output("desk-dialog-plan", "data"),
                  Output("desk-dialog-msg", "children"),
                  Output("desk-dialog-partial", "className"),
                  Output("desk-dialog-partial-list", "children"),
                  Output("desk-dialog-reason", "value"),
                  Output("desk-msg", "children", allow_duplicate=True),
                  Output("desk-msg", "className", allow_duplicate=True),
                  Output("desk-bump", "data", allow_duplicate=True),
                  Input("desk-act-dispatch", "n_clicks"), Input("desk-dialog-cancel", "n_clicks"),
                  Input("desk-dialog-confirm", "n_clicks"), Input("desk-dialog-go", "n_clicks"),
                  Input("desk-dialog-back", "n_clicks"), State("desk-selected", "data"),
                  State("desk-dialog-plan", "data"),
                  State({"type": SLOT, "task": EVERY, "slot": EVERY}, "value"),
                  State({"type": SLOT, "task": EVERY, "slot": EVERY}, "id"),
                  State("desk-dialog-reason", "value"),
                  State("desk-bump", "data"), State("desk-lang", "data"),
                  prevent_initial_call=True)
    def on_dialog(_open: Any, _cancel: Any, _confirm: Any, _go: Any, _back: Any,
                  selected: str | None, plan: dict[str, Any] | None, values: list[str | None],
                  ids: list[dict[str, Any]], reason: str | None, bump: int | None,
                  lang_value: str) -> tuple[Any, ...]:
        lang = Lang.of(lang_value)
        trigger = ctx.triggered_id
        keep = (no_update,) * 3
        same = (no_update,) * 8
        if not clicked():
            return same + keep
        hide: tuple[str, list[Any]] = (partial_closed, [])
        if trigger == "desk-dialog-cancel":
            return (closed, no_update, [], None, "", *hide, "") + keep
        if trigger == "desk-dialog-back":
            return (no_update,) * 5 + hide + (no_update,) + keep
        if trigger == "desk-act-dispatch":
            if not selected:
                return same + keep
            try:
                proposal, points, busy = data.proposal(selected)
            except CommandRefused as exc:
                text = exc.zh if lang is Lang.ZH else exc.en
                return same + (*Message(text, False).outputs(), no_update)
            except StoreUnavailable:
                return same + (*Message(LABELS("unavailable", lang), False).outputs(),
                               no_update)
            view = dialog(proposal, points, taxonomy, lang, data.dispatch_rules, busy)
            return (f"{closed} desk-dialog-open", view.title, render_dialog(view, lang),
                    dialog_state(view), "", *hide, "") + keep
        # confirm, or send anyway from the partial step
        if not plan or not plan.get("plan"):
            return (closed, no_update, [], None, "", *hide, "") + keep
        chosen = assignments(ids, values)
        if not chosen:
            return (no_update,) * 4 + (LABELS("d_nothing", lang),) + hide + (no_update,) + keep
        why = (reason or "").strip()
        held = busy_chosen(plan, chosen)
        if held and not why:
            text = LABELS("d_need_reason", lang).format(units=", ".join(held))
            return (no_update,) * 4 + (text,) + hide + (no_update,) + keep
        short = shortfalls(plan, chosen, lang)
        if short and trigger != "desk-dialog-go":
            return ((no_update,) * 4 + ("", f"{partial_closed} desk-dpartial-open",
                                        [html.Li(line) for line in short], no_update) + keep)

        def run(actor: Actor) -> str:
            orders = data.dispatch(str(plan["incident"]), str(plan["plan"]), chosen, actor,
                                   busy_ok=held, reason=why or None)
            return LABELS("d_dispatched", lang).format(n=len(orders))

        message = attempt(lang, Action.DISPATCH, run)
        if not message.ok:
            return (no_update,) * 4 + (message.text,) + hide + (no_update,) + keep
        return (closed, no_update, [], None, "", *hide, "", *message.outputs(), (bump or 0) + 1)
