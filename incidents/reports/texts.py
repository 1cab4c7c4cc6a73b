"""Every fixed text of the reports, in Chinese and English, and the date formats of each.

One table keeps the two languages side by side so that a label cannot exist in one only;
`label` raises KeyError for an unknown key, which a test over every key catches.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo

from incidents.facilities import facility_kind_name
from incidents.lang import Lang, pick
from incidents.lifecycle import journal_action_label
from incidents.model import IncidentStatus, Level
from incidents.reports.model import LocalText, OrderState
from incidents.taxonomy import RECORDERS

_LABELS: dict[str, tuple[str, str]] = {
    # sitrep headings and facts
    "progress": ("续报", "Progress Report"),
    "final": ("终报", "Final Report"),
    "sec_basic": ("一、基本情况", "1. Basic facts"),
    "sec_casualties": ("二、人员伤亡", "2. Casualties"),
    "sec_progress": ("三、处置进展", "3. Response so far"),
    "sec_forces": ("四、力量调度", "4. Forces dispatched"),
    "sec_next": ("五、下一步工作", "5. Next steps"),
    "sec_outcome": ("五、处置结果", "5. Outcome"),
    "sec_signoff": ("签发", "Sign-off"),
    "signed_by": ("签发人", "Issued by (signed)"),
    "reviewed_by": ("审核人", "Reviewed by"),
    "not_given": ("（未填写）", "(not given)"),
    "casualty_figure": ("人数", "People"),
    "casualty_source": ("各来源最新报告数字之和", "Sum of each source's latest report"),
    "casualties_none": ("暂无人员伤亡报告。", "No casualties reported so far."),
    "sec_map": ("附图：现场态势图", "Annex: situation map"),
    "issuer": ("报送单位", "Issuing office"),
    "issued_at": ("报送时间", "Issued at"),
    "incident": ("事件名称", "Incident"),
    "type": ("事件类型", "Type"),
    "level": ("事件等级", "Level"),
    "status": ("当前状态", "Status"),
    "place": ("发生地点", "Place"),
    "reported_at": ("接报时间", "Reported at"),
    "updated_at": ("最近更新", "Last update"),
    "lead_agency": ("接报部门", "Reporting agency"),
    "casualties": ("伤亡及影响", "Casualties and impact"),
    "surroundings": ("周边情况", "Surroundings"),
    "incident_id": ("事件编号", "Incident id"),
    # tables
    "time": ("时间", "Time"),
    "actor": ("操作人", "By"),
    "action": ("事项", "Action"),
    "content": ("内容", "Details"),
    "order": ("指令编号", "Order"),
    "unit": ("处置力量", "Unit"),
    "agency": ("部门", "Agency"),
    "task": ("任务", "Task"),
    "state": ("状态", "State"),
    "issued": ("下达时间", "Issued"),
    "changed": ("最近变化", "Last change"),
    "required": ("需派", "Required"),
    "assigned": ("已派", "Assigned"),
    "done": ("已完成", "Done"),
    "units": ("出动力量", "Units"),
    "on_scene": ("到场", "On scene"),
    "personnel": ("人员", "Personnel"),
    "vehicles": ("车辆", "Vehicles"),
    "caption_resources": ("各部门出动力量", "Forces by agency"),
    "caption_orders": ("调度指令", "Dispatch orders"),
    "caption_tasks": ("预案任务", "Plan tasks"),
    "none": ("无", "None"),
    "unknown": ("不详", "Unknown"),
    # casualty figures
    "deaths": ("死亡", "Dead"),
    "injured": ("受伤", "Injured"),
    "missing": ("失踪", "Missing"),
    "trapped": ("被困", "Trapped"),
    "evacuated": ("转移疏散", "Evacuated"),
    "affected": ("受影响", "Affected"),
    # map
    "north": ("北", "N"),
    "km": ("公里", "km"),
    "legend_incident": ("事发点", "Incident"),
    "legend_facility": ("重点目标", "Facility"),
    "legend_order": ("调度指令（力量→事发点）", "Order (unit to incident)"),
    "legend_cordon": ("警戒区（初始隔离区）", "Cordon (initial isolation)"),
    "legend_downwind": ("下风向防护区", "Downwind protective zone"),
    "legend_radius": ("研判范围", "Assessment radius"),
    # people
    "role_operator": ("值班员", "duty operator"),
    "role_leader": ("值班领导", "duty leader"),
    "role_liaison": ("联络员", "liaison"),
    "role_admin": ("系统管理员", "administrator"),
    "api_token": ("API令牌", "API token"),
    "rules": ("自动研判规则", "automatic rules"),
    "cap_feed": ("预警信息接收", "CAP feed"),
    "facility_other": ("其他设施", "other facilities"),
    "beijing_time": ("北京时间", "Beijing time"),
    # daily summary
    "daily_title": ("突发事件日报", "Daily Incident Summary"),
    "daily_overview": ("一、总体情况", "1. Overview"),
    "daily_by_type": ("二、按类型统计", "2. By type"),
    "daily_by_level": ("三、按等级统计", "3. By level"),
    "daily_by_district": ("四、按区县统计", "4. By district"),
    "daily_response": ("五、响应时效", "5. Response times"),
    "total": ("事件总数", "Incidents"),
    "open": ("处置中", "Open"),
    "count": ("起数", "Count"),
    "category": ("类别", "Category"),
    "measure": ("指标", "Measure"),
    "samples": ("样本数", "Samples"),
    "mean": ("平均", "Mean"),
    "median": ("中位数", "Median"),
    "p90": ("90%分位", "90th percentile"),
    "to_verify": ("接报至核实", "Reported to verified"),
    "to_scene": ("接报至首支力量到场", "Reported to first unit on scene"),
    "minutes": ("分钟", "min"),
}


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def label(key: str, lang: Lang) -> str:
    """The fixed text `key` in `lang`; KeyError for a key that does not exist."""
    return pick(_LABELS[key], lang)


def label_keys() -> frozenset[str]:
    """Every key `label` knows."""
    return frozenset(_LABELS)


def status_name(status: IncidentStatus, lang: Lang) -> str:
    """Name of an incident status (the enum's own label)."""
    return status.label(lang)


def order_state_name(state: OrderState, lang: Lang) -> str:
    """Name of a dispatch order state (the enum's own label)."""
    return state.label(lang)


def level_name(level: Level, lang: Lang) -> str:
    """Level with its numeral: 较大（III级） or Major (Level III)."""
    if lang is Lang.ZH:
        return f"{level.label(lang)}（{level.value}级）"
    return f"{level.label(lang)} (Level {level.value})"


def agency_name(code: str, lang: Lang, names: Mapping[str, LocalText]) -> str:
    """Name of an agency code: the caller's (taxonomy) names, the recorders', else the code."""
    if code in names:
        return names[code].pick(lang)
    return pick(RECORDERS[code], lang) if code in RECORDERS else code


def facility_name(kind: str, lang: Lang) -> str:
    """Name of a facility kind mid-sentence (plural, lower case in English); a kind without a
    name is one of the 其他设施 / other facilities, never its code."""
    name = facility_kind_name(kind, lang)
    if name == kind:
        return label("facility_other", lang)
    return name.lower() if lang is Lang.EN else name


def action_name(code: str, lang: Lang) -> str:
    """Name of a journal action code; 其他事项 / Other for one without a name, never the code."""
    name = journal_action_label(code, lang)
    return pick(("其他事项", "Other"), lang) if name == code else name


_CHINA_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"})
"""Time zone names that mean Beijing time."""


def zone_name(value: datetime, lang: Lang) -> str:
    """What to call the time zone of the aware `value`: 北京时间 for China's zone (or a bare
    +08:00 offset), else the zone's own name, else its offset as GMT+hh:mm."""
    key = getattr(value.tzinfo, "key", None)
    delta = value.utcoffset() or timedelta(0)
    if key in _CHINA_ZONES or (key is None and delta == timedelta(hours=8)):
        return label("beijing_time", lang)
    if isinstance(key, str):
        return key
    minutes = int(delta.total_seconds()) // 60
    hours, mins = divmod(abs(minutes), 60)
    return f"GMT{'+' if minutes >= 0 else '-'}{hours:02d}:{mins:02d}"


def long_time(value: datetime, lang: Lang, tz: tzinfo | None) -> str:
    """A full date and time, as a report's header writes it, in the time zone `tz`."""
    local = value.astimezone(tz)
    if lang is Lang.ZH:
        return (f"{local.year}年{local.month}月{local.day}日{local.hour:02d}时"
                f"{local.minute:02d}分（{zone_name(local, lang)}）")
    return (f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}, "
            f"{local.hour:02d}:{local.minute:02d} ({zone_name(local, lang)})")


def time_heading(key: str, lang: Lang, tz: tzinfo | None, at: datetime) -> str:
    """A table's time column heading naming the zone: 时间（北京时间）."""
    zone = zone_name(at.astimezone(tz), lang)
    return f"{label(key, lang)}（{zone}）" if lang is Lang.ZH else f"{label(key, lang)} ({zone})"


def role_name(role: str, lang: Lang) -> str:
    """Name of an account role code; the generic 工作人员 / staff for one without a name."""
    key = f"role_{role}"
    return label(key, lang) if key in _LABELS else pick(("工作人员", "staff"), lang)


def short_time(value: datetime, tz: tzinfo | None) -> str:
    """Month, day and time for a table cell: 07-03 14:35 (the same in both languages)."""
    local = value.astimezone(tz)
    return f"{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"


def long_date(year: int, month: int, day: int, lang: Lang) -> str:
    """A date as a title writes it: 2024年7月3日 or 3 Jul 2024."""
    if lang is Lang.ZH:
        return f"{year}年{month}月{day}日"
    return f"{day} {_MONTHS_EN[month - 1]} {year}"
