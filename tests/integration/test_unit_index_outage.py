"""The dashboard's unit-index refresh lives through a PostgreSQL outage and catches up."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import pytest

from incidents.store import Store
from maps.analysis.units import GridUnitIndex
from tests.support.command import command_service
from tests.support.keys import TEST_JOURNAL_KEY
from tests.support.messages import inbound, position
from tests.support.proxy import CuttableProxy
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def _units(index: GridUnitIndex) -> set[str]:
    return {n.unit.unit for n in index.nearest(37.07, 114.5, agency=None, unit_kind=None,
                                                k=10, available_only=False)}


async def test_the_unit_index_refresh_survives_an_outage_and_logs_it_once(
        store: Store, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    target = urlsplit(database_url)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.resume()
    through = await Store.connect(
        database_url.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}"),
        journal_key=TEST_JOURNAL_KEY.encode())
    service = command_service(through, None)
    index = service._units  # noqa: SLF001 - the index the service keeps fresh
    assert isinstance(index, GridUnitIndex)
    caplog.set_level(logging.INFO, "incidents.command")
    refresher = asyncio.create_task(service.keep_units_fresh(0.05))
    try:
        await store.write_batch([inbound(position("car-1"))], [])
        await eventually(lambda: _units(index), lambda u: u == {"car-1"})
        await proxy.cut()
        await store.write_batch([inbound(position("car-2"))], [])  # while it cannot see
        await asyncio.sleep(1.5)  # several rounds fail meanwhile
        assert not refresher.done()
        assert _units(index) == {"car-1"}  # the positions last read stay usable
        await proxy.resume()
        await eventually(lambda: _units(index), lambda u: u == {"car-1", "car-2"},
                         timeout_s=20)
    finally:
        refresher.cancel()
        await asyncio.gather(refresher, return_exceptions=True)
        await proxy.cut()
        await through.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "incidents.command"]
    assert len([line for line in lines if "unit index:" in line]) == 2, lines
    assert f"127.0.0.1:{proxy.port}" in lines[0] and "positions last read" in lines[0]
    assert lines[1].startswith("unit index: working again after")
