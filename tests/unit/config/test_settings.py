"""Settings: defaults, the TOML file, SITROOM_* variables and refusal of bad values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import DEFAULT_AGENCIES, FeedWatchSettings, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SITROOM_* variable from the developer's shell, no ./sitroom.toml from the checkout."""
    for name in list(os.environ):
        if name.upper().startswith("SITROOM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    settings = load_settings()
    assert settings.mqtt_url is None
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.topic_root == "sitroom/v1"
    assert settings.agencies == DEFAULT_AGENCIES
    assert settings.var_dir == Path("var")
    assert settings.auth.secret_key is None
    assert settings.auth.session_idle_minutes == 30
    assert settings.auth.max_failed_logins == 5
    assert settings.ingest.batch_max == 2000
    assert settings.ingest.max_payload_bytes == 64 * 1024
    assert settings.ingest.receive_maximum == 4000
    assert settings.embedded.mqtt == 18830


def test_embedded_ports_avoid_the_standard_ones() -> None:
    ports = load_settings().embedded
    assert {ports.mqtt, ports.postgres, ports.redis}.isdisjoint({1883, 5432, 6379})


def test_toml_file_values(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "site.toml", """
topic_root = "city/x/v1"
agencies = ["police", "fire"]
var_dir = "/srv/sitroom"
dashboard_workers = 4

[ingest]
client_id = "ingest-a"
batch_max = 500
shared_group = "workers"

[embedded]
redis = 16379
""")
    settings = load_settings(path)
    assert settings.topic_root == "city/x/v1"
    assert settings.agencies == ("police", "fire")
    assert settings.var_dir == Path("/srv/sitroom")
    assert settings.dashboard_workers == 4
    assert settings.ingest.client_id == "ingest-a"
    assert settings.ingest.batch_max == 500
    assert settings.ingest.shared_group == "workers"
    assert settings.ingest.batch_delay_ms == 4.0
    assert settings.embedded.redis == 16379
    assert settings.embedded.mqtt == 18830


def test_sitroom_toml_in_the_working_directory_is_picked_up(tmp_path: Path) -> None:
    write_toml(tmp_path / "sitroom.toml", 'topic_root = "from/cwd"\n')
    assert load_settings().topic_root == "from/cwd"


def test_explicit_file_wins_over_the_one_in_the_working_directory(tmp_path: Path) -> None:
    write_toml(tmp_path / "sitroom.toml", 'topic_root = "from/cwd"\n')
    path = write_toml(tmp_path / "other.toml", 'topic_root = "from/other"\n')
    assert load_settings(path).topic_root == "from/other"


def test_environment_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_toml(tmp_path / "site.toml", 'topic_root = "from/file"\nredis_prefix = "f:"\n')
    monkeypatch.setenv("SITROOM_TOPIC_ROOT", "from/env")
    settings = load_settings(path)
    assert settings.topic_root == "from/env"
    assert settings.redis_prefix == "f:"


def test_nested_environment_overrides_one_field_of_a_toml_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path / "site.toml",
                      '[ingest]\nclient_id = "from-file"\nbatch_max = 100\n')
    monkeypatch.setenv("SITROOM_INGEST__BATCH_MAX", "7")
    settings = load_settings(path)
    assert settings.ingest.batch_max == 7
    assert settings.ingest.client_id == "from-file"


def test_nested_environment_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITROOM_INGEST__BATCH_MAX", "250")
    monkeypatch.setenv("SITROOM_EMBEDDED__POSTGRES", "15432")
    settings = load_settings()
    assert settings.ingest.batch_max == 250
    assert settings.embedded.postgres == 15432


def test_list_from_environment_is_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITROOM_AGENCIES", '["police", "water"]')
    assert load_settings().agencies == ("police", "water")


def test_keyword_overrides_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITROOM_TOPIC_ROOT", "from/env")
    assert load_settings(topic_root="from/code").topic_root == "from/code"


def test_secret_comes_from_environment_and_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITROOM_AUTH__SECRET_KEY", "s3cr3t-value")
    settings = load_settings()
    assert settings.auth.secret_key is not None
    assert settings.auth.secret_key.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings)


def test_public_mqtt_url_falls_back_to_mqtt_url() -> None:
    assert load_settings().public_mqtt_url is None
    internal = load_settings(mqtt_url="mqtt://ingest:pw@10.0.0.5:1883")
    assert internal.public_mqtt_url == "mqtt://ingest:pw@10.0.0.5:1883"
    both = load_settings(mqtt_url="mqtt://10.0.0.5:1883",
                         mqtt_public_url="mqtt://broker.example.cn:8883")
    assert both.public_mqtt_url == "mqtt://broker.example.cn:8883"


def test_missing_config_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        load_settings(tmp_path / "nope.toml")


def test_directory_as_config_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path)


def test_invalid_value_in_toml_is_refused(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "site.toml", "[ingest]\nbatch_max = 0\n")
    with pytest.raises(ValidationError, match="ingest.batch_max"):
        load_settings(path)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SITROOM_INGEST__BATCH_MAX", "0"),
        ("SITROOM_INGEST__BATCH_MAX", "50001"),
        ("SITROOM_INGEST__MAX_PAYLOAD_BYTES", "255"),
        ("SITROOM_INGEST__RECEIVE_MAXIMUM", "19"),
        ("SITROOM_INGEST__HEARTBEAT_S", "0"),
        ("SITROOM_DASHBOARD_WORKERS", "65"),
        ("SITROOM_DASHBOARD_PORT", "eighty"),
    ],
)
def test_invalid_value_in_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        load_settings()


def test_limits_are_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITROOM_INGEST__BATCH_MAX", "1")
    monkeypatch.setenv("SITROOM_DASHBOARD_WORKERS", "64")
    settings = load_settings()
    assert (settings.ingest.batch_max, settings.dashboard_workers) == (1, 64)


def test_unknown_top_level_key_in_toml_is_refused(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "site.toml", 'topic_rot = "typo"\n')
    with pytest.raises(ValidationError, match="topic_rot"):
        load_settings(path)


def test_unknown_keyword_is_refused() -> None:
    with pytest.raises(ValidationError, match="batchmax"):
        load_settings(batchmax=10)


def test_unknown_key_in_a_toml_section_is_refused(tmp_path: Path) -> None:
    """A typo inside [ingest] must not silently leave the default in force."""
    path = write_toml(tmp_path / "site.toml", "[ingest]\nbatchmax = 10\n")
    with pytest.raises(ValidationError, match="batchmax"):
        load_settings(path)


def test_each_file_gets_its_own_settings(tmp_path: Path) -> None:
    first = write_toml(tmp_path / "a.toml", 'topic_root = "a/v1"\n')
    second = write_toml(tmp_path / "b.toml", 'topic_root = "b/v1"\n')
    assert load_settings(first).topic_root == "a/v1"
    assert load_settings(second).topic_root == "b/v1"
    assert load_settings().topic_root == "sitroom/v1"
    assert isinstance(load_settings(first), Settings)


def test_feeds_are_watched_for_a_minute_by_default_within_bounds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.feeds.stale_s, settings.watched_agencies) == (60.0, DEFAULT_AGENCIES)
    monkeypatch.setenv("SITROOM_FEEDS__STALE_S", "5")
    monkeypatch.setenv("SITROOM_FEEDS__AGENCIES", '["fire", "police"]')
    settings = load_settings()
    assert (settings.feeds.stale_s, settings.watched_agencies) == (5.0, ("fire", "police"))
    for bad in ("4.9", "3601"):
        monkeypatch.setenv("SITROOM_FEEDS__STALE_S", bad)
        with pytest.raises(ValidationError, match="stale_s"):
            load_settings()


def test_a_watched_agency_must_be_one_of_the_agencies() -> None:
    with pytest.raises(ValidationError, match=r"feeds.agencies names \['navy'\]"):
        Settings(feeds=FeedWatchSettings(agencies=("police", "navy")))
    assert Settings(feeds=FeedWatchSettings(agencies=())).watched_agencies == ()
