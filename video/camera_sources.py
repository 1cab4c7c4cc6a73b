"""Where a camera may be pulled from.

The URL goes to FFmpeg, which opens whatever it is given: `file:` paths, `concat:` lists,
`http` to internal services, other protocols it was built with. Only `rtsp`/`rtsps` (and
`http`/`https` for MJPEG cameras) to hosts on an allow-list, and video files under one
configured directory (demos, training), are pulled; everything else is refused with a message
that says which setting would allow it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

NETWORK_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
"""Schemes a network camera may use."""


class SourceRefused(ValueError):
    """A camera URL that may not be pulled; the message says why and what would allow it."""


def check_source(url: str, hosts: Sequence[str], files: Path | None) -> None:
    """Raise SourceRefused unless `url` is a network camera on an allowed host (`hosts`:
    names, addresses or networks) or a file under the directory `files`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in NETWORK_SCHEMES:
        host = (parts.hostname or "").rstrip(".").lower()
        if not host:
            raise SourceRefused(f"摄像头地址缺少主机 / the camera URL has no host: {url!r}")
        if not host_allowed(host, hosts):
            raise SourceRefused(
                f"摄像头主机 {host} 不在 video.camera_hosts 中 / camera host {host} is not in"
                " video.camera_hosts: add it, or its network (e.g. 10.20.0.0/16), to allow it")
        return
    if scheme in ("", "file") and not parts.netloc:
        path = parts.path if scheme else url
        if not path.startswith("/"):
            # FFmpeg reads "name,options:…" as a protocol (subfile, concat …): never relative.
            raise SourceRefused(f"视频文件须为绝对路径 / a video file is given by its absolute"
                                f" path (got {url!r})")
        _check_file(path, files)
        return
    raise SourceRefused(
        f"不支持的摄像头地址类型 {scheme or '?'}: / camera URLs must be rtsp://, rtsps://,"
        f" http:// or https:// (got {scheme}:)")


def host_allowed(host: str, hosts: Sequence[str]) -> bool:
    """Whether `host` (a name or an address) is one of `hosts` or inside one of its networks."""
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    for entry in hosts:
        allowed = entry.strip().rstrip(".").lower()
        if address is None:
            if host == allowed:
                return True
            continue
        try:
            if address in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue  # a name on the list; an address never matches a name
    return False


def _check_file(path: str, files: Path | None) -> None:
    if files is None:
        raise SourceRefused(
            "不允许以文件作为摄像头 / video files are not allowed as cameras: set"
            " video.camera_files to the directory of demo or training clips")
    # Resolved, so that `..` and symbolic links cannot leave the directory.
    real = Path(os.path.realpath(path))
    root = Path(os.path.realpath(files))
    if not real.is_relative_to(root):
        raise SourceRefused(
            f"文件不在 video.camera_files 目录 {root} 中 / {path} is not under"
            f" video.camera_files ({root})")
