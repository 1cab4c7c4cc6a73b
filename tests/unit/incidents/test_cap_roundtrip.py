"""CAP 1.2 round trips: serialise then parse gives the same alert, in schema order."""

from __future__ import annotations

import ast
import unicodedata
from datetime import timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import incidents.cap as cap_module
from incidents.cap import (
    CapAlert,
    CapArea,
    CapCategory,
    CapCertainty,
    CapCircle,
    CapInfo,
    CapMsgType,
    CapReference,
    CapResource,
    CapResponseType,
    CapScope,
    CapSeverity,
    CapStatus,
    CapUrgency,
    cap_message_id,
)
from incidents.cap_xml import export_cap, parse_cap
from tests.unit.incidents.cap_samples import (
    VALID,
    XML_CHARS,
    alert_of,
    assert_schema_ordered,
    is_message_id,
)


@pytest.mark.parametrize("name", VALID)
def test_export_round_trips_every_fixture(name: str) -> None:
    alert = alert_of(name)
    document = export_cap(alert)
    assert parse_cap(document) == alert
    assert export_cap(parse_cap(document)) == document  # offsets and texts kept exactly
    assert_schema_ordered(document)



# --- round trip of generated alerts -------------------------------------------------------------

# Control characters (tab and newline included) are cleaned at parsing, so they cannot round-trip;
# tests/unit/ingest/test_codecs_control.py covers them.
CHARS = XML_CHARS.filter(lambda c: unicodedata.category(c) != "Cc")
TEXT = st.text(CHARS, min_size=1, max_size=24).map(lambda s: s.strip(" \t\n\r")).filter(bool)
TOKEN = st.text(CHARS.filter(lambda c: not c.isspace() and c not in ",<&"), min_size=1,
                max_size=24)
NAME = st.text(CHARS.filter(lambda c: c != '"'), min_size=1, max_size=16)
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m)))
TIMES = st.datetimes(timezones=OFFSETS).map(lambda t: t.replace(microsecond=0))
PAIRS = st.lists(st.tuples(TEXT, TEXT), max_size=2).map(tuple)
POINTS = st.tuples(st.floats(-90.0, 90.0), st.floats(-180.0, 180.0))
RINGS = st.lists(POINTS, min_size=3, max_size=6).map(lambda ps: (*ps, ps[0]))
FINITE = st.floats(allow_nan=False, allow_infinity=False)
T = TypeVar("T")


def maybe(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


def tuples_of(strategy: st.SearchStrategy[T], max_size: int = 2) -> st.SearchStrategy[
        tuple[T, ...]]:
    return st.lists(strategy, max_size=max_size).map(tuple)


@st.composite
def areas(draw: st.DrawFn) -> CapArea:
    altitude = draw(maybe(FINITE))
    return CapArea(
        area_desc=draw(TEXT), polygons=draw(tuples_of(RINGS)),
        circles=draw(tuples_of(st.builds(CapCircle, lat=st.floats(-90.0, 90.0),
                                         lon=st.floats(-180.0, 180.0),
                                         radius_km=st.floats(0.0, 1e7)))),
        geocodes=draw(PAIRS), altitude=altitude,
        ceiling=None if altitude is None else draw(maybe(FINITE)))


RESOURCES = st.builds(CapResource, resource_desc=TEXT, mime_type=TEXT,
                      size=maybe(st.integers(0, 10**18 - 1)), uri=maybe(TEXT),
                      deref_uri=maybe(TEXT), digest=maybe(TEXT))
INFOS = st.builds(
    CapInfo,
    language=st.from_regex(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8}){0,2}", fullmatch=True),
    categories=st.lists(st.sampled_from(CapCategory), min_size=1, max_size=3).map(tuple),
    event=TEXT, response_types=tuples_of(st.sampled_from(CapResponseType)),
    urgency=st.sampled_from(CapUrgency), severity=st.sampled_from(CapSeverity),
    certainty=st.sampled_from(CapCertainty), audience=maybe(TEXT), event_codes=PAIRS,
    effective=maybe(TIMES), onset=maybe(TIMES), expires=maybe(TIMES), sender_name=maybe(TEXT),
    headline=maybe(TEXT), description=maybe(TEXT), instruction=maybe(TEXT), web=maybe(TEXT),
    contact=maybe(TEXT), parameters=PAIRS, resources=tuples_of(RESOURCES, 1),
    areas=tuples_of(areas()),
)


@st.composite
def alerts(draw: st.DrawFn) -> CapAlert:
    scope = draw(st.sampled_from(CapScope))
    addresses = draw(tuples_of(NAME, 3))
    if scope is CapScope.PRIVATE and not addresses:
        addresses = ("operator@example.invalid",)
    return CapAlert(
        identifier=draw(TOKEN), sender=draw(TOKEN), sent=draw(TIMES),
        status=draw(st.sampled_from(CapStatus)), msg_type=draw(st.sampled_from(CapMsgType)),
        source=draw(maybe(TEXT)), scope=scope, restriction=draw(maybe(TEXT)),
        addresses=addresses, codes=draw(tuples_of(TEXT)), note=draw(maybe(TEXT)),
        references=draw(tuples_of(st.builds(CapReference, sender=TOKEN, identifier=TOKEN,
                                            sent=TIMES))),
        incidents=draw(tuples_of(NAME)), infos=draw(tuples_of(INFOS)),
    )


@settings(max_examples=300, deadline=None)
@given(alert=alerts())
def test_generated_alerts_round_trip(alert: CapAlert) -> None:
    document = export_cap(alert)
    assert parse_cap(document, max_bytes=len(document)) == alert
    assert export_cap(parse_cap(document)) == document
    assert_schema_ordered(document)
    assert is_message_id(cap_message_id(alert))


def test_cap_types_do_not_import_the_message_model() -> None:
    # incidents.model imports incidents.cap (Inbound carries CAP alerts); the reverse would be
    # the import cycle this layout removed.
    imported = {node.module for node in ast.walk(ast.parse(Path(cap_module.__file__ or "")
                                                           .read_text("utf-8")))
                if isinstance(node, ast.ImportFrom)}
    assert "incidents.model" not in imported
    assert {"incidents.primitives", "incidents.geo"} <= imported
