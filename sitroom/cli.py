"""The `sitroom` command: up, demo, ingest, dashboard, simulate, migrate, check …"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from config.settings import Settings, load_settings
from incidents.live import LiveState
from incidents.store import Store, StoreUnavailable
from incidents.store.waiting import until_ready
from sitroom.secrets import journal_key

log = logging.getLogger("sitroom")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sitroom", description="sitroom — emergency command and situational awareness"
    )
    parser.add_argument("--config", type=Path, help="settings file (default: ./sitroom.toml)")
    parser.add_argument("--log-level", default=os.environ.get("SITROOM_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run everything; embedded servers for what is not configured")
    demo = sub.add_parser("demo", help="up, plus the simulator feeding demo units and reports")
    demo.add_argument("--units", type=int, default=60)
    demo.add_argument("--rate", type=float, default=1.0, help="positions per unit per second")
    sub.add_parser("ingest", help="run the MQTT ingest worker")
    sub.add_parser("dashboard", help="run the dashboard web server")
    sim = sub.add_parser("simulate", help="publish simulated units and reports over MQTT")
    sim.add_argument("--units", type=int, default=60, help="number of simulated units")
    sim.add_argument("--rate", type=float, default=1.0, help="positions per unit per second")
    sim.add_argument("--duration", type=float, default=None, help="seconds to run (default: ever)")
    sim.add_argument("--report-every", type=float, default=20.0,
                     help="mean seconds between simulated incident reports")
    sub.add_parser("migrate", help="apply database migrations (safe to run twice)")
    roles = ("operator", "leader", "liaison", "admin")
    user = sub.add_parser("user", help="dashboard accounts: add, passwd, disable")
    user_sub = user.add_subparsers(dest="action", required=True)
    user_add = user_sub.add_parser("add", help="create an account (password asked twice)")
    user_add.add_argument("username")
    user_add.add_argument("--role", required=True, choices=roles)
    user_add.add_argument("--agency", help="the liaison's agency (required for liaisons)")
    user_add.add_argument("--name", help="name shown to people, e.g. 王伟 (default: USERNAME)")
    user_passwd = user_sub.add_parser("passwd", help="set a new password; also unlocks the"
                                      " account and ends its sessions")
    user_passwd.add_argument("username")
    for p in (user_add, user_passwd):
        p.add_argument("--password-stdin", action="store_true",
                       help="read the password from one line of standard input")
    user_disable = user_sub.add_parser("disable", help="refuse sign-in, end the sessions")
    user_disable.add_argument("username")
    token = sub.add_parser("token", help="API bearer tokens: create, revoke")
    token_sub = token.add_subparsers(dest="action", required=True)
    token_create = token_sub.add_parser("create", help="issue a token (printed once)")
    token_create.add_argument("--role", required=True, choices=roles)
    token_create.add_argument("--agency", help="the liaison's agency (required for liaisons)")
    token_create.add_argument("--label", default="", help="what the token is for")
    token_create.add_argument("--days", type=float, help="expires after N days (default: never)")
    token_revoke = token_sub.add_parser("revoke", help="revoke a token by its id")
    token_revoke.add_argument("token_id")
    dead = sub.add_parser("deadletters", help="list or re-ingest dead letters")
    dead_sub = dead.add_subparsers(dest="action", required=True)
    listing = dead_sub.add_parser("list", help="show the most recent dead letters")
    replay = dead_sub.add_parser("replay", help="decode pending dead letters again and store"
                                 " those that now pass (after a fix)")
    for p in (listing, replay):
        p.add_argument("--reason", help="only this reason code, e.g. unknown_agency")
        p.add_argument("--limit", type=int, default=50)
    replay.add_argument("--id", type=int, action="append", dest="ids",
                        help="only this dead-letter id (repeatable)")
    sub.add_parser("video", help="run the video server (WHIP/WHEP relay, conference rooms)")
    camera = sub.add_parser("camera", help="cameras the video server pulls (RTSP or file)")
    camera_sub = camera.add_subparsers(dest="action", required=True)
    cam_add = camera_sub.add_parser("add", help="ask the running video server to pull a camera")
    cam_add.add_argument("url", help="rtsp://… (or a video file)")
    cam_add.add_argument("--id", required=True, help="stream id, e.g. cam-qilihe-bridge")
    cam_add.add_argument("--name", default="", help="title shown on the map and in players")
    cam_add.add_argument("--lat", type=float)
    cam_add.add_argument("--lon", type=float)
    layers = sub.add_parser("layers", help="map layers: import a file, list what is stored")
    layers_sub = layers.add_subparsers(dest="action", required=True)
    imp = layers_sub.add_parser("import", help="import a vector file (GeoJSON, GeoPackage,"
                                " zipped Shapefile, KML, CSV) as a layer; replaces a layer of"
                                " the same name")
    imp.add_argument("file", type=Path)
    imp.add_argument("--name", required=True, help="layer name, e.g. hospitals")
    imp.add_argument("--kind", required=True, help="districts, facilities, cameras,"
                     " sensitive_areas, population, roads, rivers, gauges or other")
    imp.add_argument("--crs", help="wgs84, gcj02, bd09 or EPSG:xxxx (default: from the file,"
                     " else wgs84)")
    imp.add_argument("--lat-column", help="CSV: the latitude column (default: detected)")
    imp.add_argument("--lon-column", help="CSV: the longitude column (default: detected)")
    layers_sub.add_parser("list", help="list the stored layers")
    journal = sub.add_parser("journal", help="the tamper-evident incident journal")
    journal_sub = journal.add_subparsers(dest="action", required=True)
    journal_sub.add_parser("verify", help="check every row's HMAC, the chain and the last"
                           " anchor; exit 1 if any row was edited, inserted or removed, the"
                           " chain reset or the database rolled back")
    anchor = journal_sub.add_parser("anchor", help="append the signed journal head to"
                                    " journal.anchor_file (kept outside the database)")
    anchor.add_argument("--every", type=float, metavar="SECONDS",
                        help="keep anchoring at this interval until stopped")
    unit = sub.add_parser("unit", help="a leader's word on a unit: release it, set its status")
    unit_sub = unit.add_subparsers(dest="action", required=True)
    release = unit_sub.add_parser("release", help="free a unit from its order: en route,"
                                  " on scene or unknown becomes available (journaled)")
    release.add_argument("unit")
    status = unit_sub.add_parser("status", help="set a unit available, out of service or off"
                                 " duty; its open order is cancelled (journaled)")
    status.add_argument("unit")
    status.add_argument("status", choices=("available", "out_of_service", "off_duty"))
    check = sub.add_parser("check", help="verify that units, orders, incidents and the journal"
                           " agree; print each failure with its repair; exit 1 on failure")
    check.add_argument("--repair", action="store_true",
                       help="release the units of repairable failures (journaled), then check")
    for p in (release, status):
        p.add_argument("--reason", required=True, help="why (journaled), e.g. 电话确认已归队")
    for p in (release, status, check):
        p.add_argument("--by", help="who acts, for the journal (default: cli:<OS user>)")
    accounts = sub.add_parser("accounts", help="MQTT accounts: Mosquitto ACL, password hashes")
    accounts_sub = accounts.add_subparsers(dest="action", required=True)
    acl = accounts_sub.add_parser("acl", help="print the Mosquitto acl_file for mqtt_accounts")
    acl.add_argument("--out", type=Path, help="write to this file instead of printing")
    accounts_sub.add_parser("hash", help="read a password on stdin, print its Argon2 hash"
                            " for the accounts file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sitroom` command."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"sitroom: {exc}", file=sys.stderr)
        return 2
    command: str = args.command
    if command in ("up", "demo"):
        from sitroom.runner import run_up

        demo = (args.units, args.rate) if command == "demo" else None
        return run_up(settings, args.config, demo=demo)
    if command == "ingest":
        return _run_async(_ingest(settings))
    if command == "dashboard":
        from dashboard.server import serve

        _require(settings, "redis_url", "database_url")
        journal_key(settings)  # refuse to start without one: every leader action is journaled
        serve(settings)
        return 0
    if command == "simulate":
        from ingest.simulator import run_simulator

        _require(settings, "mqtt_url")
        return run_simulator(settings, units=args.units, rate=args.rate,
                             duration=args.duration, report_every=args.report_every)
    if command in ("user", "token"):
        from dashboard.auth import admin

        _require(settings, "database_url")
        if command == "token":
            if args.action == "create":
                return admin.token_create_command(settings, args.role, args.agency, args.label,
                                                  args.days)
            return admin.token_revoke_command(settings, args.token_id)
        if args.action == "add":
            return admin.user_add_command(settings, args.username, args.role, args.agency,
                                          args.name, args.password_stdin)
        if args.action == "passwd":
            return admin.user_passwd_command(settings, args.username, args.password_stdin)
        return admin.user_disable_command(settings, args.username)
    if command == "migrate":
        return _run_async(_migrate(settings))
    if command == "video":
        from sitroom.video_cli import run_video

        return _run_async(run_video(settings))
    if command == "camera":
        from sitroom.video_cli import add_camera

        return add_camera(settings, args.url, args.id, args.name, args.lat, args.lon)
    if command == "layers":
        from sitroom.layers_cli import import_layer, list_layers

        _require(settings, "database_url")
        if args.action == "list":
            return _run_async(list_layers(settings))
        return _run_async(import_layer(settings, args.file, args.name, args.kind, args.crs,
                                       args.lat_column, args.lon_column))
    if command == "journal":
        from sitroom.journal_cli import anchor_journal, verify_journal

        _require(settings, "database_url")
        if args.action == "anchor":
            return _run_async(anchor_journal(settings, journal_key(settings), args.every))
        return _run_async(verify_journal(settings, journal_key(settings)))
    if command in ("unit", "check"):
        from sitroom.units_cli import check_command, unit_command

        _require(settings, "database_url")
        if command == "check":
            return _run_async(check_command(settings, args.repair, args.by))
        return _run_async(unit_command(settings, args.unit, getattr(args, "status", None),
                                       args.reason, args.by))
    if command == "accounts":
        return _accounts_command(settings, args.action, getattr(args, "out", None))
    if command == "deadletters":
        from sitroom.deadletters import list_dead_letters, replay

        _require(settings, "database_url")
        if args.action == "list":
            return _run_async(list_dead_letters(settings, args.reason, args.limit))
        return _run_async(replay(settings, args.ids, args.reason, args.limit))
    raise AssertionError(command)


def _require(settings: Settings, *names: str) -> None:
    missing = [n for n in names if getattr(settings, n) is None]
    if missing:
        env = ", ".join("SITROOM_" + n.upper() for n in missing)
        raise SystemExit(f"sitroom: set {env} (or run `sitroom up`, which starts embedded ones)")


def _run_async(main_coro: Coroutine[Any, Any, int]) -> int:
    """Run a coroutine until it ends or SIGTERM/SIGINT cancels it."""

    async def runner() -> int:
        task = asyncio.ensure_future(main_coro)
        loop = asyncio.get_running_loop()

        def stop() -> None:
            if task.cancelling():
                log.error("second stop signal: exiting now")
                os._exit(1)
            task.cancel()
            # A clean stop commits what was received; never let it hang the supervisor.
            loop.call_later(20, _exit_stuck)

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop)
        try:
            result: int = await task
            return result
        except asyncio.CancelledError:
            return 0
        except StoreUnavailable as exc:  # e.g. PostgreSQL not ready within startup_wait_s
            print(f"sitroom: {exc}", file=sys.stderr)
            return 1

    return asyncio.run(runner())


def _accounts_command(settings: Settings, action: str, out: Path | None) -> int:
    from sitroom.acl import AccountsError, load_accounts, mosquitto_acl

    if action == "hash":
        from pwdlib import PasswordHash

        password = sys.stdin.readline().rstrip("\n")
        if not password:
            print("sitroom: give the password on standard input", file=sys.stderr)
            return 2
        print(PasswordHash.recommended().hash(password))
        return 0
    if settings.mqtt_accounts is None:
        print("sitroom: set mqtt_accounts (SITROOM_MQTT_ACCOUNTS) to the accounts file",
              file=sys.stderr)
        return 2
    try:
        text = mosquitto_acl(load_accounts(settings.mqtt_accounts, settings.agencies),
                             settings.topic_root)
    except AccountsError as exc:
        print(f"sitroom: {exc}", file=sys.stderr)
        return 2
    if out is None:
        print(text, end="")
    else:
        out.write_text(text)
    return 0


def _exit_stuck() -> None:
    log.error("did not stop within 20 s of the stop signal; exiting without cleanup")
    os._exit(1)


async def _ingest(settings: Settings) -> int:
    from ingest.service import IngestService

    _require(settings, "mqtt_url", "database_url", "redis_url")
    assert settings.database_url and settings.redis_url
    # What the imports created lives for the whole run: keep it out of garbage collections.
    gc.freeze()
    from sitroom.wiring import crs_policy

    crs = crs_policy(settings)
    # A connection for each concurrent commit, the rules' lane, the live writer's units, the
    # heartbeat and the dispatch-order sender.
    store = await _connect_store(settings.database_url, journal_key(settings),
                                 settings.ingest.commits_in_flight + 4, settings.startup_wait_s)
    live = LiveState.from_url(settings.redis_url, settings.redis_prefix)
    try:
        if settings.cot_tcp_port is None:
            await IngestService(settings, store, live, crs=crs).run()
        else:
            from ingest.cot_input import CotInput

            async with asyncio.TaskGroup() as group:
                group.create_task(IngestService(settings, store, live, crs=crs).run(),
                                  name="ingest")
                group.create_task(CotInput(settings, store).run(), name="cot-tcp")
    finally:
        await live.close()
        await store.close()
    return 0


async def _connect_store(dsn: str, key: bytes, connections: int, wait_s: float) -> Store:
    # Every connection opens now (and learns the store's types, see
    # incidents/store/session.py), not in the first burst after a start.
    return await Store.connect(dsn, journal_key=key, min_size=connections,
                               max_size=connections, wait_s=wait_s)


async def _migrate(settings: Settings) -> int:
    _require(settings, "database_url")
    assert settings.database_url
    store = await Store.connect(settings.database_url, wait_s=settings.startup_wait_s)
    try:
        applied = await until_ready(store.migrate, settings.database_url,
                                    settings.startup_wait_s)
    finally:
        await store.close()
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0

