"""The situation report (续报 / 终报): its content as a `Document`, and that document as HTML.

The layout follows the paper 突发事件信息报告: a red title naming the incident and the issue
number, the issuer and time under a red rule, then 一、基本情况, 二、处置进展, 三、力量调度,
四、下一步工作 (or 处置结果 in a final report) and the situation map as an annex. The HTML is
one self-contained file: inline CSS, the map as inline SVG, no URL of any kind.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import jinja2
from markupsafe import Markup

from incidents.model import IncidentStatus
from incidents.orders import order_number_text
from incidents.reports.charts import bars_svg
from incidents.reports.mapsnap import render_svg
from incidents.reports.model import Lang, OrderState, ReportKind, Signatory, SitrepInput
from incidents.reports.texts import (
    action_name,
    agency_name,
    facility_name,
    label,
    level_name,
    long_time,
    order_state_name,
    short_time,
    status_name,
    time_heading,
)
from incidents.reports.view import BarChart, Document, Fact, MapFigure, Section, Table

MAP_SIZE = (760.0, 520.0)
"""Width and height of the HTML map, in CSS pixels."""


def html_environment() -> jinja2.Environment:
    """A new template environment for the report templates, escaping every value."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("incidents.reports", "templates"),
        autoescape=True,  # every template here is HTML: no extension-based guessing
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )


@cache
def _shared_environment() -> jinja2.Environment:
    """One environment per process: it compiles each template once and keeps it."""
    return html_environment()


def _ago(span: timedelta, lang: Lang) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    hours, mins = divmod(minutes, 60)
    if lang is Lang.ZH:
        return f"{hours}小时{mins}分钟" if hours else f"{mins}分钟"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def sitrep_title(data: SitrepInput) -> str:
    """The report's title, e.g. 关于信都区危化品泄漏事件的续报（第2期）."""
    lang, n = data.language, data.sequence
    kind, district = data.incident_type.pick(lang), data.district.pick(lang)
    if lang is Lang.ZH:
        if data.kind is ReportKind.FINAL:
            return f"关于{district}{kind}事件的终报"
        return f"关于{district}{kind}事件的续报（第{n}期）"
    if data.kind is ReportKind.FINAL:
        return f"Final Report on the {kind} in {district}"
    return f"Progress Report No. {n} on the {kind} in {district}"


def _basic(data: SitrepInput) -> Section:
    lang, inc, tz = data.language, data.incident, data.generated_at.tzinfo
    agency = agency_name(inc.agency, lang, data.agency_names)
    kind, district = data.incident_type.pick(lang), data.district.pick(lang)
    level, status = level_name(inc.level, lang), status_name(inc.status, lang)
    when = long_time(inc.reported_at, lang, tz)
    if lang is Lang.ZH:
        paragraphs = [f"{when}，接{agency}报告，{district}发生{kind}事件（{inc.title}）。"
                      f"事件等级：{level}；当前状态：{status}。"]
    else:
        paragraphs = [f"At {when}, {agency} reported a {kind} in {district} ({inc.title}). "
                      f"Level: {level}; status: {status}."]
    if data.decision is not None:
        paragraphs.append(_surroundings(data))
    facts = (
        # The id's first 8 hex digits: what the desk and file names show, never the UUID.
        Fact(label("incident", lang), inc.title), Fact(label("incident_id", lang), inc.id[:8]),
        Fact(label("type", lang), kind), Fact(label("level", lang), level, inc.level.colour),
        Fact(label("status", lang), status),
        Fact(label("place", lang), f"{district} ({inc.lat:.5f}°N, {inc.lon:.5f}°E)"),
        Fact(label("reported_at", lang), long_time(inc.reported_at, lang, tz)),
        Fact(label("updated_at", lang), long_time(inc.updated_at, lang, tz)),
        Fact(label("lead_agency", lang), agency),
    )
    return Section(label("sec_basic", lang), paragraphs=tuple(paragraphs), facts=facts)


_CASUALTY_KEYS = ("deaths", "injured", "missing", "trapped")
"""The four figures every report prints, known or not (死亡/受伤/失踪/被困)."""


def _casualties(data: SitrepInput) -> Section:
    """人员伤亡: the four figures (不详 where no report gives one), then evacuated/affected."""
    lang, tz, c = data.language, data.generated_at.tzinfo, data.casualties
    as_of = long_time(data.generated_at, lang, tz)
    figures = _casualty_figures(data)
    if figures:
        text = (f"截至{as_of}，据各方报告：{'、'.join(figures)}。" if lang is Lang.ZH
                else f"As of {as_of}, reports give: {', '.join(figures)}.")
    else:
        text = label("casualties_none", lang)

    def shown(key: str) -> str:
        value = getattr(c, key) if c is not None else None
        return label("unknown", lang) if value is None else str(value)
    table = Table(caption="", headers=tuple(label(k, lang) for k in _CASUALTY_KEYS),
                  rows=((tuple(shown(k) for k in _CASUALTY_KEYS)),), widths=(1, 1, 1, 1),
                  numeric=frozenset({0, 1, 2, 3}))
    note = label("casualty_source", lang)
    return Section(label("sec_casualties", lang), paragraphs=(text,), tables=(table,),
                   closing=(f"（{note}）" if lang is Lang.ZH else f"({note}.)",))


def _casualty_figures(data: SitrepInput) -> list[str]:
    c, lang = data.casualties, data.language
    if c is None:
        return []
    pairs = (("deaths", c.deaths), ("injured", c.injured), ("missing", c.missing),
             ("trapped", c.trapped), ("evacuated", c.evacuated), ("affected", c.affected))
    if lang is Lang.ZH:
        return [f"{label(key, lang)}{value}人" for key, value in pairs if value is not None]
    return [f"{value:,} {label(key, lang).lower()}" for key, value in pairs if value is not None]


def _surroundings(data: SitrepInput) -> str:
    assert data.decision is not None
    d, lang = data.decision, data.language
    km = f"{d.radius_m / 1000:g}"
    places = [(facility_name(f.kind, lang), f.count) for f in d.facilities]
    if lang is Lang.ZH:
        text = f"事发点周边{km}公里范围内"
        if d.population is not None:
            text += f"常住人口约{d.population:,}人"
        if places:
            text += ("，" if d.population is not None else "") + "有" + "、".join(
                f"{name}{count}处" for name, count in places)
        return text + "。"
    parts = [f"about {d.population:,} residents"] if d.population is not None else []
    parts.extend(f"{count} {name}" for name, count in places)
    return f"Within {km} km of the scene: {', '.join(parts) or label('none', lang).lower()}."


def _progress(data: SitrepInput) -> Section:
    lang, tz = data.language, data.generated_at.tzinfo
    table = Table(
        caption="", headers=(time_heading("time", lang, tz, data.generated_at),
                             label("actor", lang), label("action", lang),
                             label("content", lang)),
        rows=tuple((short_time(e.at, tz), e.actor, action_name(e.action, lang), e.summary)
                   for e in data.timeline),
        widths=(1.3, 1.4, 1.2, 5.1), empty=label("none", lang))
    return Section(label("sec_progress", lang), tables=(table,))


def _forces(data: SitrepInput) -> Section:
    lang, tz, names = data.language, data.generated_at.tzinfo, data.agency_names
    blank = "—" if lang is Lang.ZH else "-"  # English PDFs stay in Latin-1 core fonts

    def opt(value: int | None) -> str:
        return blank if value is None else str(value)

    resources = Table(
        caption=label("caption_resources", lang),
        headers=tuple(label(k, lang) for k in ("agency", "units", "on_scene", "personnel",
                                                 "vehicles")),
        rows=tuple((agency_name(r.agency, lang, names), str(r.units), str(r.on_scene),
                    opt(r.personnel), opt(r.vehicles)) for r in data.resources),
        widths=(3, 1.5, 1.5, 1.5, 1.5), numeric=frozenset({1, 2, 3, 4}),
        empty=label("none", lang))
    orders = Table(
        caption=label("caption_orders", lang),
        headers=(*(label(k, lang) for k in ("order", "unit", "agency", "task", "state")),
                 time_heading("issued", lang, tz, data.generated_at),
                 time_heading("changed", lang, tz, data.generated_at)),
        rows=tuple((order_number_text(o.number, lang), o.unit,
                    agency_name(o.agency, lang, names), o.task,
                    order_state_name(o.state, lang), short_time(o.issued_at, tz),
                    short_time(o.changed_at, tz)) for o in data.orders),
        widths=(1.1, 1.6, 1.2, 2.2, 1.1, 1.4, 1.4), empty=label("none", lang))
    tasks = Table(
        caption=label("caption_tasks", lang),
        headers=tuple(label(k, lang) for k in ("task", "agency", "required", "assigned",
                                                 "done")),
        rows=tuple((t.task, agency_name(t.agency, lang, names), str(t.required),
                    str(t.assigned), str(t.done)) for t in data.tasks),
        widths=(4, 2, 1, 1, 1), numeric=frozenset({2, 3, 4}), empty=label("none", lang))
    done = sum(o.state is OrderState.DONE for o in data.orders)
    on_scene = sum(o.state is OrderState.ON_SCENE for o in data.orders)
    units = sum(r.units for r in data.resources)
    summary = (f"累计下达调度指令{len(data.orders)}条，其中力量到场{on_scene}条、已完成{done}条；"
               f"各部门共出动力量{units}支（个）。" if lang is Lang.ZH else
               f"{len(data.orders)} dispatch orders issued: {on_scene} on scene, {done} done; "
               f"{units} units committed by all agencies.")
    return Section(label("sec_forces", lang), paragraphs=(summary,),
                   tables=(resources, orders, tasks))


def _next_steps(data: SitrepInput) -> Section:
    lang = data.language
    items = list(data.next_steps)
    for t in data.tasks:
        if t.done < t.required:
            agency = agency_name(t.agency, lang, data.agency_names)
            items.append(f"继续推进“{t.task}”（{agency}，已完成{t.done}/{t.required}）"
                         if lang is Lang.ZH else
                         f'Carry on with "{t.task}" ({agency}; {t.done} of {t.required} done)')
    closing = "有关情况将及时续报。" if lang is Lang.ZH else "Further reports will follow."
    return Section(label("sec_next", lang), items=tuple(items), closing=(closing,))


def _outcome(data: SitrepInput) -> Section:
    lang, inc, tz = data.language, data.incident, data.generated_at.tzinfo
    paragraphs = list(data.outcome)
    done = sum(o.state is OrderState.DONE for o in data.orders)
    units = sum(r.units for r in data.resources)
    end = inc.updated_at if inc.status is IncidentStatus.CLOSED else data.generated_at
    took = _ago(end - inc.reported_at, lang)
    if lang is Lang.ZH:
        paragraphs.append(f"事件于{long_time(end, lang, tz)}处置完毕，历时{took}。"
                          f"共下达调度指令{len(data.orders)}条，完成{done}条；"
                          f"出动力量{units}支（个）。")
    else:
        paragraphs.append(f"Response completed at {long_time(end, lang, tz)}, after {took}. "
                          f"{len(data.orders)} dispatch orders issued, {done} done; "
                          f"{units} units committed.")
    return Section(label("sec_outcome", lang), paragraphs=tuple(paragraphs))


def signatory_text(who: Signatory | None, lang: Lang) -> str:
    """王强（值班领导）, or （未填写） when nobody is named."""
    if who is None:
        return label("not_given", lang)
    if not who.role:
        return who.name
    return f"{who.name}（{who.role}）" if lang is Lang.ZH else f"{who.name} ({who.role})"


def signatory_fact(key: str, who: Signatory | None, lang: Lang) -> Fact:
    """签发人 or 审核人 with the person's name and role."""
    return Fact(label(key, lang), signatory_text(who, lang))


def _signoff(data: SitrepInput, meta: tuple[Fact, ...]) -> Section:
    """The sign-off block: 签发人, 审核人, issuing office and time."""
    lang = data.language
    return Section(label("sec_signoff", lang), facts=(
        signatory_fact("signed_by", data.signed_by, lang),
        signatory_fact("reviewed_by", data.reviewed_by, lang), *meta))


def sitrep_document(data: SitrepInput) -> Document:
    """The report's whole content, every text in its language (pure)."""
    lang, tz = data.language, data.generated_at.tzinfo
    last = _outcome(data) if data.kind is ReportKind.FINAL else _next_steps(data)
    caption = (f"{data.district.pick(lang)}{data.incident_type.pick(lang)}事件现场态势图"
               if lang is Lang.ZH else
               f"Situation map: {data.incident_type.pick(lang)} in {data.district.pick(lang)}")
    annex = Section(label("sec_map", lang), figures=(MapFigure(caption, data.map),))
    meta = (Fact(label("issuer", lang), data.issuer.pick(lang)),
            Fact(label("issued_at", lang), long_time(data.generated_at, lang, tz)))
    return Document(lang=lang, title=sitrep_title(data), subtitle=data.incident.title,
                    meta=(*meta, signatory_fact("signed_by", data.signed_by, lang)),
                    sections=(_basic(data), _casualties(data), _progress(data), _forces(data),
                              last, _signoff(data, meta), annex),
                    agency_names=data.agency_names)


def render_document_html(doc: Document, environment: jinja2.Environment | None = None) -> str:
    """A document as one self-contained HTML page; the shared environment when None."""
    env = environment or _shared_environment()
    sections = []
    for section in doc.sections:
        figures = []
        for figure in section.figures:
            # Both SVG writers escape every text they place, so the markup is safe to embed.
            svg = (bars_svg(figure) if isinstance(figure, BarChart) else
                   render_svg(figure.map, *MAP_SIZE, lang=doc.lang,
                              agency_names=doc.agency_names))
            figures.append((figure, Markup(svg)))
        sections.append((section, figures))
    return env.get_template("report.html").render(doc=doc, sections=sections)


def render_html(data: SitrepInput, *, environment: jinja2.Environment | None = None) -> str:
    """The situation report as a complete, self-contained HTML document."""
    return render_document_html(sitrep_document(data), environment)
