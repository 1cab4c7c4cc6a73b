"""Sign-in pages: redirects stay on the site, lock-out messages, escaping, both languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.auth.login_page import BAD_CREDENTIALS, locked_text, safe_next
from dashboard.auth.pages import Lang, Message, Text, render_login, render_logout, render_problem


@pytest.mark.parametrize("target", [
    None, "", "https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)", "evil.example",
    "http:/evil.example", "/login", "/logout", "/%0a",
])
def test_next_outside_the_site_goes_home(target: str | None) -> None:
    assert safe_next(target) in ("/", "/%0a")
    assert safe_next(target) == "/" or target == "/%0a"


@pytest.mark.parametrize("target", ["/", "/incidents/42?tab=map", "/api/units", "/a/b#c"])
def test_local_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


def test_locked_text_says_when_in_beijing_time_and_minutes() -> None:
    now = datetime(2026, 3, 1, 6, 0, 30, tzinfo=UTC)
    text = locked_text(now + timedelta(minutes=14, seconds=40), now, "Asia/Shanghai")
    assert "14:15" in text.zh and "15 分钟" in text.zh
    assert "14:15" in text.en and "15 min" in text.en
    assert "锁定" in text.zh and "locked" in text.en


def test_login_page_escapes_and_puts_chinese_first() -> None:
    html = render_login(Lang.ZH, "tok'en", "/x?a=1&b=2", '"><script>alert(1)</script>',
                        Message(BAD_CREDENTIALS))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert 'value="tok&#39;en"' in html
    assert 'value="/x?a=1&amp;b=2"' in html
    assert '<html lang="zh-CN">' in html
    assert html.index("用户名或密码错误") < html.index("Wrong user name or password")
    assert "<script" not in html.replace("&lt;script", ""), "the page runs no script"
    assert "http://" not in html and "https://" not in html, "nothing from elsewhere"


def test_login_page_in_english_puts_english_first() -> None:
    html = render_login(Lang.of("en"), "t", "/", message=Message(BAD_CREDENTIALS))
    assert '<html lang="en">' in html
    assert html.index("Wrong user name or password") < html.index("用户名或密码错误")
    assert html.index("Sign in") < html.index("登录")


def test_logout_and_problem_pages() -> None:
    html = render_logout(Lang.ZH, "csrf-1", "王<伟>", "wangwei")
    assert 'name="csrf_token" value="csrf-1"' in html and 'action="/logout' in html
    assert "王&lt;伟&gt;（wangwei）" in html
    problem = render_problem(Lang.ZH, Text("无权访问", "Access denied"),
                             Text("角色不够", "role too low"))
    assert "无权访问" in problem and "Access denied" in problem and "role too low" in problem
