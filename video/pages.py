"""The browser pages (/field, /watch, /room/{id}): HTML with zh-CN labels, or en via ?lang=en.

Pure: page name and language in, HTML out. Labels the scripts need at run time travel in a
JSON block (`<script type="application/json">`, never executed), so the pages run under a
strict Content-Security-Policy with no inline script.
"""

from __future__ import annotations

import html

import msgspec

from incidents.lang import Lang as Lang  # the one Lang; the server and tests import it here
from incidents.lang import pick


def lang_of(query_value: str | None) -> Lang:
    """`?lang=en` gives English; anything else Chinese."""
    return Lang.of(query_value)


LABELS: dict[str, tuple[str, str]] = {
    # shared
    "connecting": ("连接中", "connecting"),
    "live": ("直播中", "live"),
    "interrupted": ("信号中断", "interrupted"),
    "ended": ("已结束", "ended"),
    "not_found": ("无此视频流", "no such stream"),
    "error": ("错误", "error"),
    "idle": ("未连接", "not connected"),
    "reconnecting": ("重新连接中", "reconnecting"),
    "forbidden": ("无权限", "not allowed"),
    "no_token": ("缺少令牌(token)", "missing token"),
    "unmute": ("点击开启声音", "click to unmute"),
    # field
    "field_title": ("现场视频回传", "Field video"),
    "stream_id": ("视频流编号", "Stream id"),
    "stream_title": ("标题", "Title"),
    "start": ("开始回传", "Start"),
    "stop": ("停止回传", "Stop"),
    "camera_denied": ("无法打开摄像头或麦克风", "camera or microphone unavailable"),
    # watch
    "watch_title": ("视频监看", "Watch"),
    "no_streams": ("未指定视频流(?streams=a,b)", "no streams given (?streams=a,b)"),
    # room
    "room_title": ("视频会商", "Video conference"),
    "join": ("加入会商", "Join"),
    "leave": ("离开", "Leave"),
    "participants": ("参会人员", "Participants"),
    "chat": ("文字交流", "Chat"),
    "send": ("发送", "Send"),
    "message": ("输入消息", "Type a message"),
    "board": ("标绘板", "Annotation board"),
    "clear": ("清除", "Clear"),
    "colour": ("颜色", "Colour"),
    "file": ("发送文件", "Send a file"),
    "file_too_large": ("文件过大", "file too large"),
    "record_start": ("开始录制", "Start recording"),
    "record_stop": ("停止录制", "Stop recording"),
    "recording": ("录制中", "recording"),
    "not_recording": ("未录制", "not recording"),
    "me": ("我", "me"),
    "joined": ("已加入", "joined"),
}

_encoder = msgspec.json.Encoder()


def labels(lang: Lang) -> dict[str, str]:
    """Every label in one language."""
    return {key: pick(pair, lang) for key, pair in LABELS.items()}


def _page(lang: Lang, name: str, title: str, body: str, data: dict[str, object]) -> str:
    config = {"page": name, "lang": lang.tag, "labels": labels(lang), **data}
    # `<` escaped so that no value can close the script element.
    blob = _encoder.encode(config).decode().replace("<", "\\u003c")
    return f"""<!doctype html>
<html lang="{lang.tag}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · sitroom</title>
<link rel="stylesheet" href="/static/video.css">
</head>
<body class="page-{name}">
<script type="application/json" id="sitroom-page">{blob}</script>
{body}
<script src="/static/sitroom-video.js"></script>
<script src="/static/{name}.js"></script>
</body>
</html>
"""


def field_page(lang: Lang) -> str:
    """/field: publish this device's camera and microphone over WHIP."""
    t = labels(lang)
    e = html.escape
    body = f"""<header><h1>{e(t["field_title"])}</h1>
<span id="field-state" class="badge" data-state="idle">{e(t["idle"])}</span></header>
<main class="field">
<form id="field-form">
<label>{e(t["stream_id"])}
<input id="field-stream" required pattern="[A-Za-z0-9][A-Za-z0-9_.\\-]{{0,63}}"></label>
<label>{e(t["stream_title"])} <input id="field-name" maxlength="100"></label>
<button id="field-start" type="submit">{e(t["start"])}</button>
<button id="field-stop" type="button" disabled>{e(t["stop"])}</button>
</form>
<video id="field-preview" autoplay muted playsinline></video>
<p id="field-message" class="message"></p>
</main>"""
    return _page(lang, "field", t["field_title"], body, {})


def watch_page(lang: Lang, max_grid: int) -> str:
    """/watch?streams=a,b: a grid of WHEP players with state badges."""
    t = labels(lang)
    body = f"""<header><h1>{html.escape(t["watch_title"])}</h1></header>
<main id="watch-grid" class="grid"></main>
<p id="watch-message" class="message"></p>"""
    return _page(lang, "watch", t["watch_title"], body, {"maxGrid": max_grid})


def room_page(lang: Lang, room_id: str) -> str:
    """/room/{id}: the conference — videos, participants, chat, board, files, recording."""
    t = labels(lang)
    e = html.escape
    body = f"""<header><h1>{e(t["room_title"])} <span id="room-name"></span></h1>
<span id="room-state" class="badge" data-state="idle">{e(t["idle"])}</span>
<span id="room-recording" class="badge rec" data-rec="off" hidden>{e(t["not_recording"])}</span>
<button id="room-join">{e(t["join"])}</button>
<button id="room-leave" disabled>{e(t["leave"])}</button>
<button id="room-record" hidden>{e(t["record_start"])}</button></header>
<main class="room">
<section id="room-videos" class="grid"></section>
<aside>
<h2>{e(t["participants"])}</h2><ul id="room-participants"></ul>
<h2>{e(t["chat"])}</h2><ol id="room-chat"></ol>
<form id="room-chat-form">
<input id="room-chat-input" maxlength="2000" placeholder="{e(t["message"])}">
<button type="submit">{e(t["send"])}</button></form>
<h2>{e(t["board"])}</h2>
<canvas id="room-board" width="480" height="320"></canvas>
<div><label>{e(t["colour"])} <input id="room-colour" type="color" value="#e53935"></label>
<button id="room-clear" type="button">{e(t["clear"])}</button></div>
<h2>{e(t["file"])}</h2><input id="room-file" type="file"><ul id="room-files"></ul>
</aside>
</main>
<p id="room-message" class="message"></p>"""
    return _page(lang, "room", t["room_title"], body, {"room": room_id})
