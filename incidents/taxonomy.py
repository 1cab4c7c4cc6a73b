"""The incident taxonomy (config/taxonomy.toml): categories, incident types, agencies, units.

China's 突发事件 classification has four categories (自然灾害, 事故灾难, 公共卫生事件,
社会安全事件); each incident type (the `incidents.type` column) belongs to one. The same file
names the agencies (部门) and the kinds of units they send, which response plans refer to.
Everything is checked once at load; inside, the data is trusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Final

import msgspec

from incidents.cap import CapCategory
from incidents.lang import Bilingual, Lang, pick
from incidents.model import Code

TAXONOMY_PACKAGE: Final = "config"
TAXONOMY_FILE: Final = "taxonomy.toml"

NonBlank = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=r"\S")]
"""A user-facing text: at least one character that is not white space."""
GbtCode = Annotated[str, msgspec.Meta(min_length=1, max_length=16, pattern=r"^[0-9A-Z]+\Z")]
"""A code from GB/T 35561-2017 (digits and capital letters)."""


class Category(StrEnum):
    """The four categories of 突发事件 (Emergency Response Law, art. 3); their names are in
    the taxonomy file (`Taxonomy.categories`), which must name every one."""

    NATURAL_DISASTER = "natural_disaster"
    ACCIDENT = "accident"
    PUBLIC_HEALTH = "public_health"
    SOCIAL_SECURITY = "social_security"


RECORDERS: Mapping[str, Bilingual] = {
    "command": ("应急指挥中心", "Command centre"), "rules": ("自动研判", "Automatic rules"),
}
"""Who records incidents and orders besides the agencies: the command centre's own desk and
the rules. Their codes stand where an agency code would."""


class Text(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A user-facing text in Simplified Chinese (zh-CN, shown first) and English."""

    zh: NonBlank
    """Simplified Chinese."""
    en: NonBlank
    """English."""

    def get(self, lang: str) -> str:
        """The text for a language tag: any Chinese tag (zh, zh-CN, zh_Hans) gives zh, else en."""
        primary = lang.strip().replace("_", "-").partition("-")[0].casefold()
        return self.zh if primary == "zh" else self.en


class IncidentType(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A kind of incident (事件类型), the value of `incidents.type`."""

    code: Code
    """Short snake_case code, e.g. chemical_leak."""
    category: Category
    """Which of the four 突发事件 categories it belongs to."""
    name: Text
    """Display name."""
    cap_category: CapCategory
    """CAP 1.2 `<category>` of alerts about it."""
    cap_event: Text
    """CAP 1.2 `<event>` text of alerts about it."""
    gbt_code: GbtCode | None = None
    """GB/T 35561-2017 code, when it is known for certain; none otherwise."""


class UnitKind(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A kind of field unit (车辆 / 队伍) that an agency sends, e.g. fire_engine."""

    code: Code
    """Short snake_case code; positions carry it as `unit_type`."""
    agency: Code
    """Code of the agency that owns units of this kind."""
    name: Text
    """Display name."""


class _TaxonomyFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The layout of config/taxonomy.toml."""

    categories: dict[Category, Text] = msgspec.field(name="category")
    """Name of each category, keyed by its code."""
    agencies: dict[Code, Text] = msgspec.field(name="agency")
    """Name of each agency, keyed by its code."""
    unit_kinds: tuple[UnitKind, ...] = msgspec.field(name="unit_kind")
    """Unit kinds, one [[unit_kind]] table each."""
    types: tuple[IncidentType, ...] = msgspec.field(name="type")
    """Incident types, one [[type]] table each."""


CAP_ALERT_TYPE = "cap_alert"
"""The type of an incident a CAP alert opens (incidents/store/cap.py), whatever its event."""
SYSTEM_TYPE_NAMES = {CAP_ALERT_TYPE: Text(zh="预警信息", en="Public warning")}
"""Names of the types the system files outside the taxonomy."""


class TaxonomyError(ValueError):
    """The taxonomy is unreadable or inconsistent, or a code is unknown; the message says where."""


class Taxonomy(msgspec.Struct, frozen=True, kw_only=True):
    """Categories, incident types, agencies and unit kinds, each keyed by code in file order."""

    categories: Mapping[Category, Text]
    """Name of each of the four categories."""
    types: Mapping[str, IncidentType]
    """Incident types by code."""
    agencies: Mapping[str, Text]
    """Agency names by code (police, fire, health …)."""
    unit_kinds: Mapping[str, UnitKind]
    """Unit kinds by code (patrol_car, fire_engine, ambulance …)."""

    def incident_type(self, code: str) -> IncidentType:
        """The incident type of `code`, or a TaxonomyError naming it and the known codes.

        There is deliberately no fallback "other" type: it would have to sit in one of the
        four categories and would silently misfile a misspelt code. Callers that take types
        from open-ended input (alarm types, CAP events) test `code in taxonomy.types` first.
        """
        try:
            return self.types[code]
        except KeyError:
            raise TaxonomyError(f"unknown incident type {code!r}; known types: "
                                f"{', '.join(sorted(self.types))}") from None

    def type_name(self, code: str) -> Text:
        """The name of a type the taxonomy knows or the system files itself (a CAP alert's
        warning); the code itself, in both languages, for anything else."""
        found = self.types.get(code)
        if found is not None:
            return found.name
        return SYSTEM_TYPE_NAMES.get(code) or Text(zh=code, en=code)

    def agency_name(self, code: str, lang: Lang, *, short: bool = False) -> str:
        """An agency's (or recorder's) name; `short` drops the part in brackets (for compact
        tables and the wall); the code itself for one nobody named."""
        found = self.agencies.get(code)
        if found is None:
            return pick(RECORDERS[code], lang) if code in RECORDERS else code
        text = found.get(lang.value)
        return text.split("（")[0].split(" (")[0] if short else text

    def types_in(self, category: Category) -> tuple[IncidentType, ...]:
        """The incident types of one category, in file order."""
        return tuple(t for t in self.types.values() if t.category is category)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Load and check `path`, or the taxonomy shipped in config/taxonomy.toml."""
    if path is None:
        resource = resources.files(TAXONOMY_PACKAGE) / TAXONOMY_FILE
        return parse_taxonomy(resource.read_text("utf-8"), f"{TAXONOMY_PACKAGE}/{TAXONOMY_FILE}")
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"{path}: cannot read the taxonomy file: {exc}") from exc
    return parse_taxonomy(text, str(path))


def parse_taxonomy(text: str, source: str = "<taxonomy>") -> Taxonomy:
    """Parse and check the TOML text of a taxonomy file; `source` names it in errors."""
    try:
        raw = msgspec.toml.decode(text, type=_TaxonomyFile)
    except msgspec.ValidationError as exc:
        raise TaxonomyError(f"{source}: {exc}{decode_hint(str(exc))}") from exc
    except msgspec.DecodeError as exc:
        raise TaxonomyError(f"{source}: not valid TOML: {exc}") from exc
    problems = list(_problems(raw))
    if problems:
        raise TaxonomyError(f"{source}: " + "; ".join(problems))
    return Taxonomy(
        categories={c: raw.categories[c] for c in Category},
        types={t.code: t for t in raw.types},
        agencies=dict(raw.agencies),
        unit_kinds={k.code: k for k in raw.unit_kinds},
    )


def decode_hint(error: str) -> str:
    """What to do about a type error msgspec reports, where its message alone is terse."""
    if "unknown field" in error:
        return " (misspelt, or not a key there: incidents/taxonomy.py and plans.py list the keys)"
    if "missing required field" in error:
        return " (add the key)"
    if "matching regex" in error:
        return " (codes are lower-case snake_case; texts need a visible character)"
    if "enum value" in error:
        return f" (choose one of {_enum_choices(error)})"
    return ""


def _enum_choices(error: str) -> str:
    """The values allowed where an enum error points: levels, categories or CAP categories."""
    if "category" in error and "cap_category" not in error:
        return ", ".join(Category)
    if "cap_category" in error:
        return ", ".join(CapCategory)
    return "I, II, III, IV"


def _problems(raw: _TaxonomyFile) -> Iterator[str]:
    """Every inconsistency msgspec's types cannot express, each with its key path."""
    for category in Category:
        if category not in raw.categories:
            yield f"$.category: no name for category {category.value!r}; add [category.{category}]"
    yield from duplicates("$.unit_kind", "code", (k.code for k in raw.unit_kinds))
    for i, kind in enumerate(raw.unit_kinds):
        if kind.agency not in raw.agencies:
            yield (f"$.unit_kind[{i}].agency ({kind.code}): unknown agency {kind.agency!r}; "
                   f"add it under [agency] or use one of {sorted(raw.agencies)}")
    yield from duplicates("$.type", "code", (t.code for t in raw.types))
    if not raw.types:
        yield "$.type: no incident types; add [[type]] tables"


def duplicates(where: str, what: str, values: Iterable[str]) -> Iterator[str]:
    """A problem for each value seen before, naming the list and the index of the repeat."""
    field = f".{what}" if what else ""
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            yield f"{where}[{i}]{field}: {value!r} appears more than once; it must be unique"
        seen.add(value)
