"""The PostgreSQL store: the only package that speaks SQL."""

from incidents.deadletters import StoredDeadLetter
from incidents.feeds import BatchResult
from incidents.store.errors import StoreError, StoreUnavailable
from incidents.store.store import Store, ensure_database, migrations

__all__ = [
    "BatchResult", "Store", "StoreError", "StoreUnavailable", "StoredDeadLetter",
    "ensure_database", "migrations",
]
