"""The `video` blueprint: `POST /api/incidents/<id>/conference` opens the incident's video
conference (视频会商); the answer carries the room's page URL with a token for this user (the
desk opens it)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from config.settings import Settings
from dashboard.auth import Action, require
from dashboard.command_api import CommandAccess
from dashboard.command_schema import Problem
from dashboard.jsonapi import json_response, problem_response
from dashboard.video_links import VideoUnavailable, open_room, room_url
from incidents.command import Actor


def video_blueprint(settings: Settings, access: CommandAccess) -> Blueprint:
    """The conference route."""
    routes = Blueprint("video", __name__)
    service, run = access.service, access.run

    @routes.post("/api/incidents/<incident_id>/conference")
    def conference(incident_id: str) -> Response:
        """Open a room tied to the incident (journaled); answer where to join it."""
        user = require(Action.CONFERENCE)
        commands = service()
        incident = run(commands.incident, incident_id)
        try:
            room = open_room(settings.video, user, incident.id, incident.title)
        except VideoUnavailable as exc:
            return problem_response(503, Problem(error=str(exc), error_zh="视频服务不可用"))
        run(commands.record, incident.id, "conference", {"room": room},
            Actor(name=user.username, client=request.remote_addr))
        url = room_url(settings.video, user, room, request.args.get("lang", "zh"))
        return json_response({"room": room, "url": url}, 201)

    return routes
