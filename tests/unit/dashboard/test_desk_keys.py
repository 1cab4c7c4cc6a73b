"""The desk's shortcut table and overlay (the keys themselves: tests/e2e/test_desk_keys.py)."""

from __future__ import annotations

from typing import Any

from dashboard.desk_keys import KEY_LABELS, KEY_OF, SHORTCUTS, overlay, titled
from dashboard.i18n import Lang


def texts(component: Any) -> list[str]:
    """Every string under a component."""
    if isinstance(component, str):
        return [component]
    children = getattr(component, "children", None)
    if children is None:
        return []
    if isinstance(children, list | tuple):
        return [text for child in children for text in texts(child)]
    return texts(children)


def test_every_key_is_one_plain_character_and_used_once() -> None:
    keys = [s.key for s in SHORTCUTS]
    assert len(keys) == len(set(keys))
    assert all(len(key) == 1 and not key.isupper() for key in keys)
    assert KEY_OF == {"verify": "V", "escalate": "E", "dispatch": "D", "note": "N",
                      "close": "C", "help": "?"}


def test_titles_name_the_key() -> None:
    assert titled("核实", "verify") == "核实 (V)"
    assert titled("Close", "close") == "Close (C)"


def test_the_overlay_lists_every_shortcut_in_the_page_language() -> None:
    for lang in Lang:
        shown = texts(overlay(lang))
        for shortcut in SHORTCUTS:
            assert shortcut.key.upper() in shown
            assert KEY_LABELS(f"key_{shortcut.action}", lang) in shown
        assert KEY_LABELS("keys_title", lang) in shown
    assert "键盘快捷键" in texts(overlay(Lang.ZH))
    assert not any("键" in text for text in texts(overlay(Lang.EN)))


def test_the_overlay_starts_hidden_with_its_messages() -> None:
    box = overlay(Lang.EN)
    shown: Any = box
    assert shown.hidden is True
    assert getattr(box, "data-none") == "Select an incident first"
    assert "{what}" in getattr(box, "data-off")
