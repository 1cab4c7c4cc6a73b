"""`sitroom unit release|status` and `sitroom check`: a leader's word on a unit from the
command line, and the invariants of units, orders, incidents and the journal."""

from __future__ import annotations

import getpass
import socket
import sys

from config.settings import Settings
from incidents.command import Actor, CommandService
from incidents.errors import CommandRefused
from incidents.lang import Lang
from incidents.model import Availability
from incidents.plans import load_plans
from incidents.store import Store
from incidents.taxonomy import load_taxonomy
from maps.analysis.units import GridUnitIndex
from sitroom.secrets import journal_key


def cli_actor(by: str | None) -> Actor:
    """Who acts from the command line: `--by`, else the OS user; the host is the client."""
    return Actor(name=by or f"cli:{getpass.getuser()}", client=f"cli@{socket.gethostname()}")


async def _service(settings: Settings) -> tuple[Store, CommandService]:
    assert settings.database_url is not None
    store = await Store.connect(settings.database_url, journal_key=journal_key(settings),
                                wait_s=settings.startup_wait_s)
    taxonomy = load_taxonomy()
    return store, CommandService(store.commands, None, taxonomy, load_plans(taxonomy), None,
                                 GridUnitIndex(), stale_order_s=settings.dispatch.stale_order_s)


async def unit_command(settings: Settings, unit: str, status: str | None, reason: str,
                       by: str | None) -> int:
    """Release a unit (status None) or set its status, with a reason; exit 1 if refused."""
    store, service = await _service(settings)
    try:
        actor = cli_actor(by)
        if status is None:
            cancelled = await service.release_unit(unit, actor, reason)
        else:
            cancelled = await service.set_unit_status(unit, Availability(status), actor,
                                                      reason)
    except CommandRefused as exc:
        print(f"sitroom: {exc.zh} / {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    what = "released" if status is None else f"set to {status}"
    orders = f"; cancelled order(s) {', '.join(cancelled)}" if cancelled else ""
    print(f"unit {unit} {what} (单位已{'释放' if status is None else '设置'}){orders}")
    return 0


async def check_command(settings: Settings, repair: bool, by: str | None) -> int:
    """Print every failed invariant with its repair; exit 1 when any fails (after --repair:
    when any is left)."""
    store, service = await _service(settings)
    try:
        fixed = await service.repair(cli_actor(by)) if repair else []
        result = service.last_check() if repair else await service.check()
    finally:
        await store.close()
    assert result is not None
    for finding in fixed:
        print(f"repaired: {finding.line(Lang.EN)} (已修复)")
    if not result.findings:
        print("check passed: units, orders, incidents and the journal agree"
              " (检查通过：单位、指令、事件与日志一致)")
        return 0
    print(f"CHECK FAILED: {len(result.findings)} problem(s) (检查未通过：{len(result.findings)}"
          " 处问题)", file=sys.stderr)
    for finding in result.findings:
        print(f"  {finding.line(Lang.ZH)}\n  {finding.line(Lang.EN)}\n"
              f"    repair / 修复: {finding.repair}", file=sys.stderr)
    return 1
