"""The desk's unit controls: a leader releases a unit or sets its status with a reason (a
small form at the foot of the left column, away from the unit list's rows), and the header
banner that warns while the invariant check fails (run server-side every
dispatch.check_every_s; the banner reads its latest result every desk tick)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard.auth import Action
from dashboard.desk_callbacks import attempt, clicked
from dashboard.desk_data import DeskData
from dashboard.desk_text import LABELS, clock
from dashboard.i18n import Lang
from incidents.command import StateCheck
from incidents.model import Availability
from incidents.store import StoreUnavailable

RELEASE = "release"
"""The form's choice that releases the unit (its other choices are availabilities)."""
CHOICES = (RELEASE, Availability.AVAILABLE.value, Availability.OUT_OF_SERVICE.value,
           Availability.OFF_DUTY.value)
MAX_SHOWN = 3
"""Findings named in the banner's tooltip; `sitroom check` prints them all."""


def banner(lang: Lang) -> html.Div:
    """The warning banner under the header (hidden while every check passes)."""
    return html.Div("", id="desk-check-banner", className="desk-check-banner", role="alert",
                    hidden=True, lang=lang.value)


def banner_view(check: StateCheck | None, lang: Lang) -> tuple[str, bool, str]:
    """(text, hidden, tooltip) of the banner for a check result (None: not checked yet)."""
    if check is None or not check.findings:
        return "", True, ""
    n = len(check.findings)
    text = LABELS("check_failed", lang).format(n=n, at=clock(check.at))
    # The page's language only: the repair commands are for the CLI (`sitroom check` prints
    # them), the tooltip names what is wrong and where.
    lines = [f"{f.check.label(lang)}：{f.subject}" if lang is Lang.ZH
             else f"{f.check.label(lang)}: {f.subject}" for f in check.findings[:MAX_SHOWN]]
    if n > MAX_SHOWN:
        lines.append(LABELS("check_more", lang).format(n=n - MAX_SHOWN))
    return text, False, "\n".join(lines)


def control(lang: Lang, may_dispatch: bool) -> html.Details:
    """The release / set-status form (the server checks the permission again)."""
    return html.Details(className="desk-unitctl", children=[
        html.Summary(LABELS("uc_title", lang)),
        dcc.Dropdown(id="desk-uc-unit", placeholder=LABELS("uc_unit", lang), options=[],
                     className="desk-uc-unit"),
        dcc.Dropdown(id="desk-uc-status", value=RELEASE, clearable=False, searchable=False,
                     options=[{"label": LABELS(f"uc_{c}", lang), "value": c}
                              for c in CHOICES]),
        dcc.Input(id="desk-uc-reason", type="text", maxLength=500, debounce=False,
                  placeholder=LABELS("uc_reason", lang), className="desk-uc-reason"),
        html.Button(LABELS("uc_apply", lang), id="desk-uc-apply", type="button", n_clicks=0,
                    disabled=not may_dispatch, className="desk-btn desk-btn-strong"),
        html.Div("", id="desk-uc-msg", className="desk-msg", role="status"),
    ])


def register(app: Dash, data: DeskData) -> None:
    """Wire the banner and the form."""

    @app.callback(Output("desk-check-banner", "children"),
                  Output("desk-check-banner", "hidden"), Output("desk-check-banner", "title"),
                  Input("desk-tick", "n_intervals"), State("desk-lang", "data"))
    def show_check(_tick: Any, lang_value: str) -> Any:
        try:
            return banner_view(data.last_check(), Lang.of(lang_value))
        except StoreUnavailable:
            return no_update, no_update, no_update  # the service is built once the store is up

    @app.callback(Output("desk-uc-unit", "options"), Input("desk-slow", "n_intervals"),
                  Input("desk-uc-unit", "id"))
    def unit_options(_tick: Any, _id: Any) -> Any:
        try:
            units, _busy = data.units(datetime.now(UTC))
        except StoreUnavailable:
            return no_update
        return [{"label": u.unit, "value": u.unit} for u in sorted(units, key=lambda u: u.unit)]

    @app.callback(Output("desk-uc-msg", "children"), Output("desk-uc-msg", "className"),
                  Output("desk-uc-reason", "value"),
                  Input("desk-uc-apply", "n_clicks"), State("desk-uc-unit", "value"),
                  State("desk-uc-status", "value"), State("desk-uc-reason", "value"),
                  State("desk-lang", "data"), prevent_initial_call=True)
    def apply(_n: Any, unit: str | None, choice: str | None, reason: str | None,
              lang_value: str) -> tuple[Any, Any, Any]:
        lang = Lang.of(lang_value)
        if not clicked():
            return no_update, no_update, no_update
        if not unit:
            return LABELS("uc_pick", lang), "desk-msg desk-msg-err", no_update
        status = None if choice in (None, RELEASE) else Availability(choice)

        def run(actor: Any) -> str:
            cancelled = data.set_unit(unit, status, reason or "", actor)
            what = LABELS("uc_done", lang).format(unit=unit)
            return what + (LABELS("uc_cancelled", lang).format(n=len(cancelled))
                           if cancelled else "")

        message = attempt(lang, Action.DISPATCH, run)
        text, css = message.outputs()
        return text, css, "" if message.ok else no_update
