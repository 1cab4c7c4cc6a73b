"""Dead letters as the store keeps them: the letter, its row and whether it was replayed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incidents.model import DeadLetter


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A dead letter as stored, with its row id."""

    row_id: int
    """The row's id (what a replay names)."""
    letter: DeadLetter
    """The letter: the message and why it was refused."""
    replayed_at: datetime | None
    """When it was replayed; None while it waits."""
