"""The scalar types and the severity level under every domain record, CAP alerts included.

`incidents.model` and `incidents.cap` both build on this module (and re-export nothing of each
other), which keeps the two free of an import cycle. Import these from `incidents.model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from incidents.lang import Bilingual, Lang, checked, pick

Latitude = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0, description="WGS-84 latitude, degrees")]
Longitude = Annotated[
    float, msgspec.Meta(ge=-180.0, le=180.0, description="WGS-84 longitude, degrees")
]
Timestamp = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 time with offset")]


class Level(StrEnum):
    """Severity of an incident, I (特别重大) is the most severe."""

    I = "I"  # noqa: E741 - the official name of the level
    II = "II"
    III = "III"
    IV = "IV"

    @property
    def colour(self) -> str:
        """Map colour of the level, as the national scheme prescribes."""
        return _LEVEL_COLOURS[self]

    def label(self, lang: Lang) -> str:
        """Name of the level (特别重大 … 一般) without its numeral."""
        return pick(_LEVEL_LABELS[self], lang)

    @property
    def label_zh(self) -> str:
        """Chinese name of the level."""
        return _LEVEL_LABELS[self][0]

    @property
    def label_en(self) -> str:
        """English name of the level."""
        return _LEVEL_LABELS[self][1]


_LEVEL_COLOURS = {
    Level.I: "#d7191c", Level.II: "#f07c00", Level.III: "#f5c400", Level.IV: "#2b83ba"
}
_LEVEL_LABELS: Mapping[Level, Bilingual] = checked({
    Level.I: ("特别重大", "Particularly serious"), Level.II: ("重大", "Serious"),
    Level.III: ("较大", "Major"), Level.IV: ("一般", "General"),
}, Level)
