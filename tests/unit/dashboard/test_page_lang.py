"""The language Dash's page titles are given: from the page's address, or from the address
the browser is at when Dash updates the page."""

from __future__ import annotations

from flask import Flask

from dashboard.i18n import Lang, dropdown_labels
from dashboard.page_lang import page_title, request_lang

app = Flask(__name__)


def test_a_page_request_gives_its_lang() -> None:
    with app.test_request_context("/analytics?lang=en"):
        assert request_lang() is Lang.EN
    with app.test_request_context("/analytics"):
        assert request_lang() is Lang.ZH


def test_a_page_update_gives_the_lang_of_the_browser_address() -> None:
    body = {"inputs": [{"id": "_pages_location", "property": "pathname", "value": "/map"},
                       {"id": "_pages_location", "property": "search", "value": "?lang=en"}]}
    with app.test_request_context("/_dash-update-component", method="POST", json=body):
        assert request_lang() is Lang.EN
    body["inputs"][1]["value"] = ""
    with app.test_request_context("/_dash-update-component", method="POST", json=body):
        assert request_lang() is Lang.ZH


def test_a_title_follows_the_request_and_defaults_to_chinese() -> None:
    title = page_title("态势图", "Situation")
    assert title() == "态势图"  # no request at all (Dash validating the registry)
    with app.test_request_context("/map?lang=en"):
        assert title() == "Situation"


def test_dropdown_texts_are_in_the_page_language() -> None:
    assert dropdown_labels(Lang.ZH)["search"] == "搜索"
    assert dropdown_labels(Lang.EN)["search"] == "Search"
    assert set(dropdown_labels(Lang.ZH)) == set(dropdown_labels(Lang.EN))
