"""Camera URLs are what FFmpeg opens: only rtsp(s)/http(s) to allow-listed hosts, and files
under the configured directory; every other source is refused with what would allow it."""

from __future__ import annotations

from pathlib import Path

import pytest

from video.camera_sources import SourceRefused, check_source, host_allowed

HOSTS = ("10.20.0.0/16", "cam-gate.xt.gov", "192.0.2.7")


@pytest.mark.parametrize("url", [
    "rtsp://admin:pw@10.20.3.4:554/Streaming/Channels/101",
    "rtsps://cam-gate.xt.gov/live", "RTSP://CAM-GATE.XT.GOV./live",
    "http://192.0.2.7/mjpeg", "https://[::ffff:10.20.1.1]/video",
])
def test_network_cameras_on_allowed_hosts_are_pulled(url: str) -> None:
    check_source(url, HOSTS, None)


@pytest.mark.parametrize(("url", "says"), [
    ("file:///etc/passwd", "video.camera_files"),
    ("/etc/passwd", "video.camera_files"),
    ("http://127.0.0.1:6379/", "127.0.0.1 is not in video.camera_hosts"),
    ("http://169.254.169.254/latest/meta-data/", "not in video.camera_hosts"),
    ("rtsp://10.21.0.1/live", "10.21.0.1 is not in video.camera_hosts"),
    ("rtsp://cam-gate.xt.gov.evil.example/live", "not in video.camera_hosts"),
    ("http://0x7f.1/", "not in video.camera_hosts"),
    ("concat:/etc/passwd|/etc/shadow", "must be rtsp://"),
    ("ftp://10.20.0.5/clip.mp4", "must be rtsp://"),
    ("subfile,,start,0,end,100,,:/etc/passwd", "absolute path"),
    ("clips/yard.mkv", "absolute path"),
    ("rtsp:///nohost", "has no host"),
])
def test_everything_else_is_refused_with_what_would_allow_it(url: str, says: str) -> None:
    with pytest.raises(SourceRefused, match=says.replace(".", r"\.")):
        check_source(url, HOSTS, None)


def test_files_only_under_the_clips_directory(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "yard.mkv").write_bytes(b"")
    check_source(str(clips / "yard.mkv"), (), clips)
    check_source(f"file://{clips / 'yard.mkv'}", (), clips)
    escape = clips / "link"
    escape.symlink_to("/etc")
    for url in (str(clips / ".." / "secret.mkv"), str(escape / "passwd"), "/etc/passwd"):
        with pytest.raises(SourceRefused, match="is not under video.camera_files"):
            check_source(url, (), clips)


def test_an_empty_allow_list_allows_no_network_camera() -> None:
    assert not host_allowed("10.20.0.1", ())
    with pytest.raises(SourceRefused, match="video.camera_hosts"):
        check_source("rtsp://10.20.0.1/live", (), None)
