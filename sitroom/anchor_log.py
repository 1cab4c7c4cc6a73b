"""The file the journal's anchors are appended to (one signed JSON line each)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from incidents.anchors import Anchor, decode, encode, genuine


@dataclass(frozen=True, slots=True)
class AnchorRead:
    """What the anchor file holds."""

    newest: Anchor | None
    """The genuine anchor with the highest seq; None when there is none."""
    genuine: int
    """How many lines are genuine anchors."""
    refused: int
    """Lines that are not anchors signed with this key (edited, forged, or torn by a crash)."""


def append(path: Path, anchor: Anchor) -> None:
    """Append one anchor and make it durable before returning (file mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, encode(anchor) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: Path, key: bytes) -> AnchorRead:
    """Every line of the file, checked with the key; an absent file holds nothing."""
    if not path.exists():
        return AnchorRead(newest=None, genuine=0, refused=0)
    newest: Anchor | None = None
    good = bad = 0
    with path.open("rb") as lines:
        for line in lines:
            if not line.strip():
                continue
            anchor = decode(line)
            if anchor is None or not genuine(key, anchor):
                bad += 1
                continue
            good += 1
            if newest is None or anchor.seq > newest.seq:
                newest = anchor
    return AnchorRead(newest=newest, genuine=good, refused=bad)
