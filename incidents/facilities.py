"""Kinds of facility the layers hold and decision support counts, named in both languages.

The codes are the `kind` of facility features (hospital, school …); maps.features maps the
Chinese names met in registers onto them. Facilities of kinds not listed here keep their code.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from incidents.lang import Bilingual, Lang, checked, pick


class FacilityKind(StrEnum):
    """A kind of facility (重点目标) near an incident."""

    HOSPITAL = "hospital"
    SCHOOL = "school"
    KINDERGARTEN = "kindergarten"
    NURSING_HOME = "nursing_home"
    SHELTER = "shelter"
    HAZARDOUS_SITE = "hazardous_site"
    CHEMICAL_PARK = "chemical_park"
    RESERVOIR = "reservoir"
    HYDRANT = "hydrant"
    FIRE_STATION = "fire_station"
    CAMERA = "camera"
    RIVER_GAUGE = "river_gauge"

    def label(self, lang: Lang) -> str:
        """The kind's name, plural in English ("Hospitals"); lower-case it mid-sentence."""
        return pick(_LABELS[self], lang)


_LABELS: Mapping[FacilityKind, Bilingual] = checked({
    FacilityKind.HOSPITAL: ("医院", "Hospitals"),
    FacilityKind.SCHOOL: ("学校", "Schools"),
    FacilityKind.KINDERGARTEN: ("幼儿园", "Kindergartens"),
    FacilityKind.NURSING_HOME: ("养老机构", "Care homes"),
    FacilityKind.SHELTER: ("应急避难场所", "Shelters"),
    FacilityKind.HAZARDOUS_SITE: ("重大危险源", "Hazardous sites"),
    FacilityKind.CHEMICAL_PARK: ("化工园区", "Chemical parks"),
    FacilityKind.RESERVOIR: ("水库", "Reservoirs"),
    FacilityKind.HYDRANT: ("消火栓", "Hydrants"),
    FacilityKind.FIRE_STATION: ("消防站", "Fire stations"),
    FacilityKind.CAMERA: ("视频监控点", "Cameras"),
    FacilityKind.RIVER_GAUGE: ("水文站", "River gauges"),
}, FacilityKind)

_CODES = frozenset(kind.value for kind in FacilityKind)


def facility_kind_name(code: str, lang: Lang) -> str:
    """The name of a facility kind code; the code itself for a kind without a name."""
    return FacilityKind(code).label(lang) if code in _CODES else code
