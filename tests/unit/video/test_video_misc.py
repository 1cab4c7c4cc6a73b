"""Settings refusal, pages, the numbered pattern and camera backoff."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pydantic import SecretStr, ValidationError

from config.video import VideoConfigError, VideoSettings, secret_bytes
from video.cameras import Backoff, CameraSpec, check_spec, redacted
from video.pages import Lang, field_page, lang_of, room_page, watch_page
from video.pattern import PatternTrack, draw_number, frame_number, read_number
from video.server import build_app


@pytest.mark.parametrize("secret", [None, "changeme", "secret", "short-but-random-x9"])
def test_the_server_refuses_a_missing_short_or_default_secret(secret: str | None) -> None:
    settings = VideoSettings(token_secret=SecretStr(secret) if secret else None)
    with pytest.raises(VideoConfigError):
        secret_bytes(settings)
    with pytest.raises(VideoConfigError):
        build_app(settings)


def test_a_long_random_secret_is_accepted() -> None:
    value = "Zq3v8-yT1mNwP0kLrS7dXe2Hc9Ub4Aa6"
    assert secret_bytes(VideoSettings(token_secret=SecretStr(value))) == value.encode()


def test_settings_come_from_nested_environment_names() -> None:
    settings = VideoSettings.model_validate({"port": "8070", "ice_servers": [
        {"urls": ["turn:10.0.0.1:3478"], "username": "u", "credential": "p"}]})
    assert settings.port == 8070 and settings.ice_servers[0].credential is not None


def test_pages_are_chinese_first_and_english_on_request() -> None:
    assert lang_of(None) is Lang.ZH and lang_of("en") is Lang.EN and lang_of("fr") is Lang.ZH
    zh, en = field_page(Lang.ZH), field_page(Lang.EN)
    assert '<html lang="zh-CN">' in zh and "现场视频回传" in zh and "开始回传" in zh
    assert '<html lang="en">' in en and "Field video" in en and "现场视频回传" not in en
    assert "视频监看" in watch_page(Lang.ZH, 16) and '"maxGrid":16' in watch_page(Lang.ZH, 16)
    page = room_page(Lang.EN, "abc")
    assert '"room":"abc"' in page and "Video conference" in page


def test_pages_load_nothing_from_elsewhere_and_run_no_inline_script() -> None:
    for page in (field_page(Lang.ZH), watch_page(Lang.EN, 4), room_page(Lang.ZH, "r")):
        assert "http://" not in page and "https://" not in page and "//cdn" not in page
        scripts = page.count("<script")
        assert scripts == page.count('<script src="/static/') + page.count(
            '<script type="application/json"')


def test_the_page_data_cannot_close_its_script_element() -> None:
    page = room_page(Lang.ZH, "x</script><script>alert(1)</script>")
    assert "</script><script>alert" not in page


@pytest.mark.parametrize("number", [0, 1, 77, 65_535, (1 << 20) - 1])
def test_pattern_numbers_round_trip(number: int) -> None:
    luma = np.full((480, 640), 90, dtype=np.uint8)
    draw_number(luma, number)
    assert read_number(luma) == number


def test_a_picture_without_a_number_reads_as_none() -> None:
    assert read_number(np.full((480, 640), 90, dtype=np.uint8)) is None


async def test_the_pattern_track_numbers_and_paces_its_frames() -> None:
    track = PatternTrack(fps=100, first_number=10)
    started = asyncio.get_running_loop().time()
    frames = [await track.recv() for _ in range(5)]
    assert asyncio.get_running_loop().time() - started >= 0.035
    assert [frame_number(f) for f in frames] == [10, 11, 12, 13, 14]
    assert sorted(track.sent) == [10, 11, 12, 13, 14]


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(base_s=1, cap_s=5, rand=lambda: 1.0)
    assert [backoff.next() for _ in range(5)] == [1, 2, 4, 5, 5]
    backoff.reset()
    assert Backoff(base_s=1, cap_s=5, rand=lambda: 0.0).next() == 0.5
    assert backoff.next() == 1


@pytest.mark.parametrize("spec", [
    CameraSpec(id="bad id", url="rtsp://x"), CameraSpec(id="c", url=""),
    CameraSpec(id="c", url="rtsp://x", lat=37.0), CameraSpec(id="c", url="x", lat=91, lon=0),
])
def test_bad_camera_specs_are_refused(spec: CameraSpec) -> None:
    with pytest.raises(ValueError):
        check_spec(spec, VideoSettings(camera_hosts=("x",)))


def test_settings_cameras_are_the_video_servers_camera_model() -> None:
    # As the settings file (or SITROOM_VIDEO__CAMERAS) gives them: tables.
    settings = VideoSettings.model_validate({"cameras": [
        {"id": "cam-1", "url": "rtsp://x", "lat": 37.0, "lon": 114.5}]})
    assert settings.cameras == (CameraSpec(id="cam-1", url="rtsp://x", lat=37.0, lon=114.5),)
    assert VideoSettings(cameras=settings.cameras).cameras == settings.cameras
    with pytest.raises(ValidationError, match="port"):
        VideoSettings.model_validate({"cameras": [{"id": "c", "url": "rtsp://x", "port": 554}]})


def test_camera_credentials_are_kept_out_of_logs() -> None:
    assert redacted("rtsp://admin:hunter2@10.1.2.3:554/ch1?x=1") == "rtsp://***@10.1.2.3:554/ch1"
    assert redacted("rtsp://10.1.2.3/ch1") == "rtsp://10.1.2.3/ch1"
    assert redacted("/data/clip.mkv") == "/data/clip.mkv"
