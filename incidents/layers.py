"""Stored map layers as records: a layer's metadata, and why a layer write was refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incidents.errors import StoreError


class LayerExists(StoreError):
    """A layer of that name exists and replacing it was not asked for."""


class LayerNotFound(StoreError):
    """No layer of that name."""


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """A stored layer's metadata."""

    name: str
    """Layer name, unique."""
    kind: str
    """Layer kind (maps.layers.LayerKind value)."""
    source_crs: str
    """CRS of the imported file: EPSG:xxxx, gcj02 or bd09; stored geometry is WGS-84."""
    feature_count: int
    """Number of features."""
    imported_at: datetime
    """When the layer was (last) imported."""
    attribution: str
    """Source and licence of the data."""
    synthetic: bool
    """True for invented demo data."""
