"""Rules that raise or update incidents automatically (config/rules.toml).

A river gauge above its 警戒水位 / 保证水位, a gas above its limit at a registered hazardous
site (重大危险源), an alarm from a device inside a sensitive area, and reports of one type
close in space and time (correlated into one incident). No I/O: `RuleEngine.evaluate` turns
a message into outcomes, with time from an injected clock.
"""

from incidents.outcomes import (
    Change,
    Correlated,
    KeyedIncident,
    OpenIncident,
    Outcome,
    Rule,
    UpdateIncident,
    area_key,
    gauge_key,
    report_key,
    site_key,
)
from ingest.rules.config import RulesError, RuleSet, load_rules, parse_rules
from ingest.rules.engine import RuleEngine

__all__ = [
    "Change",
    "Correlated",
    "KeyedIncident",
    "OpenIncident",
    "Outcome",
    "Rule",
    "RuleEngine",
    "RuleSet",
    "RulesError",
    "UpdateIncident",
    "area_key",
    "gauge_key",
    "load_rules",
    "parse_rules",
    "report_key",
    "site_key",
]
