"""The `reports` blueprint: situation reports (HTML, PDF), CAP alerts (issued from incidents,
and the received ones exported back as CAP 1.2), the daily summary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, request

from dashboard.command_api import Authorize, CommandAccess
from dashboard.jsonapi import BadRequest, json_response, no_store_json
from dashboard.portal import AsyncBridge
from incidents.cap import CapAlert, CapMsgType
from incidents.cap_xml import export_cap
from incidents.command import Actor
from incidents.reports import daily, pdf, sitrep
from incidents.reports.model import Lang
from incidents.store import StoreError

CAP_SENDER = "ecc@xingtai.sitroom"
"""Sender of the CAP alerts the command centre issues."""
FIRST_DAY = date(2000, 1, 1)
"""Earliest day a daily report can be asked for."""
LAST_DAY = date(2099, 12, 31)
"""Latest day a daily report can be asked for."""
REVIEWER_MAX_CHARS = 64
"""Longest reviewer (审核人) a request may name: a user name or a person's name."""


def _lang() -> Lang:
    raw = request.args.get("lang", "zh")
    try:
        return Lang(raw.split("-")[0].lower())
    except ValueError:
        raise BadRequest("lang must be zh or en", "lang 须为 zh 或 en") from None


def _reviewer() -> str | None:
    """The 审核人 a request names (?reviewer=, or the form field), trimmed; None for none."""
    raw = (request.args.get("reviewer") or request.form.get("reviewer") or "").strip()
    if len(raw) > REVIEWER_MAX_CHARS or any(not ch.isprintable() for ch in raw):
        raise BadRequest(f"reviewer must be a name of at most {REVIEWER_MAX_CHARS} printable"
                         " characters", f"审核人须为不超过 {REVIEWER_MAX_CHARS} 个可打印字符的姓名")
    return raw or None


def _format(*allowed: str) -> str:
    value = request.args.get("format", allowed[0])
    if value not in allowed:
        raise BadRequest(f"format must be one of {', '.join(allowed)}",
                         f"format 须为 {', '.join(allowed)} 之一")
    return value


def _document(kind: str, html: Callable[[], str], pdf_bytes: Callable[[], bytes], name: str,
              status: int) -> Response:
    if kind == "pdf":
        return Response(pdf_bytes(), status=status, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{name}.pdf"'})
    return Response(html(), status=status, mimetype="text/html")


async def _cap_alerts(bridge: AsyncBridge) -> list[dict[str, Any]]:
    store = await bridge.store()
    return await store.cap_alerts()


async def _cap_alert(bridge: AsyncBridge, alert_id: str) -> CapAlert | None:
    store = await bridge.store()
    return await store.cap_alert(alert_id)


def reports_blueprint(bridge: AsyncBridge, access: CommandAccess,
                      authorize: Authorize) -> Blueprint:
    """The report routes, and /api/cap: the CAP alerts received."""
    reports = Blueprint("reports", __name__)
    briefing, run = access.briefing, access.run

    def sitrep_response(incident_id: str, actor: Actor, issue: bool) -> Response:
        kind, lang, reviewer = _format("html", "pdf"), _lang(), _reviewer()
        briefs = briefing()  # outside the loop: building it the first time calls into it

        async def build() -> Any:
            # The signed-in person signs (签发人) what they issue, and sees their name on
            # the preview of what they would issue.
            return await briefs.sitrep(incident_id, lang, issue_as=actor.name if issue else None,
                                       signer=actor.name, reviewer=reviewer)
        data = run(build)
        return _document(kind, lambda: sitrep.render_html(data), lambda: pdf.render_pdf(data),
                         f"sitrep-{incident_id[:8]}-{data.sequence}", 201 if issue else 200)

    @reports.get("/api/incidents/<incident_id>/sitrep")
    def sitrep_preview(incident_id: str) -> Response:
        """The situation report as it would be issued now (not journaled); ?reviewer= names
        the 审核人."""
        return sitrep_response(incident_id, authorize("view"), issue=False)

    @reports.post("/api/incidents/<incident_id>/sitrep")
    def sitrep_issue(incident_id: str) -> Response:
        """Issue the next situation report, signed by the caller: journaled with its number;
        ?reviewer= names the 审核人 (a user name, or a name as written)."""
        return sitrep_response(incident_id, authorize("incident_act"), issue=True)

    @reports.get("/api/incidents/<incident_id>/cap")
    def cap_alert(incident_id: str) -> Response:
        """A CAP 1.2 alert (zh-CN and en-US) about the incident."""
        authorize("view")
        try:
            msg_type = CapMsgType(request.args.get("msg_type", "Alert"))
        except ValueError:
            raise BadRequest("msg_type must be Alert (Update and Cancel need references)",
                             "msg_type 须为 Alert") from None
        if msg_type is not CapMsgType.ALERT:
            raise BadRequest("only Alert can be issued here: Update and Cancel reference an"
                             " earlier alert", "此处只能发布 Alert")

        briefs = briefing()

        async def build() -> Any:
            return await briefs.cap(incident_id, sender=CAP_SENDER, msg_type=msg_type)
        return Response(export_cap(run(build)), mimetype="application/cap+xml")

    @reports.get("/api/reports/daily")
    def daily_report() -> Response:
        """The daily summary: incidents by type, level and district; response times."""
        authorize("view")
        kind, lang = _format("html", "pdf", "json"), _lang()
        briefs = briefing()
        raw = request.args.get("day")
        try:
            day = date.fromisoformat(raw) if raw else datetime.now(briefs.tz).date()
        except ValueError:
            raise BadRequest("day must be YYYY-MM-DD", "day 须为 YYYY-MM-DD") from None
        if not FIRST_DAY <= day <= LAST_DAY:  # far dates overflow the day's time range
            raise BadRequest(f"day must be between {FIRST_DAY} and {LAST_DAY}",
                             f"day 须在 {FIRST_DAY} 至 {LAST_DAY} 之间")

        async def build() -> Any:
            return await briefs.daily(day)
        summary = run(build)
        if kind == "json":
            return json_response(summary)
        made = datetime.now(briefs.tz)  # the report says when it was made, in Beijing time
        return _document(
            kind, lambda: daily.render_html(summary, lang, issuer=briefs.issuer, generated_at=made),
            lambda: daily.render_pdf(summary, lang, issuer=briefs.issuer, generated_at=made),
            f"daily-{day}", 200)

    @reports.get("/api/cap")
    def cap_list() -> Response:
        """The most recent CAP alerts received, with their state."""
        try:
            found = bridge.call(_cap_alerts, bridge)
        except StoreError as exc:
            return no_store_json({"error": "database_unavailable", "detail": str(exc)}, 503)
        return no_store_json({"alerts": found})

    @reports.get("/api/cap/<path:alert_id>")
    def cap_export(alert_id: str) -> Response:
        """One received CAP alert, exported back as CAP 1.2 XML."""
        try:
            alert = bridge.call(_cap_alert, bridge, alert_id)
        except StoreError as exc:
            return no_store_json({"error": "database_unavailable", "detail": str(exc)}, 503)
        if alert is None:
            return no_store_json({"error": "not_found", "detail": f"no CAP alert {alert_id!r}"},
                                 404)
        return Response(export_cap(alert), mimetype="application/cap+xml",
                        headers={"Cache-Control": "no-store"})

    return reports
