"""docs/feeds.md is generated from the code's types and must match them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec

from incidents.model import Kind, Position, Report
from ingest.feeds_doc import _EXAMPLES, render

DOC = Path(__file__).resolve().parents[3] / "docs" / "feeds.md"


def test_docs_feeds_md_is_current() -> None:
    assert DOC.read_text("utf-8") == render(), (
        "docs/feeds.md is stale: run `python -m ingest.feeds_doc > docs/feeds.md`"
    )


def test_every_documented_example_decodes_with_the_real_types() -> None:
    assert isinstance(msgspec.json.decode(json.dumps(_EXAMPLES[Kind.POSITION]), type=Position),
                      Position)
    assert isinstance(msgspec.json.decode(json.dumps(_EXAMPLES[Kind.REPORT]), type=Report),
                      Report)


def test_published_patterns_are_ecma_regexes() -> None:
    patterns = re.findall(r'"pattern": "([^"]*)"', render())
    assert patterns and all("\\\\Z" not in p for p in patterns)
    # Anchored patterns end with `$` (ECMA), never Python's `\Z`; "\S" (non-blank) is unanchored.
    assert all(p.endswith("$") for p in patterns if p.startswith("^"))
