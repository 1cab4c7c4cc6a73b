"""The topic scheme: building and parsing feed, receipt and dispatch topics."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.model import Kind
from ingest.topics import TopicError, TopicScheme

AGENCIES = frozenset({"police", "fire", "health", "civil_defence"})
SCHEME = TopicScheme(root="sitroom/v1", agencies=AGENCIES)
CITY = TopicScheme(root="city/x/v1", agencies=AGENCIES)


def refusal(scheme: TopicScheme, topic: str) -> TopicError:
    with pytest.raises(TopicError) as caught:
        scheme.parse(topic)
    return caught.value


def test_feed_topic_layout() -> None:
    assert SCHEME.feed("police", Kind.POSITION, "gw01") == "sitroom/v1/police/position/gw01"
    assert SCHEME.feed("fire", "report", "119-desk") == "sitroom/v1/fire/report/119-desk"


def test_receipts_and_dispatch_topic_layout() -> None:
    assert SCHEME.receipts("gw01") == "sitroom/v1/receipts/gw01"
    assert SCHEME.dispatch("xf-qiaodong-03") == "sitroom/v1/command/dispatch/xf-qiaodong-03"


@pytest.mark.parametrize("kind", list(Kind), ids=[k.value for k in Kind])
def test_every_kind_round_trips(kind: Kind) -> None:
    agency, parsed, source = SCHEME.parse(SCHEME.feed("health", kind, "amb-xt-12"))
    assert (agency, parsed, source) == ("health", kind, "amb-xt-12")
    assert parsed is kind


def test_root_with_several_segments() -> None:
    topic = CITY.feed("civil_defence", Kind.ALARM, "siren.07")
    assert topic == "city/x/v1/civil_defence/alarm/siren.07"
    assert CITY.parse(topic) == ("civil_defence", Kind.ALARM, "siren.07")
    assert CITY.subscription == "city/x/v1/+/+/+"
    assert CITY.receipts("siren.07") == "city/x/v1/receipts/siren.07"
    assert CITY.dispatch("u1") == "city/x/v1/command/dispatch/u1"


def test_shorter_root_does_not_swallow_a_longer_one() -> None:
    shorter = TopicScheme(root="city/x", agencies=AGENCIES)
    assert refusal(shorter, "city/x/v1/police/position/gw01").reason == "bad_topic"
    assert refusal(SCHEME, "city/x/v1/police/position/gw01").reason == "bad_topic"


ROOTS = st.sampled_from(["sitroom/v1", "city/x/v1", "a", "xingtai/emergency/prod/v2"])
SOURCES = st.from_regex(r"[A-Za-z0-9._\-]{1,64}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(root=ROOTS, agency=st.sampled_from(sorted(AGENCIES)), kind=st.sampled_from(list(Kind)),
       source=SOURCES)
def test_feed_and_parse_round_trip(root: str, agency: str, kind: Kind, source: str) -> None:
    scheme = TopicScheme(root=root, agencies=AGENCIES)
    topic = scheme.feed(agency, kind, source)
    assert scheme.parse(topic) == (agency, kind, source)
    assert not scheme.is_own_output(topic)


def test_subscription_filter() -> None:
    assert SCHEME.subscription == "sitroom/v1/+/+/+"


def test_own_output_is_receipts_and_commands() -> None:
    assert SCHEME.is_own_output(SCHEME.receipts("gw01"))
    assert SCHEME.is_own_output(SCHEME.dispatch("patrol-0417"))
    assert SCHEME.is_own_output("sitroom/v1/command/anything/else")


@pytest.mark.parametrize(
    "topic",
    [
        "sitroom/v1/police/position/gw01",
        "other/v1/receipts/gw01",
        "city/x/v1/command/dispatch/u1",
        "sitroom/v1receipts/gw01",
        "sitroom/v1/receiptsx/gw01",
        "sitroom/v1/police/receipts/gw01",
        "receipts/gw01",
    ],
)
def test_other_topics_are_not_own_output(topic: str) -> None:
    assert not SCHEME.is_own_output(topic)


@pytest.mark.parametrize(
    "topic",
    [
        "sitroom/v2/police/position/gw01",
        "sitroom/v10/police/position/gw01",
        "Sitroom/v1/police/position/gw01",
        "sitroom/v1",
        "sitroom/v1/police",
        "sitroom/v1/police/position",
        "sitroom/v1/police/position/gw01/more",
        "sitroom/v1/receipts/gw01",
    ],
)
def test_topics_of_the_wrong_shape_are_bad(topic: str) -> None:
    error = refusal(SCHEME, topic)
    assert error.reason == "bad_topic"
    assert error.detail == str(error)


def test_unknown_agency_names_the_known_ones() -> None:
    error = refusal(SCHEME, "sitroom/v1/railway/position/gw01")
    assert error.reason == "unknown_agency"
    assert "railway" in error.detail
    assert "civil_defence, fire, health, police" in error.detail


@pytest.mark.parametrize("kind", ["Position", "positions", "video", ""])
def test_unknown_kind(kind: str) -> None:
    error = refusal(SCHEME, f"sitroom/v1/police/{kind}/gw01")
    assert error.reason == "unknown_kind"
    assert "position" in error.detail


@pytest.mark.parametrize(
    "source",
    ["", "gw 01", "gw#01", "gw+01", "gw$01", "接警台", "gw01\t", "x" * 65, "gw01\n"],
    ids=["empty", "space", "hash", "plus", "dollar", "chinese", "tab", "65-chars",
         "trailing-newline"],
)
def test_sources_with_illegal_characters_are_refused(source: str) -> None:
    error = refusal(SCHEME, f"sitroom/v1/police/position/{source}")
    assert error.reason == "bad_topic"


def test_source_of_64_characters_is_accepted() -> None:
    source = "x" * 64
    assert SCHEME.parse(f"sitroom/v1/police/position/{source}")[2] == source


def test_topic_error_is_a_value_error() -> None:
    error = refusal(SCHEME, "nowhere")
    assert isinstance(error, ValueError)


def test_scheme_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SCHEME.root = "other"  # type: ignore[misc]
