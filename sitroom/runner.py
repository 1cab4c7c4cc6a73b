"""`sitroom up` / `sitroom demo`: embedded servers, migrations, then the sitroom processes."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from pathlib import Path

from config.settings import Settings
from incidents.store import Store, StoreUnavailable, ensure_database
from incidents.store.waiting import until_ready
from sitroom import embedded
from sitroom.secrets import dashboard_demo_secret, demo_secret
from sitroom.supervisor import StartupError, Supervisor, install_stop_handlers

log = logging.getLogger("sitroom.up")


def _embedded_servers(settings: Settings, supervisor: Supervisor) -> dict[str, str]:
    """Start embedded servers for what the settings leave unset; return their URLs as env."""
    env: dict[str, str] = {}
    var = settings.var_dir.resolve()
    ports = settings.embedded
    if settings.database_url is None:
        data = var / "postgres"
        embedded.prepare_postgres(data)
        supervisor.start(embedded.postgres(data, ports.postgres))
        server = f"postgresql://postgres@127.0.0.1:{ports.postgres}/postgres"
        asyncio.run(ensure_database(server, "sitroom", wait_s=settings.startup_wait_s))
        env["SITROOM_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{ports.postgres}/sitroom"
    if settings.redis_url is None:
        supervisor.start(embedded.redis(var / "redis", ports.redis))
        env["SITROOM_REDIS_URL"] = f"redis://127.0.0.1:{ports.redis}/0"
    if settings.mqtt_url is None:
        supervisor.start(embedded.mqtt_broker(ports.mqtt, settings.mqtt_accounts,
                                              settings.topic_root, settings.agencies))
        # A username gives ingest a persistent session on amqtt (see sitroom.broker).
        env["SITROOM_MQTT_URL"] = f"mqtt://sitroom@127.0.0.1:{ports.mqtt}"
        env["SITROOM_MQTT_PUBLIC_URL"] = f"mqtt://127.0.0.1:{ports.mqtt}"
        env["SITROOM_MQTT_PROTOCOL"] = "3.1.1"  # amqtt speaks MQTT 3.1.1 only
    if settings.journal_key is None:
        env["SITROOM_JOURNAL_KEY"] = demo_secret(var / "secrets" / "journal.key")
    if settings.video.token_secret is None:  # the dashboard mints, the video server checks
        env["SITROOM_VIDEO__TOKEN_SECRET"] = demo_secret(var / "secrets" / "video.key")
    if settings.auth.secret_key is None:
        env["SITROOM_AUTH__SECRET_KEY"] = dashboard_demo_secret(var)
    return env


async def _migrate(dsn: str, demo_layers: bool, wait_s: float) -> list[str]:
    store = await Store.connect(dsn, wait_s=wait_s)
    try:
        applied = await until_ready(store.migrate, dsn, wait_s)  # each migration is one tx
    finally:
        await store.close()
    if demo_layers:
        from sitroom.layers_cli import import_demo_layers

        # The demo's synthetic facilities, cameras, gauges and population: re-imported each
        # start (a layer of the same name is replaced), so they match the shipped files.
        stored = await import_demo_layers(dsn)
        log.info("demo layers imported: %s", ", ".join(f"{s.name} ({s.features})"
                                                      for s in stored))
    return applied


def run_up(settings: Settings, config: Path | None, demo: tuple[int, float] | None) -> int:
    """Run the whole system until Ctrl-C or SIGTERM; stop every child on the way out."""
    stop = threading.Event()
    install_stop_handlers(stop.set)
    supervisor = Supervisor(settings.var_dir.resolve() / "log")
    try:
        env = _embedded_servers(settings, supervisor)
        merged = settings.model_copy(update={
            "database_url": env.get("SITROOM_DATABASE_URL", settings.database_url),
        })
        assert merged.database_url is not None
        applied = asyncio.run(_migrate(merged.database_url, demo is not None,
                                       settings.startup_wait_s))
        log.info("migrations applied: %s", ", ".join(applied) or "none needed")
        base = [sys.executable, "-m", "sitroom"] + (["--config", str(config)] if config else [])
        supervisor.start(embedded.ProcessSpec(name="ingest", argv=base + ["ingest"], env=env))
        supervisor.start(embedded.ProcessSpec(
            name="dashboard", argv=base + ["dashboard"], env=env, port=settings.dashboard_port
        ), ready_timeout_s=90)
        supervisor.start(embedded.ProcessSpec(
            name="video", argv=base + ["video"], env=env, port=settings.video.port))
        # The journal's head, signed, outside the database: a restore of an older copy shows.
        supervisor.start(embedded.ProcessSpec(
            name="anchor", env=env, argv=base + ["journal", "anchor", "--every",
                                                 str(settings.journal.anchor_every_s)]))
        sign_in = "  create an account: sitroom user add NAME --role leader\n"
        if demo is not None:
            from dashboard.auth.admin import demo_leader

            account = demo_leader(merged.database_url)
            sign_in = (f"  sign in as {account.username} / {account.password}"
                       " (demo only: a new password at every start)\n")
            units, rate = demo
            supervisor.start(embedded.ProcessSpec(
                name="simulator",
                argv=base + ["simulate", "--units", str(units), "--rate", str(rate)], env=env,
            ))
        url = f"http://{settings.dashboard_host}:{settings.dashboard_port}/"
        broker = env.get("SITROOM_MQTT_PUBLIC_URL", settings.public_mqtt_url or "")
        video = f"http://{settings.video.host}:{settings.video.port}/field"
        print(f"\nsitroom is up. Dashboard: {url}\n{sign_in}  field units publish to: {broker}\n"
              f"  field video (WHIP): {video}\n"
              f"  logs: {settings.var_dir.resolve() / 'log'}\n  Ctrl-C stops everything.\n",
              flush=True)
        while not stop.wait(0.5):
            supervisor.poll()
        log.info("stopping")
        return 0
    except (StartupError, StoreUnavailable) as exc:  # PostgreSQL never became ready
        log.error("%s", exc)
        return 1
    finally:
        supervisor.stop_all()
