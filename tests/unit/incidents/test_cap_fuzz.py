"""CAP 1.2 parsing of hostile input: nothing but CapError ever escapes."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.cap import (
    cap_message_id,
    references_ids,
)
from incidents.cap_xml import CapError, CapReason, parse_cap
from tests.unit.incidents.cap_samples import (
    VALID,
    XML_CHARS,
    is_message_id,
    payload_of,
)

# --- fuzzing -------------------------------------------------------------------------------------

VALID_PAYLOADS = [payload_of(name) for name in VALID]


def assert_cap_or_cap_error(payload: bytes) -> None:
    try:
        alert = parse_cap(payload)
    except CapError as exc:
        assert exc.reason in set(CapReason) and exc.detail
        assert exc.message_id is None or is_message_id(exc.message_id)
        return
    assert is_message_id(cap_message_id(alert))
    assert all(is_message_id(ref) for ref in references_ids(alert))


@st.composite
def spliced(draw: st.DrawFn) -> bytes:
    """A valid alert with a stretch of it replaced by random bytes or XML-ish tokens."""
    base = draw(st.sampled_from(VALID_PAYLOADS))
    start = draw(st.integers(0, len(base)))
    end = draw(st.integers(start, min(len(base), start + 40)))
    filler = draw(st.binary(max_size=12) | st.sampled_from(
        [b"", b"<", b">", b"&", b"&amp;", b"&#0;", b"&#x1F600;", b"<![CDATA[x]]>", b"<!--",
         b"<!DOCTYPE alert>", b"<x/>", b"</info>", b"<info>", b"\xff", b"\xe6\x9a",
         b'xmlns="urn:x"', b"<?pi x?>", b"\x00"]))
    return base[:start] + filler + base[end:]


LEAF = re.compile(r">([^<>]*)</")
TRICKY_VALUES = ["", " ", "Z", "-00:00", "1e5", "NaN", "inf", "-inf", "１２", "90.0000001,0",
                 "0,0 0,0 0,0 0,0", "1,2,3", "a,b,c", '"', '""', "9" * 30, "-0", ".5", "5.",
                 "2025-07-29T10:30:00+23:59", "0000-01-01T00:00:00+00:00", "Unknown", "None"]


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def leaf_replaced(draw: st.DrawFn) -> bytes:
    """A valid alert with the text of one element replaced by a random or tricky value."""
    text = draw(st.sampled_from(VALID_PAYLOADS)).decode("utf-8")
    leaves = list(LEAF.finditer(text))
    leaf = draw(st.sampled_from(leaves))
    value = draw(st.sampled_from(TRICKY_VALUES) | st.text(XML_CHARS, max_size=20))
    return (text[:leaf.start(1)] + xml_escape(value) + text[leaf.end(1):]).encode("utf-8")


@settings(max_examples=700, deadline=None)
@given(payload=st.binary(max_size=400))
def test_parse_never_raises_but_cap_error_on_arbitrary_bytes(payload: bytes) -> None:
    assert_cap_or_cap_error(payload)


@settings(max_examples=700, deadline=None)
@given(payload=spliced())
def test_parse_never_raises_but_cap_error_on_spliced_alerts(payload: bytes) -> None:
    assert_cap_or_cap_error(payload)


@settings(max_examples=700, deadline=None)
@given(payload=leaf_replaced())
def test_parse_never_raises_but_cap_error_on_replaced_values(payload: bytes) -> None:
    assert_cap_or_cap_error(payload)
