"""Video server settings; the lead mounts them as `Settings.video` (env `SITROOM_VIDEO__*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

MIN_SECRET_CHARS = 32
"""A token secret shorter than this is refused: it could be guessed offline from one token."""

KNOWN_DEFAULT_SECRETS = frozenset({
    "changeme", "change-me", "change_me", "secret", "sitroom", "video", "password", "dev",
    "development", "test", "default", "insecure", "please-change-me",
    "sitroom-video-secret", "sitroom-dev-secret", "00000000000000000000000000000000",
})
"""Values seen in examples and templates; the server refuses to sign tokens with them."""


class VideoConfigError(ValueError):
    """The video settings cannot be used as they are (for example, no token secret)."""


class IceServer(BaseModel):
    """One STUN or TURN server handed to aiortc and to the browser pages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: tuple[str, ...]
    """`stun:host:port` or `turn:host:port?transport=udp` URLs."""
    username: str | None = None
    """TURN user name; unused for STUN."""
    credential: SecretStr | None = None
    """TURN password; unused for STUN."""


class CameraSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A camera to pull (RTSP URL or file): in the settings, the `POST /api/cameras` body and
    `sitroom camera add` arguments alike; video.cameras.check_spec checks it before use."""

    id: str
    """Stream id of the camera."""
    url: str
    """rtsp://user:password@host/path (a host in video.camera_hosts), or a file under
    video.camera_files (demos, training); credentials never reach the logs."""
    name: str = ""
    """Title shown on the map and in players."""
    lat: float | None = None
    """Where the camera is (WGS 84)."""
    lon: float | None = None
    """Where the camera is (WGS 84)."""
    rtsp_transport: str = "tcp"
    """FFmpeg's rtsp_transport (tcp passes firewalls and NAT best)."""
    loop: bool = False
    """Replay a file forever (demo); an RTSP source ignores it."""


def _cameras(value: object) -> object:
    """Cameras from the settings' tables (TOML, or JSON in the environment) as CameraSpec."""
    if isinstance(value, list | tuple) and all(isinstance(v, CameraSpec) for v in value):
        return tuple(value)
    return msgspec.convert(value, tuple[CameraSpec, ...])


Cameras = Annotated[tuple[CameraSpec, ...], BeforeValidator(_cameras)]
"""The one camera model (a msgspec struct, as the video server speaks) inside pydantic settings;
msgspec's ValidationError is a ValueError, which pydantic reports with the field's path."""


class VideoSettings(BaseModel):
    """Where the video server listens, how it signs tokens, relays, records and limits."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)  # CameraSpec

    host: str = "127.0.0.1"
    """Interface of the HTTP server (pages, WHIP/WHEP, API)."""
    port: int = Field(default=8060, ge=0, le=65535)
    """HTTP port; 0 picks a free one (tests)."""
    public_url: str | None = None
    """Base URL browsers reach the video server at (behind a proxy); default http://host:port."""
    token_secret: SecretStr | None = None
    """HMAC key of the bearer tokens, shared with the dashboard; from the environment only."""
    ice_servers: tuple[IceServer, ...] = ()
    """STUN/TURN servers; empty means host candidates only (one private network)."""
    recordings_dir: Path = Path("var/recordings")
    """Where conference recordings are written, one Matroska file per participant."""
    max_grid: int = Field(default=16, ge=1, le=16)
    """Most players on one /watch page."""
    max_participants: int = Field(default=12, ge=2, le=32)
    """Most participants in one conference room."""
    max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    """Largest file a participant may send to a room."""
    video_bitrate: int = Field(default=1_000_000, ge=100_000, le=8_000_000)
    """Target bit rate of each stream's shared VP8 encoder, in bits per second."""
    keyframe_interval_s: float = Field(default=10.0, gt=0)
    """A keyframe at least this often, so a viewer that lost packets recovers on its own."""
    interrupted_ttl_s: float = Field(default=600.0, gt=0)
    """A stream interrupted this long is ended and, once nobody watches it, forgotten."""
    maintenance_s: float = Field(default=5.0, gt=0)
    """How often stream positions follow their units and expired streams are ended."""
    cameras: Cameras = ()
    """Cameras pulled from start-up (more can be added at run time: POST /api/cameras)."""
    camera_hosts: tuple[str, ...] = ()
    """Hosts cameras may be pulled from over rtsp(s)/http(s): names, addresses or networks
    (`10.20.0.0/16`). Empty: no network camera (the video server's own network is not
    implied: FFmpeg would fetch whatever internal address it is given)."""
    camera_files: Path | None = None
    """Directory whose video files may serve as cameras (demos, training); unset: none."""


def secret_bytes(settings: VideoSettings) -> bytes:
    """The token secret as bytes, or VideoConfigError when it is missing, short or a default."""
    if settings.token_secret is None:
        raise VideoConfigError(
            "video.token_secret is not set: export SITROOM_VIDEO__TOKEN_SECRET="
            "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    value = settings.token_secret.get_secret_value()
    if value.strip().lower() in KNOWN_DEFAULT_SECRETS:
        raise VideoConfigError("video.token_secret is a well-known default; generate a new one")
    if len(value) < MIN_SECRET_CHARS:
        raise VideoConfigError(
            f"video.token_secret has {len(value)} characters; use at least {MIN_SECRET_CHARS}")
    return value.encode()


def public_base(settings: VideoSettings) -> str:
    """The video server's base URL as browsers reach it (no trailing slash)."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
