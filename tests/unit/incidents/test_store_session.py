"""The pool's session set-up covers every array type the store's SQL sends."""

from __future__ import annotations

import re
from pathlib import Path

import incidents.store
from incidents.store import feeds
from incidents.store.session import ARRAY_TYPES


def test_every_array_parameter_type_in_the_store_is_learnt_when_a_connection_opens() -> None:
    folder = Path(incidents.store.__file__).parent
    used = {match.group(1) for path in folder.glob("*.py") if path.name != "session.py"
            for match in re.finditer(r"::(\w+)\[\]", path.read_text("utf-8"))}
    assert "uuid" in used and "bigint" in used  # the scan finds what is there
    # The feed tables' INSERTs cast each column to an array of its type (built in feeds.py).
    used |= {sql_type for table in feeds._TABLES.values() for _, sql_type in table.columns}
    # text[] is one of asyncpg's built-in codecs; the rest are introspected per connection.
    assert used - {"text"} <= set(ARRAY_TYPES), sorted(used - {"text"} - set(ARRAY_TYPES))


def test_only_the_session_module_opens_or_takes_connections() -> None:
    # The one error boundary (session.connection / transaction / open_pool /
    # direct_connection): SQL elsewhere gets its connection from it, so a driver error is
    # always translated (tests/integration/test_store_boundary.py runs each method). A
    # transaction on a connection it gave (a migration, a batch's) is inside it already.
    folder = Path(incidents.store.__file__).parent
    direct = re.compile(r"\.acquire\(|asyncpg\.connect\(|create_pool\(")
    offenders = {path.name: direct.findall(path.read_text("utf-8"))
                 for path in folder.glob("*.py") if path.name != "session.py"}
    assert not {name: found for name, found in offenders.items() if found}
