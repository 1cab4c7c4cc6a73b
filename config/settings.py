"""One typed settings object, loaded once at start-up from sitroom.toml and SITROOM_* variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from config.video import VideoSettings

DEFAULT_AGENCIES = ("police", "fire", "health", "weather", "water", "safety", "civil_defence")


class EmbeddedPorts(BaseModel):
    """Loopback ports of the embedded servers; chosen away from 1883/5432/6379."""

    model_config = ConfigDict(extra="forbid")

    mqtt: int = 18830
    postgres: int = 54329
    redis: int = 63790


class IngestSettings(BaseModel):
    """How the MQTT consumer batches, acknowledges and limits."""

    model_config = ConfigDict(extra="forbid")

    feed_crs: dict[str, Literal["wgs84", "gcj02", "bd09"]] = {}
    """Coordinate system of each agency's feeds when a message has no `crs` (default WGS-84),
    e.g. {"police": "gcj02"} for an AVL platform built on AMap; ingest stores WGS-84."""

    client_id: str = "sitroom-ingest"
    """MQTT client id; workers sharing a subscription need distinct ids."""
    shared_group: str | None = None
    """When set, subscribe through `$share/{group}/…` so several workers split the load."""
    batch_max: int = Field(default=2000, ge=1, le=50_000)
    """Most messages committed in one transaction."""
    batch_delay_ms: float = Field(default=4.0, ge=0, le=1000)
    """How long to wait for more messages before committing a non-full batch."""
    commits_in_flight: int = Field(default=4, ge=1, le=8)
    """Batches of positions committed at once (1: strictly one after another)."""
    max_payload_bytes: int = Field(default=64 * 1024, ge=256)
    """Larger payloads are dead-lettered as too_large."""
    receive_maximum: int = Field(default=4000, ge=20, le=65535)
    """MQTT 5 Receive Maximum: unacknowledged messages the broker may send at once."""
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    """How long the broker keeps the persistent session while ingest is away."""
    heartbeat_s: float = Field(default=1.0, gt=0)
    """How often ingest reports its status to the live state."""
    live_interval_ms: float = Field(default=100.0, ge=0, le=1000)
    """Shortest time between two live-state updates: fixes of the same unit in between are
    coalesced (a busy unit reports several times a second; the map needs the latest)."""


class FeedWatchSettings(BaseModel):
    """Which agencies' feeds the wall, the desk and the health report watch, and how long a
    feed may be silent before they say so."""

    model_config = ConfigDict(extra="forbid")

    stale_s: float = Field(default=60.0, ge=5, le=3600)
    """An agency whose newest message is older than this is silent: the pages stop saying
    LIVE and name it. Not below 5 s: ingest reports every second and the pages hear every
    3 s, so a shorter threshold would flicker."""
    agencies: tuple[str, ...] | None = None
    """Agencies expected to publish; unset: every agency of `agencies` (the topic namespace,
    which the MQTT accounts are checked against). Empty: no feed is watched."""


class JournalSettings(BaseModel):
    """Where the journal's head is anchored outside the database, and how often."""

    model_config = ConfigDict(extra="forbid")

    anchor_file: Path | None = None
    """File the signed heads are appended to; unset: `var_dir`/journal-anchors.jsonl (the
    demo). In production put it on the backup site's storage, away from the database host:
    an anchor beside the data it protects is restored or wiped with it."""
    anchor_every_s: float = Field(default=300.0, ge=10, le=3600)
    """How often `sitroom up` anchors the head (a rollback to a copy older than this shows)."""


class AuthSettings(BaseModel):
    """Dashboard authentication: the secret key, sessions and lock-out."""

    model_config = ConfigDict(extra="forbid")

    secret_key: SecretStr | None = None
    """Signs CSRF tokens and derives every other key of the dashboard: at least 32 random
    bytes, from the environment (SITROOM_AUTH__SECRET_KEY), never from a file in the repo."""
    session_idle_minutes: float = Field(default=30, gt=0, le=24 * 60)
    """A session unused this long ends (each request slides it)."""
    session_max_hours: float = Field(default=12, gt=0, le=7 * 24)
    """A session ends this long after sign-in, however busy."""
    max_failed_logins: int = Field(default=5, ge=1, le=100)
    """Consecutive wrong passwords after which the account is locked."""
    lockout_minutes: float = Field(default=15, gt=0, le=24 * 60)
    """How long a locked account stays locked."""
    min_password_length: int = Field(default=10, ge=8, le=128)
    """Shortest password `sitroom user add/passwd` accepts."""
    cookie_secure: bool = False
    """Mark the session cookie Secure: set true whenever the dashboard is served over HTTPS."""
    public_health: bool = True
    """Let probes read /api/health without signing in; they then get only the status word."""
    timezone: str = "Asia/Shanghai"
    """Time zone of the times shown to people (e.g. when a locked account opens again)."""


_TILE_PLACEHOLDERS = {"{TileMatrix}": "{z}", "{TileCol}": "{x}", "{TileRow}": "{y}"}
"""WMTS RESTful/KVP template names and the Leaflet (XYZ) names they stand for."""


class TileServer(BaseModel):
    """An internal raster tile service (XYZ or WMTS in the Web Mercator grid), e.g. a 天地图
    mirror on the private network."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    """Chinese name shown in the layer switcher, e.g. ``天地图矢量``."""
    name_en: str = Field(min_length=1)
    """English name shown in the layer switcher."""
    url: str
    """URL template with ``{z}/{x}/{y}`` (XYZ) or ``{TileMatrix}/{TileCol}/{TileRow}`` (WMTS);
    ``{s}`` picks one of ``subdomains``."""
    attribution: str = Field(min_length=1)
    """Source and licence of the tiles, shown on the map (plain text)."""
    subdomains: str = ""
    """Letters or digits ``{s}`` rotates through, e.g. ``01234567``."""
    min_zoom: int = Field(default=0, ge=0, le=22)
    """Lowest zoom the service has tiles for."""
    max_zoom: int = Field(default=18, ge=0, le=22)
    """Highest zoom the service has tiles for; the map scales its tiles up beyond."""
    tms: bool = False
    """True when rows count from the south (TMS) rather than from the north (XYZ, WMTS)."""
    overlay: bool = False
    """True for a transparent layer drawn over the base (e.g. 天地图 annotation ``cva_w``)."""

    @field_validator("url")
    @classmethod
    def _template(cls, url: str) -> str:
        for wmts, xyz in _TILE_PLACEHOLDERS.items():
            url = url.replace(wmts, xyz)
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
        if missing:
            raise ValueError(f"the tile URL template lacks {', '.join(missing)}: write"
                             " {z}/{x}/{y} (XYZ) or {TileMatrix}/{TileCol}/{TileRow} (WMTS)")
        if not url.startswith(("http://", "https://", "/")):
            raise ValueError("the tile URL must start with http://, https:// or /")
        return url

    @model_validator(mode="after")
    def _subdomains(self) -> TileServer:
        if "{s}" in self.url and not self.subdomains:
            raise ValueError("the tile URL uses {s}: give its subdomains, e.g. \"01234567\"")
        if self.min_zoom > self.max_zoom:
            raise ValueError("min_zoom is above max_zoom")
        return self


class MapSettings(BaseModel):
    """The basemap: local tiles, internal tile services, zoom limit. Nothing set: the vector
    basemap only, and the browser asks no tile from anywhere."""

    model_config = ConfigDict(extra="forbid")

    tiles_file: Path | None = None
    """Raster tiles as an MBTiles (SQLite) or PMTiles file, served by the dashboard itself at
    /tiles/{z}/{x}/{y}.{png,jpg,webp}."""
    tiles_attribution: str | None = None
    """Credit shown for ``tiles_file``; default: the file's own ``attribution`` metadata."""
    tile_servers: tuple[TileServer, ...] = ()
    """Internal XYZ / WMTS tile services offered in the layer switcher."""
    max_zoom: int = Field(default=16, ge=1, le=22)
    """Highest zoom of tile layers; tiles are scaled up beyond the source's own maximum."""


class Settings(BaseSettings):
    """Everything a sitroom process needs to know, validated at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="SITROOM_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    mqtt_url: str | None = None
    """Broker URL, mqtt://user:password@host:port; unset means start the embedded amqtt."""
    mqtt_public_url: str | None = None
    """The broker URL field units should use, when it differs from mqtt_url."""
    mqtt_protocol: str = "auto"
    """MQTT protocol for ingest: 5, 3.1.1, or auto (5 for external brokers, 3.1.1 embedded)."""
    database_url: str | None = None
    """PostgreSQL DSN; unset means start the embedded PostgreSQL."""
    startup_wait_s: float = Field(default=120.0, ge=0, le=3600)
    """How long a start-up step (create the database, migrate, open a pool) waits for
    PostgreSQL to accept connections: it may be starting, or replaying its WAL after an
    unclean stop. Then the process stops and says what to do."""
    cot_tcp_port: int | None = None
    """TCP port for TAK devices streaming CoT (8087 is TAK's usual); unset: off."""
    cot_tcp_host: str = "127.0.0.1"
    """Interface for the CoT TCP input; the TAK devices' network, never 0.0.0.0 by default."""
    cot_tcp_allow: tuple[str, ...] = ()
    """Networks TAK devices may connect from (e.g. 10.20.0.0/16); empty: any, and then the
    input relies on cot_tcp_host being the TAK devices' own network."""
    cot_tls_cert: Path | None = None
    """Server certificate (PEM) for CoT over TLS (TAK's streaming TLS, usually port 8089)."""
    cot_tls_key: Path | None = None
    """Its private key (PEM)."""
    cot_tls_ca: Path | None = None
    """CA (PEM) that signs the TAK devices' client certificates; set, a device must present
    one (mutual TLS, as TAK servers require)."""
    cot_agency: str = "police"
    """Agency namespace the CoT TCP input publishes under."""
    cot_source: str = "cot-tcp"
    """Source name of the CoT TCP input (its receipts and outbox)."""
    rules_file: Path | None = None
    """Rules (thresholds, hazardous sites, sensitive areas, correlation); default: the shipped
    config/rules.toml (Xingtai demo data)."""
    mqtt_accounts: Path | None = None
    """MQTT accounts file (see config/accounts.example.toml): enforced by the embedded broker,
    and rendered as a Mosquitto ACL by `sitroom accounts acl`. Unset: the open demo broker."""
    redis_url: str | None = None
    """Redis URL; unset means start the embedded redis-server."""
    redis_prefix: str = "sitroom:"
    """Prefix of every Redis key and channel, so several deployments can share a server."""
    topic_root: str = "sitroom/v1"
    """Root of every MQTT topic."""
    agencies: tuple[str, ...] = DEFAULT_AGENCIES
    """Agencies allowed as the first topic segment."""
    var_dir: Path = Path("var")
    """Where embedded servers keep their data, and where logs and outboxes go."""
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8050
    dashboard_threads: int = 8
    """Worker threads of the dashboard's WSGI server."""
    dashboard_workers: int = Field(default=1, ge=1, le=64)
    """Dashboard worker processes sharing dashboard_port (SO_REUSEPORT); each follows the
    live state through Redis and serves its own browsers' live streams."""
    unit_online_s: int = 300
    """A unit is online if its last position is at most this old."""
    bulk_max_incidents: int = Field(default=200, ge=1, le=10_000)
    """Incidents one bulk close or merge may name (desk and POST /api/incidents/bulk): each is
    its own transaction, so a larger batch holds a request thread longer."""
    journal_key: SecretStr | None = None
    """HMAC key of the incident journal (SITROOM_JOURNAL_KEY): from the environment, never
    stored in the database; the same on every ingest and dashboard worker."""
    journal: JournalSettings = JournalSettings()
    """Anchors of the journal head (SITROOM_JOURNAL__ANCHOR_FILE, …ANCHOR_EVERY_S)."""
    embedded: EmbeddedPorts = EmbeddedPorts()
    ingest: IngestSettings = IngestSettings()
    feeds: FeedWatchSettings = FeedWatchSettings()
    """Feeds watched for silence (SITROOM_FEEDS__STALE_S, SITROOM_FEEDS__AGENCIES)."""
    auth: AuthSettings = AuthSettings()
    """Dashboard sign-in: the secret key, sessions, lock-out."""
    video: VideoSettings = VideoSettings()
    """Video server (WHIP/WHEP relay, conference rooms); env SITROOM_VIDEO__*."""
    map: MapSettings = MapSettings()
    """The basemap: local tiles file, internal tile services (see docs/maps.md)."""

    @property
    def anchor_file(self) -> Path:
        """Where the journal's anchors are kept."""
        return self.journal.anchor_file or self.var_dir / "journal-anchors.jsonl"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order: explicit arguments, then environment, then the TOML file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file") is not None:
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)

    @model_validator(mode="after")
    def _watched_agencies(self) -> Settings:
        unknown = set(self.feeds.agencies or ()) - set(self.agencies)
        if unknown:
            raise ValueError(f"feeds.agencies names {sorted(unknown)}, which are not among the"
                             f" agencies {list(self.agencies)}")
        return self

    @property
    def watched_agencies(self) -> tuple[str, ...]:
        """The agencies whose feeds are expected (see FeedWatchSettings.agencies)."""
        return self.agencies if self.feeds.agencies is None else self.feeds.agencies

    @property
    def public_mqtt_url(self) -> str | None:
        """The broker URL to give field units."""
        return self.mqtt_public_url or self.mqtt_url


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from `path` (or ./sitroom.toml if present) and the environment."""
    if path is None and Path("sitroom.toml").is_file():
        path = Path("sitroom.toml")
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"settings file {path} does not exist; pass an existing --config")
    if path is None:
        return Settings(**overrides)
    # pydantic-settings reads the TOML path from the class, so each file gets a subclass.
    from_file = type(
        "Settings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}}
    )
    return cast(Settings, from_file(**overrides))
