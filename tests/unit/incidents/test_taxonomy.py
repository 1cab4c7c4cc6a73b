"""The incident taxonomy: the shipped file, lookups, bilingual texts and load-time checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from incidents.cap import CapCategory
from incidents.taxonomy import (
    CAP_ALERT_TYPE,
    Category,
    Taxonomy,
    TaxonomyError,
    Text,
    load_taxonomy,
    parse_taxonomy,
)
from ingest.rules import load_rules
from ingest.simulator import FLEETS, REPORTS

CJK = re.compile(r"[\u4e00-\u9fff]")

# Types the running system raises today: the simulator's reports and the rules' defaults.
RAISED = ("flood", "chemical_leak", "gas_leak", "fire", "traffic_accident", "crowd", "medical")
REQUIRED = RAISED + ("earthquake", "rainstorm", "landslide", "forest_fire", "building_collapse",
                     "explosion", "mine_accident", "epidemic", "food_poisoning",
                     "public_security")

MINIMAL = """
[category]
natural_disaster = { zh = "自然灾害", en = "Natural disaster" }
accident = { zh = "事故灾难", en = "Accident" }
public_health = { zh = "公共卫生事件", en = "Public health" }
social_security = { zh = "社会安全事件", en = "Social security" }

[agency]
fire = { zh = "消防", en = "Fire" }

[[unit_kind]]
code = "fire_engine"
agency = "fire"
name = { zh = "消防车", en = "Fire engine" }

[[type]]
code = "fire"
category = "accident"
name = { zh = "火灾", en = "Fire" }
cap_category = "Fire"
cap_event = { zh = "火灾", en = "Fire" }
"""


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    """The shipped taxonomy."""
    return load_taxonomy()


def write(tmp_path: Path, text: str) -> Path:
    """A taxonomy file with `text` in tmp_path."""
    path = tmp_path / "taxonomy.toml"
    path.write_text(text, "utf-8")
    return path


def all_texts(taxonomy: Taxonomy) -> list[tuple[str, Text]]:
    """Every user-facing text of the taxonomy, with where it is."""
    texts = [(f"category {c}", t) for c, t in taxonomy.categories.items()]
    texts += [(f"agency {a}", t) for a, t in taxonomy.agencies.items()]
    texts += [(f"unit kind {k.code}", k.name) for k in taxonomy.unit_kinds.values()]
    for t in taxonomy.types.values():
        texts += [(f"type {t.code} name", t.name), (f"type {t.code} cap_event", t.cap_event)]
    return texts


def test_shipped_taxonomy_has_all_categories_and_a_city_sized_set_of_types(
        taxonomy: Taxonomy) -> None:
    assert set(taxonomy.categories) == set(Category)
    assert 20 <= len(taxonomy.types) <= 30
    for category in Category:
        assert taxonomy.types_in(category), f"no incident type in {category}"
    assert taxonomy.categories[Category.ACCIDENT].zh == "事故灾难"


@pytest.mark.parametrize("code", REQUIRED)
def test_required_types_resolve(taxonomy: Taxonomy, code: str) -> None:
    incident_type = taxonomy.incident_type(code)
    assert incident_type.code == code
    assert isinstance(incident_type.cap_category, CapCategory)


def test_types_are_in_the_expected_categories(taxonomy: Taxonomy) -> None:
    assert taxonomy.incident_type("flood").category is Category.NATURAL_DISASTER
    assert taxonomy.incident_type("earthquake").cap_category is CapCategory.GEO
    assert taxonomy.incident_type("chemical_leak").category is Category.ACCIDENT
    assert taxonomy.incident_type("epidemic").category is Category.PUBLIC_HEALTH
    assert taxonomy.incident_type("crowd").category is Category.SOCIAL_SECURITY
    assert [t.code for t in taxonomy.types_in(Category.PUBLIC_HEALTH)][0] == "medical"


def test_every_type_the_rules_and_simulator_raise_resolves(taxonomy: Taxonomy) -> None:
    rules = load_rules()
    raised = {rules.river.type, *(g.type for g in rules.gases),
              *(a.incident for a in rules.alarms), *(t.type for t in rules.reports.types),
              *(kind for kind, _, _ in REPORTS)}
    assert set(RAISED) <= raised
    assert raised - set(taxonomy.types) == set()


def test_simulator_agencies_and_unit_kinds_exist(taxonomy: Taxonomy) -> None:
    for fleet in FLEETS:
        assert taxonomy.unit_kinds[fleet.unit_type].agency == fleet.agency
    for _, agency, _ in REPORTS:
        assert agency in taxonomy.agencies
    feed_agencies = {"police", "fire", "weather", "water", "safety", "civil_defence", "health",
                     "transport"}
    assert feed_agencies <= set(taxonomy.agencies)


def test_every_unit_kind_belongs_to_a_known_agency(taxonomy: Taxonomy) -> None:
    for kind in taxonomy.unit_kinds.values():
        assert kind.agency in taxonomy.agencies
    needed = {"patrol_car", "traffic_police", "special_police", "fire_engine", "aerial_ladder",
              "hazmat_unit", "rescue_team", "ambulance", "medical_team", "epidemic_team",
              "pump_truck", "hydrology_team", "safety_inspector", "emergency_supply",
              "civil_defence_team"}
    assert needed <= set(taxonomy.unit_kinds)


def test_every_text_is_bilingual_with_chinese_first(taxonomy: Taxonomy) -> None:
    for where, text in all_texts(taxonomy):
        assert text.zh.strip() and text.en.strip(), where
        assert CJK.search(text.zh), f"{where}: zh text has no Chinese: {text.zh!r}"
        assert not CJK.search(text.en), f"{where}: en text has Chinese: {text.en!r}"


def test_gbt_codes_are_absent_or_well_formed(taxonomy: Taxonomy) -> None:
    # The shipped file leaves them out until they are checked against the standard.
    for incident_type in taxonomy.types.values():
        code = incident_type.gbt_code
        assert code is None or re.fullmatch(r"[0-9A-Z]+", code)


def test_unknown_type_names_the_code_and_lists_the_known_ones(taxonomy: Taxonomy) -> None:
    with pytest.raises(TaxonomyError) as caught:
        taxonomy.incident_type("volcano")
    message = str(caught.value)
    assert "'volcano'" in message
    assert "flood" in message and "traffic_accident" in message


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh", "火灾"), ("zh-CN", "火灾"), ("zh_Hans", "火灾"), ("ZH-cn", "火灾"), (" zh ", "火灾"),
    ("en", "Fire"), ("en-GB", "Fire"), ("fr", "Fire"), ("", "Fire"), ("zhx", "Fire"),
])
def test_text_picks_the_language(lang: str, expected: str) -> None:
    assert Text(zh="火灾", en="Fire").get(lang) == expected


def test_minimal_file_loads(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(write(tmp_path, MINIMAL))
    assert list(taxonomy.types) == ["fire"]
    assert taxonomy.unit_kinds["fire_engine"].name.get("zh-CN") == "消防车"


def test_unknown_key_is_refused_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + 'colour = "red"\n')
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(path)
    message = str(caught.value)
    assert str(path) in message
    assert "unknown field `colour`" in message and "$.type[0]" in message


def test_unknown_agency_of_a_unit_kind_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace('agency = "fire"', 'agency = "firee"')
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(write(tmp_path, text))
    assert "$.unit_kind[0].agency (fire_engine): unknown agency 'firee'" in str(caught.value)


def test_unknown_category_of_a_type_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace('category = "accident"', 'category = "accidents"')
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(write(tmp_path, text))
    message = str(caught.value)
    assert "$.type[0].category" in message and "natural_disaster" in message


def test_missing_category_name_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace('public_health = { zh = "公共卫生事件", en = "Public health" }\n', "")
    with pytest.raises(TaxonomyError, match=r"\$\.category: no name for category "
                                            r"'public_health'"):
        load_taxonomy(write(tmp_path, text))


def test_duplicate_codes_are_refused(tmp_path: Path) -> None:
    text = MINIMAL + MINIMAL[MINIMAL.index("[[type]]"):]
    text += MINIMAL[MINIMAL.index("[[unit_kind]]"):MINIMAL.index("[[type]]")]
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(write(tmp_path, text))
    message = str(caught.value)
    assert "$.type[1].code: 'fire' appears more than once" in message
    assert "$.unit_kind[1].code: 'fire_engine' appears more than once" in message


def test_duplicate_agency_key_is_refused_by_toml(tmp_path: Path) -> None:
    text = MINIMAL.replace('[agency]\n', '[agency]\nfire = { zh = "火", en = "F" }\n')
    with pytest.raises(TaxonomyError, match="not valid TOML"):
        load_taxonomy(write(tmp_path, text))


def test_blank_text_and_bad_code_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match=r"\$\.type\[0\]\.name\.zh"):
        load_taxonomy(write(tmp_path, MINIMAL.replace('zh = "火灾", en = "Fire" }\ncap_category',
                                                      'zh = "  ", en = "Fire" }\ncap_category')))
    with pytest.raises(TaxonomyError, match=r"\$\.type\[0\]\.code.*snake_case"):
        load_taxonomy(write(tmp_path, MINIMAL.replace('code = "fire"\n', 'code = "Fire"\n')))


def test_unknown_cap_category_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace('cap_category = "Fire"', 'cap_category = "Flames"')
    with pytest.raises(TaxonomyError, match=r"\$\.type\[0\]\.cap_category.*CBRNE"):
        load_taxonomy(write(tmp_path, text))


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(TaxonomyError, match="nope.toml: cannot read"):
        load_taxonomy(missing)


def test_parse_names_the_source() -> None:
    with pytest.raises(TaxonomyError, match=r"^<test>: not valid TOML"):
        parse_taxonomy("[category", "<test>")


def test_a_cap_warning_and_an_unknown_type_are_named() -> None:
    taxonomy = load_taxonomy()
    warning = taxonomy.type_name(CAP_ALERT_TYPE)
    assert (warning.zh, warning.en) == ("预警信息", "Public warning")
    assert taxonomy.type_name("fire") == taxonomy.incident_type("fire").name
    assert (taxonomy.type_name("no_such").zh, taxonomy.type_name("no_such").en) == (
        "no_such", "no_such")
