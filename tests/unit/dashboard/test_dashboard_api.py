"""The health report and URL redaction of the REST API (pure parts)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from config.settings import DEFAULT_AGENCIES, Settings
from dashboard.api import Check, broker_check, health_report, ingest_summary, redact_url
from dashboard.feed_watch import FeedWatch
from incidents.clock import ManualClock

OK = Check(True, "ping ok")
DOWN = Check(False, "connection refused")


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "mqtt_url": "mqtt://ingest:s3cret@10.0.0.5:1883",
        "mqtt_public_url": "mqtts://field:fieldpw@broker.gov.local:8883",
        "database_url": "postgresql://sitroom:dbpw@10.0.0.6:5432/sitroom",
        "redis_url": "redis://:redispw@10.0.0.7:6379/0",
    }
    return Settings(**(base | overrides))


def worker(connected: bool, lag: float | None = 3.0, backlog: int = 0,
           feeds: dict[str, float] | None = None) -> dict[str, Any]:
    """An ingest heartbeat; unless told otherwise every agency was heard just now."""
    heard = {agency: time.time() for agency in DEFAULT_AGENCIES} if feeds is None else feeds
    return {"broker_connected": connected, "lag_p50_ms": lag, "lag_max_ms": lag,
            "backlog": backlog, "committed": 10, "dead_letters": 1,
            "broker": "mqtt://ingest@10.0.0.5:1883", "feeds": heard}


@pytest.mark.parametrize(("url", "safe"), [
    ("postgresql://sitroom:dbpw@10.0.0.6:5432/sitroom", "postgresql://sitroom@10.0.0.6:5432/sitroom"),
    ("redis://:redispw@10.0.0.7:6379/0", "redis://10.0.0.7:6379/0"),
    ("redis://10.0.0.7:6379/0?password=pw&db=1", "redis://10.0.0.7:6379/0?password=%2A%2A%2A&db=1"),
    ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test"),
    ("host=db user=app password=secret dbname=x", "host=db user=app password=*** dbname=x"),
    ("postgresql://u:p%40ss@[::1]:5432/db", "postgresql://u@[::1]:5432/db"),
])
def test_redact_url_drops_passwords(url: str, safe: str) -> None:
    assert redact_url(url) == safe


def test_all_up_is_ok_and_hides_every_password() -> None:
    report, status = health_report(settings(), OK, OK, {"ingest:a": worker(True)})
    assert (report["status"], status) == ("ok", 200)
    assert report["broker"] == {"url": "mqtt://ingest@10.0.0.5:1883",
                                "public_url": "mqtts://field@broker.gov.local:8883",
                                "ok": True, "detail": "1 of 1 ingest worker(s) connected"}
    assert report["database"]["url"] == "postgresql://sitroom@10.0.0.6:5432/sitroom"
    assert report["cache"] == {"url": "redis://10.0.0.7:6379/0", "ok": True, "detail": "ping ok"}
    assert "pw" not in repr(report) and "s3cret" not in repr(report)


def test_database_or_cache_down_is_down_with_503() -> None:
    assert health_report(settings(), OK, DOWN, {"ingest:a": worker(True)})[1] == 503
    report, status = health_report(settings(), DOWN, OK, None)
    assert (report["status"], status) == ("down", 503)
    assert report["cache"]["detail"] == "connection refused"
    assert report["broker"]["ok"] is False
    assert report["ingest"]["ok"] is False


def test_no_ingest_or_no_broker_is_degraded_with_200() -> None:
    report, status = health_report(settings(), OK, OK, {})
    assert (report["status"], status) == ("degraded", 200)
    assert report["ingest"]["detail"] == "no ingest heartbeat"
    report, status = health_report(settings(), OK, OK, {"ingest:a": worker(False)})
    assert (report["status"], status) == ("degraded", 200)
    assert report["broker"]["detail"] == "0 of 1 ingest worker(s) connected"


def test_a_background_task_that_died_is_listed_and_degrades_health() -> None:
    report, status = health_report(settings(), OK, OK, {"ingest:a": worker(True)})
    assert report["tasks"] == {"ok": True, "failed": {}}
    report, status = health_report(settings(), OK, OK, {"ingest:a": worker(True)},
                                   failed_tasks={"unit-index": "KeyError: 'car-1'"})
    assert (report["status"], status) == ("degraded", 200)
    assert report["tasks"] == {"ok": False, "failed": {"unit-index": "KeyError: 'car-1'"}}


def test_embedded_broker_url_comes_from_the_heartbeat() -> None:
    report, _ = health_report(settings(mqtt_url=None, mqtt_public_url=None), OK, OK,
                              {"ingest:a": worker(True)})
    assert report["broker"]["url"] == "mqtt://ingest@10.0.0.5:1883"
    assert report["broker"]["public_url"] == "mqtt://ingest@10.0.0.5:1883"


def test_ingest_summary_sums_backlogs_and_keeps_the_worst_lag() -> None:
    summary = ingest_summary({"ingest:b": worker(True, lag=9.5, backlog=4),
                              "ingest:a": worker(False, lag=None, backlog=2)})
    assert [w["name"] for w in summary["workers"]] == ["a", "b"]
    assert summary["lag_p50_ms"] == 9.5
    assert summary["backlog"] == 6
    assert summary["committed"] == 20
    assert summary["ok"] is True


def test_broker_is_up_when_any_worker_is_connected() -> None:
    assert broker_check({"ingest:a": worker(False), "ingest:b": worker(True)}) == Check(
        True, "1 of 2 ingest worker(s) connected")
    assert broker_check(None).ok is False


def test_a_silent_agency_degrades_health_and_is_named() -> None:
    clock = ManualClock()
    now = clock.time()
    heard = {agency: now - 5 for agency in DEFAULT_AGENCIES} | {"fire": now - 75}
    report, status = health_report(settings(), OK, OK, {"ingest:a": worker(True, feeds=heard)},
                                   now=now)
    assert (report["status"], status) == ("degraded", 200)
    feeds = report["feeds"]
    assert (feeds["ok"], feeds["silent"], feeds["stale_s"]) == (False, ["fire"], 60.0)
    assert feeds["detail"] == "silent for over 60 s: fire (75 s)"
    police, fire = feeds["agencies"][:2]
    assert police == {"agency": "police", "name": "公安", "name_en": "Public security",
                      "seconds": 5.0, "last_at": now - 5, "stale": False}
    assert (fire["agency"], fire["seconds"], fire["stale"]) == ("fire", 75.0, True)
    # It speaks again: healthy.
    heard["fire"] = now - 1
    report, _ = health_report(settings(), OK, OK, {"ingest:a": worker(True, feeds=heard)},
                              now=now)
    assert (report["status"], report["feeds"]["silent"]) == ("ok", [])


def test_the_newest_time_of_several_workers_counts_and_never_heard_is_silent() -> None:
    now = ManualClock().time()
    workers = {"ingest:a": worker(True, feeds={"police": now - 200, "fire": now - 2}),
               "ingest:b": worker(True, feeds={"police": now - 3})}
    report, _ = health_report(settings(agencies=("police", "fire", "water")), OK, OK, workers,
                              now=now)
    assert report["feeds"]["silent"] == ["water"]
    assert report["feeds"]["detail"] == "silent for over 60 s: water (never heard)"
    assert [a["seconds"] for a in report["feeds"]["agencies"]] == [3.0, 2.0, None]


def test_without_ingest_every_watched_feed_is_silent() -> None:
    report, _ = health_report(settings(feeds={"agencies": ["police", "fire"]}), OK, OK, {})
    assert report["feeds"]["silent"] == ["police", "fire"]
    assert report["feeds"]["detail"] == "no ingest heartbeat: no feed is known to arrive"


def test_watching_no_feed_leaves_health_to_the_rest() -> None:
    report, _ = health_report(settings(feeds={"agencies": []}), OK, OK,
                              {"ingest:a": worker(True, feeds={})})
    assert (report["status"], report["feeds"]["ok"]) == ("ok", True)


def test_the_pages_hear_the_silent_agencies_by_their_short_names() -> None:
    now = ManualClock().time()
    watch = FeedWatch.from_settings(settings(agencies=("police", "health"),
                                             feeds={"stale_s": 5}))
    beat = watch.beat({"ingest:a": worker(True, feeds={"police": now - 4.5,
                                                       "health": now - 9.7})}, now)
    assert (beat.stale_s, beat.ingest) == (5.0, True)
    assert [(f.a, f.zh, f.en, f.age) for f in beat.silent] == [
        ("health", "卫生健康", "Health", 9)]
    nobody = watch.beat({}, now)
    assert nobody.ingest is False
    assert [(f.a, f.age) for f in nobody.silent] == [("police", None), ("health", None)]
