"""The `health` blueprint: the health report, the dead letters and the API's description.

The health report pings PostgreSQL and Redis and reads the ingest workers' heartbeats from the
live state, and from them which agencies' feeds are silent (dashboard.feed_watch).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, request

from config.settings import Settings
from dashboard.auth import Action, require
from dashboard.feed_watch import INGEST_COMPONENT, FeedWatch
from dashboard.jsonapi import json_response, no_store_json
from dashboard.openapi import openapi_document
from dashboard.portal import AsyncBridge
from incidents.deadletters import StoredDeadLetter
from incidents.live import LiveState, LiveUnavailable
from incidents.store import StoreError

CHECK_TIMEOUT_S = 3.0
"""Longest wait for one dependency in the health check."""


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of probing one dependency."""

    ok: bool
    """True when the dependency answered."""
    detail: str
    """What was seen, for people."""


def redact_url(url: str | None) -> str | None:
    """`url` without a password, in userinfo or in a `password` query parameter."""
    if url is None:
        return None
    if "://" not in url:  # a libpq keyword DSN: host=… password=…
        return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", url)
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}@{hostport}" if at and user else hostport
    query = urlencode([(k, "***" if k.lower() == "password" else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def ingest_summary(workers: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    """The `ingest` section of the health report from the ingest heartbeats.

    `workers` maps heartbeat names to documents; None means they could not be read.
    """
    if workers is None:
        return {"ok": False, "detail": "unknown: the live state cannot be read", "workers": [],
                "lag_p50_ms": None, "lag_max_ms": None, "backlog": None, "committed": None,
                "dead_letters": None}
    docs = [{"name": name.removeprefix(INGEST_COMPONENT), **doc}
            for name, doc in sorted(workers.items())]

    def worst(key: str) -> float | None:
        values = [float(d[key]) for d in docs if d.get(key) is not None]
        return max(values) if values else None

    return {
        "ok": bool(docs),
        "detail": f"{len(docs)} worker(s) reporting" if docs else "no ingest heartbeat",
        "workers": docs,
        "lag_p50_ms": worst("lag_p50_ms"),
        "lag_max_ms": worst("lag_max_ms"),
        "backlog": sum(int(d.get("backlog") or 0) for d in docs) if docs else None,
        "committed": sum(int(d.get("committed") or 0) for d in docs),
        "dead_letters": sum(int(d.get("dead_letters") or 0) for d in docs),
    }


def broker_check(workers: Mapping[str, Mapping[str, Any]] | None) -> Check:
    """The broker is up when at least one ingest worker says it is connected to it."""
    if workers is None:
        return Check(False, "unknown: the live state cannot be read")
    if not workers:
        return Check(False, "unknown: no ingest worker is reporting")
    connected = sum(1 for doc in workers.values() if doc.get("broker_connected"))
    return Check(connected > 0, f"{connected} of {len(workers)} ingest worker(s) connected")


BROKER_DROPS_RED_S = 600.0
"""The health page stays red this long after the broker last reported dropping messages."""


def broker_drops_check(workers: Mapping[str, Mapping[str, Any]] | None,
                       now: float) -> Check:
    """Red when the broker reported dropping messages recently (data was lost upstream)."""
    rising = [float(d["broker_dropped_rising_at"]) for d in (workers or {}).values()
              if d.get("broker_dropped_rising_at") is not None]
    latest = max(rising, default=None)
    if latest is not None and now - latest < BROKER_DROPS_RED_S:
        dropped = max(int(d.get("broker_dropped") or 0) for d in (workers or {}).values())
        return Check(False, f"the broker dropped messages ({dropped} in all, last"
                            f" {now - latest:.0f} s ago): raise its queue limits, see"
                            " docs/deploy.md; field clients re-send what they kept")
    return Check(True, "no drops reported")


def health_report(settings: Settings, cache: Check, database: Check,
                  workers: Mapping[str, Mapping[str, Any]] | None,
                  now: float | None = None, failed_tasks: Mapping[str, str] | None = None,
                  feeds: FeedWatch | None = None) -> tuple[dict[str, Any], int]:
    """The health document and its HTTP status: 503 when the dashboard cannot work; degraded
    (200) while ingest, the broker or an agency's feed is missing."""
    now = time.time() if now is None else now
    broker = broker_check(workers)
    drops = broker_drops_check(workers, now)
    ingest = ingest_summary(workers)
    feed_section = (feeds or FeedWatch.from_settings(settings)).health(workers, now)
    if not (cache.ok and database.ok and drops.ok):
        status = "down"
    elif not (broker.ok and ingest["ok"] and feed_section["ok"]) or failed_tasks:
        status = "degraded"
    else:
        status = "ok"
    seen_broker = next((str(d["broker"]) for d in (workers or {}).values() if d.get("broker")),
                       None)
    url = redact_url(settings.mqtt_url) or seen_broker
    report = {
        "status": status,
        "broker": {"url": url, "public_url": redact_url(settings.public_mqtt_url) or url,
                   "ok": broker.ok and drops.ok,
                   "detail": broker.detail if drops.ok else drops.detail},
        "database": {"url": redact_url(settings.database_url), "ok": database.ok,
                     "detail": database.detail},
        "cache": {"url": redact_url(settings.redis_url), "ok": cache.ok, "detail": cache.detail},
        "ingest": ingest,
        "feeds": feed_section,
        # A background task that died (a bug: outages are survived) stops its work, e.g.
        # the unit index stops following positions, until the dashboard restarts.
        "tasks": {"ok": not failed_tasks, "failed": dict(failed_tasks or {})},
    }
    return report, 503 if status == "down" else 200


async def _check_cache(live: LiveState) -> Check:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await live.ping()
    except LiveUnavailable as exc:
        return Check(False, str(exc))
    except TimeoutError:
        return Check(False, f"no answer within {CHECK_TIMEOUT_S:g} s")
    return Check(True, "ping ok")


async def _check_database(bridge: AsyncBridge) -> Check:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            store = await bridge.store()
            await store.ping()
    except StoreError as exc:
        return Check(False, str(exc))
    except TimeoutError:
        return Check(False, f"no answer within {CHECK_TIMEOUT_S:g} s")
    return Check(True, "ping ok")


async def _read_workers(live: LiveState) -> dict[str, dict[str, Any]] | None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return await live.statuses(INGEST_COMPONENT)
    except (LiveUnavailable, TimeoutError):
        return None


async def _probe(bridge: AsyncBridge) -> tuple[Check, Check, dict[str, dict[str, Any]] | None]:
    cache, database, workers = await asyncio.gather(
        _check_cache(bridge.live), _check_database(bridge), _read_workers(bridge.live)
    )
    return cache, database, workers


async def _dead_letters(bridge: AsyncBridge, limit: int,
                        reason: str | None) -> list[StoredDeadLetter]:
    store = await bridge.store()
    return await store.dead_letters(limit, reason=reason)


def dead_letter_doc(stored: StoredDeadLetter) -> dict[str, Any]:
    """A dead letter as JSON: the payload as text when it is UTF-8, else base64."""
    letter = stored.letter
    try:
        text: str | None = letter.payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {
        "id": stored.row_id, "received_at": letter.received_at.isoformat(),
        "topic": letter.topic, "reason": letter.reason, "detail": letter.detail,
        "message_id": letter.message_id, "size": len(letter.payload),
        "payload_text": text,
        "payload_base64": None if text is not None else base64.b64encode(letter.payload).decode(),
        "replayed_at": stored.replayed_at.isoformat() if stored.replayed_at else None,
    }


def health_blueprint(bridge: AsyncBridge, settings: Settings) -> Blueprint:
    """/api/health, /api/deadletters and /api/openapi.json."""
    api = Blueprint("health", __name__)
    feeds = FeedWatch.from_settings(settings)

    @api.get("/api/health")
    def health() -> Response:
        cache, database, workers = bridge.call(_probe, bridge)
        report, status = health_report(settings, cache, database, workers,
                                       failed_tasks=bridge.failed_tasks(), feeds=feeds)
        return no_store_json(report, status)

    @api.get("/api/deadletters")
    def deadletters() -> Response:
        try:
            limit = min(1000, max(1, int(request.args.get("limit", "100"))))
        except ValueError:
            return no_store_json({"error": "bad_request",
                                  "detail": "limit must be a whole number"}, 400)
        reason = request.args.get("reason") or None
        try:
            found = bridge.call(_dead_letters, bridge, limit, reason)
        except StoreError as exc:
            return no_store_json({"error": "database_unavailable", "detail": str(exc)}, 503)
        return no_store_json({"dead_letters": [dead_letter_doc(d) for d in found]})

    @api.get("/api/openapi.json")
    def openapi() -> Response:
        require(Action.VIEW)
        return json_response(openapi_document())

    return api
