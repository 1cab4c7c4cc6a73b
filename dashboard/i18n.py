"""The dashboard's languages: zh-CN first, en second. Every page takes `lang` from the query
(`?lang=en`), the language switch is a link, and every label comes from one catalogue."""

from __future__ import annotations

from collections.abc import Mapping

from dash.dcc import Dropdown

from incidents.lang import Lang as Lang  # the one Lang; pages import it from here too
from incidents.lang import pick


class Catalogue:
    """Labels by key, in both languages; a missing key is a programming error (KeyError)."""

    def __init__(self, entries: Mapping[str, tuple[str, str]]) -> None:
        for key, (zh, en) in entries.items():
            if not zh or not en:
                raise ValueError(f"label {key!r} needs both a Chinese and an English text")
        self._entries = dict(entries)

    def __call__(self, key: str, lang: Lang) -> str:
        """The label `key` in `lang`."""
        return pick(self._entries[key], lang)

    def both(self, key: str) -> str:
        """The label in both languages, Chinese first (for wall screens and tooltips)."""
        zh, en = self._entries[key]
        return f"{zh} {en}"

    def extend(self, entries: Mapping[str, tuple[str, str]]) -> Catalogue:
        """A catalogue with these entries added (a page adds its own labels)."""
        clash = set(entries) & set(self._entries)
        if clash:
            raise ValueError(f"labels defined twice: {', '.join(sorted(clash))}")
        return Catalogue({**self._entries, **entries})


COMMON = Catalogue({
    "app_title": ("邢台市应急指挥中心", "Xingtai Emergency Command Centre"),
    "language_switch": ("English", "中文"),
    "sign_out": ("退出", "Sign out"),
    "live": ("实时", "Live"),
    "stale": ("数据中断", "Data stale"),
    "connecting": ("连接中", "Connecting"),
})
"""Labels every page shares; pages extend it with their own."""


_DROPDOWN = {
    "select_all": ("全选", "Select all"),
    "deselect_all": ("全不选", "Deselect all"),
    "selected_count": ("已选 {num_selected} 项", "{num_selected} selected"),
    "search": ("搜索", "Search"),
    "clear_search": ("清除搜索", "Clear search"),
    "clear_selection": ("清除选择", "Clear selection"),
    "no_options_found": ("无匹配项", "No match"),
}


def dropdown_labels(lang: Lang) -> Dropdown.Labels:
    """The texts Dash's dropdown shows itself (its defaults are English), for `labels=`."""
    t = {key: pick(pair, lang) for key, pair in _DROPDOWN.items()}
    return Dropdown.Labels(
        select_all=t["select_all"], deselect_all=t["deselect_all"],
        selected_count=t["selected_count"], search=t["search"],
        clear_search=t["clear_search"], clear_selection=t["clear_selection"],
        no_options_found=t["no_options_found"])
