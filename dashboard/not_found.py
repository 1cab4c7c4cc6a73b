"""The page for an address no page has (Dash's own says "404 - Page not found" in English on
every page): in the page's language, with a way back."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboard.i18n import COMMON, Lang
from dashboard.page_lang import page_title

TEXT = COMMON.extend({
    "nf_title": ("页面不存在", "Page not found"),
    "nf_hint": ("地址有误，或该页面已移除。", "The address is wrong, or the page has gone."),
    "nf_back": ("返回指挥席", "Back to the desk"),
})
"""The not-found page's labels."""


def layout(lang: Lang) -> html.Div:
    """The not-found page in `lang`."""
    query = "?lang=en" if lang is Lang.EN else ""
    return html.Div(className="sitroom-app desk", children=[
        html.Main(className="not-found", style={"padding": "3rem"}, children=[
            html.H1(TEXT("nf_title", lang)),
            html.P(TEXT("nf_hint", lang)),
            dcc.Link(TEXT("nf_back", lang), href="/" + query, id="not-found-back"),
        ]),
    ])


def register() -> None:
    """Register the page Dash shows for unknown addresses (its module name says so)."""

    def page(lang: str | None = None, **_query: Any) -> html.Div:
        return layout(Lang.of(lang))

    title = page_title(f"{TEXT('nf_title', Lang.ZH)} · {TEXT('app_title', Lang.ZH)}",
                       f"{TEXT('nf_title', Lang.EN)} · {TEXT('app_title', Lang.EN)}")
    dash.register_page("not_found_404", path="/404", title=title,  # type: ignore[no-untyped-call]
                       layout=page)
