"""Labels of the leader's desk, the analytics and the replay pages (zh-CN first, en second),
and the small formatters every one of them uses. Pure: no Dash, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from dashboard.i18n import COMMON, Lang
from incidents import facilities
from incidents.dispatch import OrderState
from incidents.model import LOCAL_TZ, AlarmState, IncidentStatus, Level
from incidents.taxonomy import SYSTEM_TYPE_NAMES, Taxonomy

LABELS = COMMON.extend({
    # shell and navigation
    "desk_title": ("指挥席", "Command desk"),
    "nav_desk": ("指挥席", "Desk"),
    "nav_map": ("态势图", "Map"),
    "nav_analytics": ("统计分析", "Analytics"),
    "nav_replay": ("态势回放", "Replay"),
    # left column
    "tab_incidents": ("事件", "Incidents"),
    "tab_units": ("单位", "Units"),
    "tab_alarms": ("告警", "Alarms"),
    "f_level": ("等级", "Level"),
    "f_type": ("类型", "Type"),
    "f_district": ("区县", "District"),
    "f_status": ("状态", "Status"),
    "f_time": ("时间", "Time"),
    "f_sort": ("排序", "Sort"),
    "f_agency": ("部门", "Agency"),
    "sort_time": ("最新优先", "Newest first"),
    "sort_level": ("等级优先", "Most severe first"),
    "all": ("全部", "All"),
    "open": ("在办", "Open"),
    "t_1h": ("近1小时", "Last hour"),
    "t_6h": ("近6小时", "Last 6 hours"),
    "t_24h": ("近24小时", "Last 24 hours"),
    "t_7d": ("近7天", "Last 7 days"),
    "t_any": ("不限", "Any time"),
    "empty_list": ("暂无符合条件的事件", "No incident matches"),
    "count": ("共 {n} 起", "{n} incidents"),
    "u_unit": ("单位", "Unit"),
    "u_kind": ("类型", "Kind"),
    "u_seen": ("最后定位", "Last fix"),
    "u_state": ("状态", "State"),
    "online": ("在线", "Online"),
    "offline": ("离线", "Offline"),
    "busy": ("执行任务", "On an order"),
    "a_time": ("时间", "Time"),
    "a_device": ("设备", "Device"),
    "a_type": ("告警", "Alarm"),
    "empty_units": ("暂无单位", "No units"),
    "empty_alarms": ("近24小时无告警", "No alarm in the last 24 hours"),
    # the incident panel
    "no_selection": ("请在左侧列表或地图上选择一起事件", "Select an incident in the list or on"
                     " the map"),
    "p_reported": ("接报", "Reported"),
    "p_district": ("区县", "District"),
    "p_agency": ("接报部门", "Agency"),
    "p_updated": ("更新", "Updated"),
    "outside": ("市外", "Outside the city"),
    "act_verify": ("核实", "Verify"),
    "act_level": ("调整等级", "Change level"),
    "act_dispatch": ("调派预案", "Dispatch plan"),
    "act_contain": ("确认控制", "Contained"),
    "act_note": ("添加备注", "Add note"),
    "act_close": ("终报关闭", "Close"),
    "act_sitrep": ("签发续报", "Issue sitrep"),
    "act_preview": ("预览报告", "Preview report"),
    "act_conference": ("视频会商", "Conference"),
    "res_resolved": ("处置完毕", "Resolved"),
    "res_false_alarm": ("误报", "False alarm"),
    "note_placeholder": ("输入备注或理由…", "A note, or the reason for the change…"),
    "conference_off": ("未配置视频服务器，暂不能发起会商", "No video server is configured yet"),
    "no_permission": ("您的角色（{role}）无权执行此操作", "Your role ({role}) may not do this"),
    "done": ("已完成：{what}", "Done: {what}"),
    "need_level": ("请选择目标等级", "Choose the new level"),
    "need_note": ("请先输入备注内容", "Write the note first"),
    "unavailable": ("数据库暂不可用，请稍后重试", "The database is unavailable; try again"
                    " shortly"),
    "pt_timeline": ("处置时间线", "Timeline"),
    "pt_orders": ("调度指令", "Orders"),
    "pt_support": ("辅助决策", "Decision support"),
    "pt_reports": ("报告与视频", "Reports & video"),
    "o_unit": ("单位", "Unit"),
    "o_task": ("任务", "Task"),
    "o_state": ("状态", "State"),
    "o_issued": ("下达", "Issued"),
    "o_deadline": ("确认时限", "Ack by"),
    "o_overdue": ("超时未确认", "Overdue"),
    "o_stale": ("无进展 {n} 分钟", "no progress for {n} min"),
    # unit states (desk_units.py)
    "check_failed": ("⚠ 状态检查未通过：{n} 处问题（{at}）。运行 sitroom check 查看修复方法",
                     "⚠ State check failed: {n} problem(s) at {at}. Run `sitroom check` for"
                     " the repairs"),
    "check_more": ("另有 {n} 处", "and {n} more"),
    "uc_title": ("单位释放 / 状态调整", "Release or set a unit"),
    "uc_unit": ("选择单位", "Unit"),
    "uc_release": ("释放（结束其任务）", "Release (end its order)"),
    "uc_available": ("设为待命", "Set available"),
    "uc_out_of_service": ("设为暂停执勤", "Set out of service"),
    "uc_off_duty": ("设为休班", "Set off duty"),
    "uc_reason": ("原因（必填，记入日志）", "Reason (required, journaled)"),
    "uc_apply": ("确定", "Apply"),
    "uc_pick": ("请先选择单位", "Pick a unit first"),
    "uc_done": ("单位 {unit} 状态已更新", "unit {unit} updated"),
    "uc_cancelled": ("，取消指令 {n} 条", ", {n} order(s) cancelled"),
    "o_reassign": ("改派", "Reassign"),
    "o_overdue_n": ("{n} 条超时未确认", "{n} overdue"),
    "o_dispatch": ("调度", "Dispatch"),
    "o_summary": ("{acked}/{total} 已确认 · {on_scene} 到场", "{acked}/{total} acknowledged"
                  " · {on_scene} on scene"),
    "no_orders": ("尚未下达调度指令", "No orders yet"),
    "c_sent": ("已派 {sent}/{needed}", "sent {sent} of {needed}"),
    "c_sent_noplan": ("已派 {sent}（无适用预案）", "sent {sent} (no plan applies)"),
    "c_short": ("缺 {n}", "{n} short"),
    "c_complete": ("已配齐", "complete"),
    "c_confirmed": ("已确认 {n}", "{n} confirmed"),
    "c_on_scene": ("{n} 到场", "{n} on scene"),
    "c_who": ("部门 · 类型", "Agency · kind"),
    "c_confirmed_h": ("已确认", "Confirmed"),
    "s_population": ("{r} 公里内人口约", "People within {r} km, about"),
    "s_facilities": ("周边重点目标", "Facilities nearby"),
    "s_similar": ("一年内附近同类事件", "Similar incidents nearby this year"),
    "s_gap": ("预案资源缺口", "Plan resource gap"),
    "s_no_plan": ("无适用预案", "No plan applies"),
    "s_required": ("需派", "Needed"),
    "s_sent": ("已派", "Sent"),
    "s_found": ("可派", "Available"),
    "s_missing": ("缺口", "Short"),
    "none": ("无", "None"),
    "r_reports": ("关联报告", "Linked reports"),
    "r_none": ("暂无关联报告", "No linked report"),
    "v_cameras": ("附近视频", "Nearby video"),
    "v_none": ("附近无摄像头", "No camera nearby"),
    "v_all": ("全部播放", "Play them all"),
    "conference_failed": ("会商未能发起", "The conference could not be opened"),
    "loading": ("加载中…", "Loading…"),
    # the dispatch dialog
    "d_title": ("调派预案 · 确认", "Dispatch the plan · confirm"),
    "d_units": ("拟派单位", "Proposed units"),
    "d_need": ("需 {n}", "needs {n}"),
    "d_short": ("缺 {n}", "{n} short"),
    "d_confirm": ("确认调派", "Confirm dispatch"),
    "d_cancel": ("取消", "Cancel"),
    "d_choose": ("选择单位（可清除以移除）", "Choose a unit (clear to remove)"),
    "d_hint": ("可更换或移除拟派单位，确认后下达调度指令", "Replace or remove proposed units,"
               " then confirm to issue the orders"),
    "d_dispatched": ("已下达 {n} 条调度指令", "{n} orders issued"),
    "d_nothing": ("未选择任何单位", "No unit chosen"),
    "d_far": ("远", "far"),
    "d_far_n": ("拟派 {n} 个较远", "{n} far proposed"),
    "d_minutes": ("约 {n} 分钟", "~{n} min"),
    "d_busy": ("执行任务中", "on an order"),
    "d_reason": ("选用执行任务中的单位时必填：原因", "Required when a unit on an order is"
                 " chosen: the reason"),
    "d_need_reason": ("所选单位 {units} 正在执行任务：请填写选用原因", "{units} already hold"
                      " an order: write why they are sent"),
    "d_partial_title": ("以下任务未配齐，仍要派出吗？", "These tasks are not filled. Send"
                        " anyway?"),
    "d_partial_line": ("{task}：{agency} {kind} 缺 {n}", "{task}: {n} short ({agency} ·"
                       " {kind})"),
    "d_partial_go": ("仍然派出", "Send anyway"),
    "d_partial_back": ("返回修改", "Go back"),
})
"""Every label of the desk's pages."""



def status_name(status: IncidentStatus, lang: Lang) -> str:
    """An incident status for people (the enum's own label)."""
    return status.label(lang)


def order_state_name(state: OrderState, lang: Lang) -> str:
    """A dispatch order's state for people (the enum's own label)."""
    return state.label(lang)


def alarm_state_name(state: AlarmState, lang: Lang) -> str:
    """A device alarm's state for people (the enum's own label)."""
    return state.label(lang)


def facility_kind_name(kind: str, lang: Lang) -> str:
    """A facility kind for people; the code itself when it has no name."""
    return facilities.facility_kind_name(kind, lang)


def level_name(level: Level, lang: Lang) -> str:
    """"II级 重大" or "Level II · Serious"."""
    if lang is Lang.ZH:
        return f"{level.value}级 {level.label(lang)}"
    return f"Level {level.value} · {level.label(lang)}"


def level_short(level: Level, lang: Lang) -> str:
    """"II级" or "Lv II"."""
    return f"{level.value}级" if lang is Lang.ZH else f"Lv {level.value}"


def type_name(taxonomy: Taxonomy, code: str, lang: Lang) -> str:
    """An incident type's name (a CAP alert's warning too); the code itself for a type nobody
    named."""
    return taxonomy.type_name(code).get(lang.value)


def type_names(taxonomy: Taxonomy) -> dict[str, list[str]]:
    """Every incident type's [zh, en] names by code, for the scripts."""
    codes = [*taxonomy.types, *SYSTEM_TYPE_NAMES]
    return {code: [type_name(taxonomy, code, lang) for lang in (Lang.ZH, Lang.EN)]
            for code in codes}


def agency_name(taxonomy: Taxonomy, code: str, lang: Lang, *, short: bool = True) -> str:
    """An agency's name, by default without the part in brackets (for compact tables)."""
    return taxonomy.agency_name(code, lang, short=short)


def unit_kind_name(taxonomy: Taxonomy, code: str | None, lang: Lang) -> str:
    """A unit kind's name, the code when unknown, a dash when none."""
    if not code:
        return "–"
    found = taxonomy.unit_kinds.get(code)
    return found.name.get(lang.value) if found else code


def clock(when: datetime) -> str:
    """"09:15:02" in Beijing time."""
    return when.astimezone(LOCAL_TZ).strftime("%H:%M:%S")


def stamp(when: datetime) -> str:
    """"11-26 09:15" in Beijing time."""
    return when.astimezone(LOCAL_TZ).strftime("%m-%d %H:%M")


def ago(when: datetime, now: datetime, lang: Lang) -> str:
    """How long ago, coarsely: "5分钟前" / "5 min ago"."""
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 60:
        return "刚刚" if lang is Lang.ZH else "just now"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}分钟前" if lang is Lang.ZH else f"{minutes} min ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}小时前" if lang is Lang.ZH else f"{hours} h ago"
    return f"{hours // 24}天前" if lang is Lang.ZH else f"{hours // 24} days ago"


TIME_WINDOWS: Mapping[str, timedelta | None] = {
    "1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24),
    "7d": timedelta(days=7), "any": None,
}
"""The list's time filter: the key is the option value, the label is `t_<key>`."""


def data_attrs(**values: str) -> dict[str, Any]:
    """`data-*` attributes for a Dash component (tests and tools find rows by them)."""
    return {f"data-{key.replace('_', '-')}": value for key, value in values.items()}
