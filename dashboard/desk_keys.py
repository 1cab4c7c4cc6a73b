"""The desk's keyboard shortcuts: which key presses which action button, their labels in both
languages, and the `?` help overlay. The key handling is in assets/desk_keys.js, which presses
the same buttons the mouse does, so permissions, confirmations and the journal stay the same.
Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dash import html

from dashboard.desk_text import LABELS, data_attrs
from dashboard.i18n import Lang


@dataclass(frozen=True, slots=True)
class Shortcut:
    """One key of the desk."""

    key: str
    """The key as the user types it (lower case; shown upper case)."""
    action: str
    """What it does: the name desk_keys.js dispatches on, and the label `key_<action>`."""


SHORTCUTS = (
    Shortcut("v", "verify"), Shortcut("e", "escalate"), Shortcut("d", "dispatch"),
    Shortcut("n", "note"), Shortcut("c", "close"), Shortcut("?", "help"),
)
"""Single letters without a modifier: no browser binds them, and none is used while typing
in a field (desk_keys.js ignores keys there). Esc closes the overlay."""

KEY_OF = {s.action: s.key.upper() for s in SHORTCUTS}
"""The key shown for an action, e.g. KEY_OF["verify"] == "V"."""

OVERLAY_ID = "desk-keys"
"""The help overlay (hidden until `?`)."""

KEY_LABELS = LABELS.extend({
    "key_verify": ("核实所选事件", "Verify the selected incident"),
    "key_escalate": ("升高一级", "Escalate one level"),
    "key_dispatch": ("调派预案（打开确认框）", "Dispatch a plan (opens the confirmation)"),
    "key_note": ("转到备注框", "Go to the note box"),
    "key_close": ("终报关闭（误报只选中，按回车确认）",
                  "Close (a false alarm is only focused: press Enter to confirm)"),
    "key_help": ("显示/隐藏快捷键", "Show or hide the shortcuts"),
    "key_esc": ("关闭本窗口", "Close this window"),
    "key_note_send": ("在备注框中提交备注", "Add the note from the note box"),
    "keys_title": ("键盘快捷键", "Keyboard shortcuts"),
    "keys_close": ("关闭", "Close"),
    "keys_hint": ("在输入框中打字时快捷键不生效。", "Shortcuts are off while you type in a"
                  " field."),
    "keys_none": ("请先选择一起事件", "Select an incident first"),
    "keys_off": ("当前不可用：{what}", "Not available now: {what}"),
    "keys_top": ("已是最高等级（I级）", "Already at the highest level (I)"),
    "keys_confirm": ("按回车确认：{what}", "Press Enter to confirm: {what}"),
})
"""The desk's labels with those of the shortcuts."""


def titled(text: str, action: str) -> str:
    """A button's title with its shortcut: "核实 (V)"."""
    return f"{text} ({KEY_OF[action]})"


def overlay(lang: Lang) -> html.Div:
    """The `?` overlay: every shortcut with what it does (hidden until opened)."""
    rows = [(s.key.upper(), KEY_LABELS(f"key_{s.action}", lang)) for s in SHORTCUTS]
    rows += [("Ctrl+Enter", KEY_LABELS("key_note_send", lang)),
             ("Esc", KEY_LABELS("key_esc", lang))]
    return html.Div(
        id=OVERLAY_ID, className="desk-keys", hidden=True,
        **data_attrs(none=KEY_LABELS("keys_none", lang), off=KEY_LABELS("keys_off", lang),
                     top=KEY_LABELS("keys_top", lang),
                     confirm=KEY_LABELS("keys_confirm", lang)),
        children=html.Div(
            className="desk-keys-box", role="dialog", **_aria(modal="true",
                                                              labelledby="desk-keys-title"),
            children=[
                html.H3(KEY_LABELS("keys_title", lang), id="desk-keys-title"),
                html.Table(className="desk-keys-table", children=html.Tbody([
                    html.Tr([html.Td(html.Kbd(key)), html.Td(text)]) for key, text in rows])),
                html.P(KEY_LABELS("keys_hint", lang), className="desk-sub"),
                html.Button(KEY_LABELS("keys_close", lang), id="desk-keys-close",
                            type="button", className="desk-btn"),
            ]))


def _aria(**values: str) -> dict[str, Any]:
    """`aria-*` attributes for a Dash component."""
    return {f"aria-{key}": value for key, value in values.items()}


def status_line() -> html.Div:
    """Where a shortcut that cannot act now says why (read out by screen readers)."""
    return html.Div("", id="desk-keys-msg", className="desk-msg desk-msg-err", role="status")
