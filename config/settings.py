"""One typed settings object, loaded once at start-up from sitroom.toml and SITROOM_* variables."""

from __future__ import annotations

import ipaddress
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


class DispatchSettings(BaseModel):
    """The dispatch dialog's far-unit warnings, stale orders and invariant checks."""

    model_config = ConfigDict(extra="forbid")

    warn_distance_km: float = Field(default=15.0, gt=0, le=1000)
    """A unit farther than this (straight line) from the incident is marked far, with its
    distance, in the dialog's options and proposed slots."""
    warn_travel_min: float = Field(default=20.0, gt=0, le=24 * 60)
    """A unit whose estimated travel time is longer than this is marked far too."""
    speed_kmh: float = Field(default=40.0, ge=5, le=200)
    """One average speed for every kind of unit, over the straight-line distance, for the
    estimated travel time (a rough figure: no road network is consulted)."""

    stale_order_s: float = Field(default=1800.0, ge=60, le=86_400)
    """An order issued, acknowledged or en route with no progress (no ack) for this long is
    flagged "no progress" on the desk, and its unit becomes unknown (not proposed) until it
    reports again. On-scene orders are not flagged: work there may rightly take hours. Not
    below 60 s: acks of a unit driving through a tunnel may take that long."""
    check_every_s: float = Field(default=60.0, ge=5, le=3600)
    """How often the dashboard checks the invariants (`sitroom check`) and flags stale orders;
    the desk shows a warning while a check fails. Each check is three indexed queries."""


class JournalSettings(BaseModel):
    """Where the journal's head is anchored outside the database, and how often."""

    model_config = ConfigDict(extra="forbid")

    anchor_file: Path | None = None
    """File the signed heads are appended to; unset: `var_dir`/journal-anchors.jsonl (the
    demo). In production put it on the backup site's storage, away from the database host:
    an anchor beside the data it protects is restored or wiped with it."""
    anchor_every_s: float = Field(default=300.0, ge=10, le=3600)
    """How often `sitroom up` anchors the head (a rollback to a copy older than this shows)."""


class DeskSettings(BaseModel):
    """How much the leader's desk lists hold (the browser draws only the visible rows)."""

    model_config = ConfigDict(extra="forbid")

    max_incidents: int = Field(default=2000, ge=10, le=20_000)
    """Most incidents the incident list reads, most recent first: a city's bad day has a
    thousand open incidents, and every one of them must be findable in the list."""
    max_alarms: int = Field(default=10_000, ge=10, le=100_000)
    """Most alarms of the last 24 hours the alarm list reads, newest first."""


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
    """Consecutive wrong passwords from outside `trusted_networks` after which the account is
    locked to sign-ins from outside them."""
    lockout_minutes: float = Field(default=15, gt=0, le=24 * 60)
    """How long a locked account stays locked; also how long an address's wrong passwords
    are remembered."""
    trusted_networks: tuple[str, ...] = ()
    """The command centre's own addresses or networks (`10.10.0.0/16`): sign-ins from them
    are not held by an account lock that failures from elsewhere set, so a leader under
    attack can still sign in at the desk. Per-address back-off still applies to them."""
    address_free_failures: int = Field(default=5, ge=1, le=100)
    """Wrong passwords from one address before each further attempt from it must wait."""
    address_max_wait_s: float = Field(default=900, ge=1, le=24 * 3600)
    """Longest wait between attempts from one address (the wait doubles from 1 s)."""
    password_checks: int = Field(default=2, ge=1, le=64)
    """Password checks (Argon2, ~0.1 s of a core each) one dashboard process runs at once."""
    password_queue: int = Field(default=16, ge=0, le=1024)
    """Sign-ins that may wait for a check; beyond that they are answered "busy" at once."""

    @field_validator("trusted_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad entry
        return value
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
    cot_tcp_max_clients: int = Field(default=256, ge=1, le=10_000)
    """TAK connections open at once; more are refused (and counted) at connect."""
    cot_tcp_max_per_address: int = Field(default=8, ge=1, le=10_000)
    """TAK connections open at once from one address (one device, or one NAT'd station)."""
    cot_tcp_idle_s: float = Field(default=300.0, ge=5, le=24 * 3600)
    """A TAK connection that sends nothing (not even a ping) this long is closed; TAK
    clients ping every 15–60 s."""
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
    dashboard_max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024,
                                          le=256 * 1024 * 1024)
    """Largest request body the dashboard accepts, on every route and Dash callback alike;
    a larger one is answered 413 from its headers, before the body is read."""
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
    dispatch: DispatchSettings = DispatchSettings()
    """The dispatch dialog's far-unit marks and stale orders and invariant checks
    (SITROOM_DISPATCH__WARN_DISTANCE_KM, …WARN_TRAVEL_MIN, …SPEED_KMH, …STALE_ORDER_S,
    …CHECK_EVERY_S)."""


    desk: DeskSettings = DeskSettings()
    """The desk's lists (SITROOM_DESK__MAX_INCIDENTS, SITROOM_DESK__MAX_ALARMS)."""
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
