"""Room messages: validation, stamping, routing to the others, the log, file transfers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from video.rooms import Annotate, LineString, MessageError, Room, decode_message


def room(max_file_bytes: int = 1000) -> Room:
    """A room with three participants."""
    made = Room("r1", "inc-1", "会商", "li.wei", 0.0, max_file_bytes)
    for name in ("li.wei", "zhang", "wang"):
        made.add(name, "leader", f"s-{name}")
    return made


def who(r: Room, name: str) -> Any:
    """The participant called `name`."""
    return next(p for p in r.participants.values() if p.name == name)


def test_a_chat_line_goes_to_the_others_stamped_and_logged() -> None:
    r = room()
    sender = who(r, "li.wei")
    [delivery] = r.handle(sender, json.dumps({"type": "chat", "text": "请报告水位"}), 12.5)
    assert set(delivery.to) == set(r.participants) - {sender.id}
    doc = json.loads(delivery.text)
    assert doc == {"type": "chat", "text": "请报告水位", "seq": 1, "ts": 12.5,
                   "from": sender.id, "name": "li.wei"}
    assert r.log == [doc]


def test_an_annotation_becomes_a_feature_with_its_author() -> None:
    r = room()
    message = {"type": "annotation", "color": "#00ff00", "layer": "map",
               "geometry": {"type": "Polygon", "coordinates": [
                   [[114.5, 37.0], [114.6, 37.0], [114.6, 37.1], [114.5, 37.0]]]}}
    [delivery] = r.handle(who(r, "zhang"), json.dumps(message), 1.0)
    feature = json.loads(delivery.text)["feature"]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Polygon"
    assert feature["properties"] == {"color": "#00ff00", "label": "", "layer": "map",
                                     "author": "zhang"}


@pytest.mark.parametrize("raw", [
    "not json", "{}", '{"type": "chat"}', '{"type": "chat", "text": ""}',
    '{"type": "chat", "text": "x", "admin": true}',
    '{"type": "annotation", "geometry": {"type": "LineString", "coordinates": [[0, 0]]}}',
    '{"type": "annotation", "color": "red", "geometry": {"type": "Point", "coordinates": [0, 0]}}',
    '{"type": "annotation", "geometry": {"type": "Polygon", "coordinates": '
    '[[[0, 0], [1, 0], [1, 1], [0, 1]]]}}',
    '{"type": "annotation", "geometry": {"type": "Circle", "coordinates": [0, 0]}}',
    '{"type": "file", "id": "../x", "name": "a", "size": 3}',
    '{"type": "shell", "cmd": "rm"}',
])
def test_invalid_messages_are_refused(raw: str) -> None:
    with pytest.raises(MessageError):
        decode_message(raw)


def test_a_refused_message_is_answered_to_its_sender_only() -> None:
    r = room()
    sender = who(r, "wang")
    [delivery] = r.handle(sender, '{"type": "chat", "text": ""}', 1.0)
    assert delivery.to == (sender.id,)
    assert json.loads(delivery.text)["type"] == "error"
    assert r.log == []


def test_a_decoded_annotation_is_typed() -> None:
    message = decode_message('{"type": "annotation", "geometry": {"type": "LineString", '
                             '"coordinates": [[0.1, 0.2], [0.3, 0.4]]}}')
    assert isinstance(message, Annotate) and isinstance(message.geometry, LineString)
    assert message.geometry.coordinates == [(0.1, 0.2), (0.3, 0.4)]


def test_a_file_goes_through_within_its_announced_size() -> None:
    r = room(max_file_bytes=10)
    sender = who(r, "li.wei")
    start = r.handle(sender, json.dumps({"type": "file", "id": "f1", "name": "a.txt",
                                         "size": 6}), 1.0)
    assert json.loads(start[0].text)["file"] == "a.txt"
    for part in (b"abc", b"def"):
        chunk = {"type": "file-chunk", "id": "f1", "seq": 0,
                 "data": base64.b64encode(part).decode()}
        [delivery] = r.handle(sender, json.dumps(chunk), 1.0)
        assert json.loads(delivery.text)["type"] == "file-chunk"
    [end] = r.handle(sender, '{"type": "file-end", "id": "f1"}', 2.0)
    assert json.loads(end.text)["size"] == 6
    assert r.log[-1]["type"] == "file-end"


def test_files_over_the_limit_or_their_size_are_stopped() -> None:
    r = room(max_file_bytes=10)
    sender = who(r, "li.wei")
    [refused] = r.handle(sender, json.dumps({"type": "file", "id": "big", "name": "b",
                                             "size": 11}), 1.0)
    assert refused.to == (sender.id,) and "larger" in json.loads(refused.text)["reason"]
    r.handle(sender, json.dumps({"type": "file", "id": "f2", "name": "c", "size": 2}), 1.0)
    chunk = {"type": "file-chunk", "id": "f2", "seq": 0,
             "data": base64.b64encode(b"abc").decode()}
    error, abort = r.handle(sender, json.dumps(chunk), 1.0)
    assert json.loads(error.text)["type"] == "error"
    assert json.loads(abort.text) == {"type": "file-abort", "id": "f2", "from": sender.id}
    assert sender.id not in abort.to
    [late] = r.handle(sender, '{"type": "file-end", "id": "f2"}', 1.0)
    assert "no transfer" in json.loads(late.text)["reason"]


def test_welcome_and_roster() -> None:
    r = room()
    newcomer = who(r, "wang")
    r.handle(who(r, "zhang"), '{"type": "chat", "text": "hi"}', 1.0)
    welcome = json.loads(r.welcome(newcomer).text)
    assert welcome["participant"] == newcomer.id and welcome["stream"] == f"r1.{newcomer.id}"
    assert [e["text"] for e in welcome["log"]] == ["hi"]
    roster = r.roster()
    assert set(roster.to) == set(r.participants)
    assert len(json.loads(roster.text)["participants"]) == 3
