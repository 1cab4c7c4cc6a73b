"""Fixtures of the ingest unit tests: the rule engine on the test rules."""

from __future__ import annotations

import pytest

from ingest.rules import RuleEngine, RuleSet, parse_rules
from tests.support.rules import TEST_RULES, FakeClock, Rig


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    """The test rules, parsed once per module."""
    return parse_rules(TEST_RULES, "test_rules.toml")


@pytest.fixture
def rig(rules: RuleSet) -> Rig:
    """A fresh engine on the test rules, at START."""
    clock = FakeClock()
    return Rig(RuleEngine(rules, clock), clock)
