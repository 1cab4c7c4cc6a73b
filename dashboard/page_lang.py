"""The language of the page being served, for what Dash computes outside the page's layout
(its document title): the layout gets `?lang=` as an argument, the title does not."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

from flask import has_request_context, request

from dashboard.i18n import Lang


def request_lang() -> Lang:
    """The language the current request asks for: `?lang=` of a page's address, or, in a Dash
    page-update callback (whose own address is /_dash-update-component), of the address the
    browser is at (its `search` input)."""
    if not has_request_context():
        return Lang.ZH
    if request.args.get("lang"):
        return Lang.of(request.args.get("lang"))
    body = request.get_json(silent=True) if request.is_json else None
    inputs = body.get("inputs", []) if isinstance(body, dict) else []
    for item in inputs if isinstance(inputs, list) else []:
        if isinstance(item, dict) and item.get("property") == "search":
            found = parse_qs(str(item.get("value") or "").lstrip("?")).get("lang")
            return Lang.of(found[0] if found else None)
    return Lang.ZH


def page_title(zh: str, en: str) -> Callable[..., str]:
    """A Dash page title in the page's language (Dash calls it with the path's variables;
    the language comes from the request, see `request_lang`)."""

    def title(**_path: object) -> str:
        return en if request_lang() is Lang.EN else zh

    return title

