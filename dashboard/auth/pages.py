"""The sign-in, sign-out and refusal pages: bilingual HTML, rendered on the server.

Chinese comes first by default; `?lang=en` puts English first. Every value is escaped by
Jinja's autoescape; the pages load nothing but /auth/login.css and run no script, so their
Content-Security-Policy allows nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response
from jinja2 import DictLoader, Environment

from incidents.lang import Lang as Lang  # the one Lang; the login views import it from here

LOGIN_CSS_PATH = "/auth/login.css"
"""The pages' stylesheet, public like the pages themselves."""

_CSP = ("default-src 'none'; style-src 'self'; img-src data:; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'")


@dataclass(frozen=True, slots=True)
class Text:
    """One message in both languages."""

    zh: str
    """Chinese (zh-CN)."""
    en: str
    """English."""

    def first(self, lang: Lang | str) -> str:
        """The text in the page's language (templates pass the language code)."""
        return self.en if Lang.of(lang) is Lang.EN else self.zh

    def second(self, lang: Lang | str) -> str:
        """The text in the other language."""
        return self.zh if Lang.of(lang) is Lang.EN else self.en


@dataclass(frozen=True, slots=True)
class Message:
    """A notice shown above a form."""

    text: Text
    """What to say."""
    error: bool = True
    """Red for errors, green for information."""


ORG = Text("应急指挥中心", "Emergency Command Centre")
SIGN_IN = Text("登录", "Sign in")
SIGN_OUT = Text("退出登录", "Sign out")
USERNAME = Text("用户名", "User name")
PASSWORD = Text("密码", "Password")
BACK = Text("返回态势图", "Back to the situation map")
OTHER_USER = Text("以其他身份登录", "Sign in as someone else")

_TEMPLATES = {
    "base.html": """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{ css }}">
<title>{{ title.first(lang) }} · {{ org.first(lang) }}</title>
</head>
<body class="auth-page">
<main class="auth-card">
<h1 class="auth-org">{{ org.first(lang) }}</h1>
<p class="auth-org-second" lang="{{ other }}">{{ org.second(lang) }}</p>
<h2 class="auth-title">{{ title.first(lang) }}<span class="second" lang="{{ other }}">{{
  title.second(lang) }}</span></h2>
{% if message %}
<div id="auth-message" class="auth-message {{ 'auth-error' if message.error else 'auth-info' }}"
  role="{{ 'alert' if message.error else 'status' }}">
<p lang="{{ lang }}">{{ message.text.first(lang) }}</p>
<p lang="{{ other }}">{{ message.text.second(lang) }}</p>
</div>
{% endif %}
{% block body %}{% endblock %}
</main>
</body>
</html>
""",
    "login.html": """{% extends "base.html" %}
{% block body %}
<form class="auth-form" method="post" action="/login?lang={{ lang }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next_path }}">
<label for="username">{{ t.username.first(lang) }}<span class="second" lang="{{ other }}">{{
  t.username.second(lang) }}</span></label>
<input type="text" id="username" name="username" value="{{ username }}" autocomplete="username"
  autocapitalize="none" spellcheck="false" required{{ '' if username else ' autofocus' }}>
<label for="password">{{ t.password.first(lang) }}<span class="second" lang="{{ other }}">{{
  t.password.second(lang) }}</span></label>
<input type="password" id="password" name="password" autocomplete="current-password"
  required{{ ' autofocus' if username else '' }}>
<button type="submit" class="auth-button" id="login-submit">{{ title.first(lang) }}
  <span lang="{{ other }}">{{ title.second(lang) }}</span></button>
</form>
<p class="auth-links"><a href="{{ switch_url }}" id="lang-switch" lang="{{ other }}">{{
  'English' if lang == 'zh-CN' else '中文' }}</a></p>
{% endblock %}
""",
    "logout.html": """{% extends "base.html" %}
{% block body %}
<form class="auth-form" method="post" action="/logout?lang={{ lang }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<p>{{ who }}</p>
<button type="submit" class="auth-button" id="logout-submit">{{ title.first(lang) }}
  <span lang="{{ other }}">{{ title.second(lang) }}</span></button>
</form>
<p class="auth-links"><a href="/">{{ t.back.first(lang) }} · <span lang="{{ other }}">{{
  t.back.second(lang) }}</span></a></p>
{% endblock %}
""",
    "problem.html": """{% extends "base.html" %}
{% block body %}
<p class="auth-links"><a href="/">{{ t.back.first(lang) }} · <span lang="{{ other }}">{{
  t.back.second(lang) }}</span></a>
 | <a href="/logout">{{ t.other_user.first(lang) }} · <span lang="{{ other }}">{{
  t.other_user.second(lang) }}</span></a></p>
{% endblock %}
""",
}

_env = Environment(loader=DictLoader(_TEMPLATES), autoescape=True, auto_reload=False)
_WORDS = {"username": USERNAME, "password": PASSWORD, "back": BACK, "other_user": OTHER_USER}


def _render(template: str, lang: Lang, title: Text, message: Message | None,
            **values: object) -> str:
    # Templates write the BCP 47 tag (zh-CN / en) into lang attributes and links.
    return _env.get_template(template).render(
        lang=lang.tag, other=lang.other.tag, title=title, org=ORG, message=message,
        css=LOGIN_CSS_PATH, t=_WORDS, **values)


def render_login(lang: Lang, csrf: str, next_path: str, username: str = "",
                 message: Message | None = None, switch_url: str = "/login") -> str:
    """The sign-in form."""
    return _render("login.html", lang, SIGN_IN, message, csrf=csrf, next_path=next_path,
                   username=username, switch_url=switch_url)


def render_logout(lang: Lang, csrf: str, display_name: str, username: str) -> str:
    """The sign-out confirmation for a signed-in user (sign-out itself is a POST)."""
    who = (f"{display_name}（{username}）" if lang is Lang.ZH
           else f"{display_name} ({username})")
    return _render("logout.html", lang, SIGN_OUT, None, csrf=csrf, who=who)


def render_problem(lang: Lang, title: Text, message: Text) -> str:
    """A page that says why a request was refused (403, 503)."""
    return _render("problem.html", lang, title, Message(message))


def html_response(body: str, status: int = 200) -> Response:
    """An auth page with headers that keep it out of caches and frames."""
    return Response(body, status=status, mimetype="text/html", headers={
        "Content-Security-Policy": _CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    })
