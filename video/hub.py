"""The video hub: owns every relay, peer connection, room, recording and background task.

No module globals: one hub per server, and `close()` ends everything it started (peer
connections, pumps, recorders, cameras, tasks), whether on shutdown or in a test.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Protocol

from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamTrack

from config.video import VideoSettings
from video.peers import (
    Session,
    SessionKind,
    answer_offer,
    new_session_id,
    prefer_codec,
    rtc_configuration,
)
from video.recording import RecordedFile, RoomRecording
from video.registry import PositionSource, StreamEvent, StreamKind, StreamRegistry, StreamState
from video.relay import RelayTrack, StreamRelay
from video.rooms import Delivery, Participant, Room
from video.sdp import media_kinds

log = logging.getLogger("sitroom.video.hub")

VIEWER_GRACE_S = 10.0
"""How long viewers of a departed participant may take to hang up before the server does."""

OnRecording = Callable[..., Awaitable[None]]
"""Called as on_recording(incident_id=, room_id=, path=, started_at=, ended_at=)."""


class NotFound(LookupError):
    """No such stream, session or room."""


class Conflict(RuntimeError):
    """The request clashes with what exists (a full room, a stream id of another kind)."""


class Full(Conflict):
    """A server-wide limit is reached (sessions, rooms): try again later (503)."""


class Closable(Protocol):
    """Something the hub must stop on shutdown (a camera source)."""

    async def close(self) -> None:
        """Stop it."""


class VideoHub:
    """Relays, sessions, rooms and cameras of one video server."""

    def __init__(self, settings: VideoSettings, registry: StreamRegistry, *,
                 on_recording: OnRecording | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.registry = registry
        """Stream metadata, mirrored into Redis."""
        self._on_recording = on_recording
        self._clock = clock
        self._config = rtc_configuration(settings.ice_servers)
        self.relays: dict[str, StreamRelay] = {}
        """Relays by stream id."""
        self.sessions: dict[str, Session] = {}
        """Peer connections by session id."""
        self.rooms: dict[str, Room] = {}
        """Conference rooms by id."""
        self.cameras: dict[str, Closable] = {}
        """Server-pulled camera sources by stream id."""
        self._sources: dict[str, str] = {}
        """Who feeds each live stream: `session:{id}` or `camera:{id}`."""
        self._members: dict[str, tuple[Room, Participant]] = {}
        self._recordings: dict[str, RoomRecording] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    # --- tasks -----------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `coro` in the background, owned by the hub (cancelled by close())."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def maintain(self) -> None:
        """Forever: follow unit positions, end long interruptions, keep Redis in step."""
        while True:
            await self.registry.sync()
            await self.registry.follow_units()
            now = self._clock()
            for info in self.registry.all():
                if (info.state is StreamState.INTERRUPTED
                        and now - info.updated_at > self.settings.interrupted_ttl_s):
                    await self.registry.apply(info.id, StreamEvent.STOPPED)
                    await self._collect(info.id)
            await self.bound_rooms(now)
            await asyncio.sleep(self.settings.maintenance_s)

    async def bound_rooms(self, now: float) -> None:
        """Stop recordings that ran too long or would fill the disk; free rooms left empty."""
        low_disk = self._disk_low()
        for room_id, recording in list(self._recordings.items()):
            too_long = (now - recording.started_at.timestamp()
                        >= self.settings.max_recording_s)
            if too_long or low_disk:
                why = "video.max_recording_s" if too_long else "video.recordings_min_free_bytes"
                log.warning("recording of room %s stopped: %s reached", room_id, why)
                self._deliver(self.rooms[room_id], [self.rooms[room_id].notice(
                    {"type": "recording_stopped", "reason": why})])
                await self.stop_recording(room_id)
        for room in list(self.rooms.values()):
            if room.participants or room.recording:
                room.empty_since = None
            elif room.empty_since is None:
                room.empty_since = now
            elif now - room.empty_since >= self.settings.room_empty_ttl_s:
                log.info("room %s (%s) closed: empty for %.0f s", room.id, room.title,
                         now - room.empty_since)
                del self.rooms[room.id]

    def _disk_low(self) -> bool:
        folder = Path(self.settings.recordings_dir)
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # not created until the first recording
        return shutil.disk_usage(folder).free < self.settings.recordings_min_free_bytes

    # --- sources ---------------------------------------------------------------------

    def _relay(self, stream_id: str) -> StreamRelay:
        relay = self.relays.get(stream_id)
        if relay is None:
            relay = StreamRelay(stream_id, video_bitrate=self.settings.video_bitrate,
                                keyframe_interval_s=self.settings.keyframe_interval_s)
            self.relays[stream_id] = relay
        return relay

    def _check_kind(self, stream_id: str, kind: StreamKind) -> None:
        info = self.registry.get(stream_id)
        if info is not None and info.kind is not kind:
            raise Conflict(f"stream {stream_id} is a {info.kind} stream")

    async def go_live(self, stream_id: str, source: str, tracks: Sequence[MediaStreamTrack],
                      on_end: Callable[[], None], *, owner: str, kind: StreamKind, title: str,
                      lat: float | None = None, lon: float | None = None,
                      position_source: PositionSource | None = None,
                      room: str | None = None) -> StreamRelay:
        """Make `tracks` the stream's source (replacing any other); viewers stay attached."""
        self._check_kind(stream_id, kind)
        self._sources[stream_id] = source
        relay = self._relay(stream_id)
        by_kind = {t.kind: t for t in tracks}
        for side in relay.kinds():
            track = by_kind.get(side.kind)
            if track is None:
                side.detach()
            else:
                side.attach(track, on_end)
        await self.registry.apply(stream_id, StreamEvent.STARTED, owner=owner, kind=kind,
                                  title=title, lat=lat, lon=lon,
                                  position_source=position_source, room=room)
        return relay

    async def go_dark(self, stream_id: str, source: str, event: StreamEvent) -> None:
        """The source `source` of a stream is gone (no-op if another one replaced it)."""
        if self._sources.get(stream_id) != source:
            return
        del self._sources[stream_id]
        relay = self.relays.get(stream_id)
        if relay is not None:
            for side in relay.kinds():
                side.detach()
        if self.registry.get(stream_id) is not None:
            await self.registry.apply(stream_id, event)
        await self._collect(stream_id)

    async def _collect(self, stream_id: str) -> None:
        """Forget a relay nobody feeds or watches once its stream has ended."""
        relay = self.relays.get(stream_id)
        info = self.registry.get(stream_id)
        if stream_id in self._sources or (info is not None and info.state is not
                                          StreamState.ENDED):
            return
        if relay is not None:
            if relay.video.subscribers or relay.audio.subscribers:
                return
            del self.relays[stream_id]
            await relay.close()
        await self.registry.remove(stream_id)

    # --- sessions --------------------------------------------------------------------

    def _new_session(self, kind: SessionKind, stream_id: str, owner: str,
                     room_id: str | None = None) -> Session:
        if self.closed:
            raise Conflict("the video server is shutting down")
        if len(self.sessions) >= self.settings.max_sessions:
            raise Full(f"视频服务器会话已满 / the video server has {len(self.sessions)} sessions"
                       f" open (video.max_sessions): close a player or try again later")
        session = Session(new_session_id(), kind, stream_id, owner,
                          RTCPeerConnection(configuration=self._config), room_id)
        self.sessions[session.id] = session

        def on_state() -> None:
            if session.pc.connectionState in ("failed", "closed"):
                self.spawn(self.end_session(session.id, StreamEvent.LOST),
                           f"end-{session.id}")

        session.pc.on("connectionstatechange", on_state)
        return session

    async def _answer(self, session: Session, offer: str) -> str:
        try:
            return await answer_offer(session.pc, offer)
        except BaseException:
            await self.end_session(session.id)
            raise

    async def publish(self, stream_id: str, offer: str, *, owner: str, kind: StreamKind,
                      title: str, lat: float | None = None,
                      lon: float | None = None) -> tuple[Session, str]:
        """WHIP: answer a publisher's offer and make it the stream's source."""
        self._check_kind(stream_id, kind)
        session = self._new_session(SessionKind.PUBLISH, stream_id, owner)
        answer = await self._answer(session, offer)
        previous = self._sources.get(stream_id, "").removeprefix("session:")
        await self.go_live(stream_id, "session:" + session.id, self._remote_tracks(session.pc),
                           self._lost(session.id), owner=owner, kind=kind, title=title,
                           lat=lat, lon=lon, position_source=PositionSource.PUBLISH)
        if previous in self.sessions:
            # A publisher reconnecting before its old connection was seen to fail.
            self.spawn(self.end_session(previous, StreamEvent.LOST), f"replaced-{previous}")
        return session, answer

    def _lost(self, session_id: str) -> Callable[[], None]:
        def lost() -> None:
            self.spawn(self.end_session(session_id, StreamEvent.LOST), f"lost-{session_id}")
        return lost

    @staticmethod
    def _remote_tracks(pc: RTCPeerConnection) -> list[MediaStreamTrack]:
        return [t.receiver.track for t in pc.getTransceivers()
                if t.receiver.track is not None and t.direction in ("recvonly", "sendrecv")]

    async def view(self, stream_id: str, offer: str, *, owner: str) -> tuple[Session, str]:
        """WHEP: answer a viewer's offer with the stream's shared packets."""
        relay = self.relays.get(stream_id)
        if relay is None:
            raise NotFound(f"no stream {stream_id}")
        session = self._new_session(SessionKind.VIEW, stream_id, owner)
        # Transceivers only for kinds the viewer asked for: aiortc cannot answer with an
        # unmatched one.
        offered = media_kinds(offer)
        for side in relay.kinds():
            if side.kind not in offered:
                continue
            sub = side.subscribe()
            session.subscriptions.append(sub)
            transceiver = session.pc.addTransceiver(RelayTrack(sub), direction="sendonly")
            # aiortc's sender answers a PLI/FIR by flagging its own encoder, which packets
            # bypass; route the request to the stream's shared encoder instead.
            transceiver.sender.__dict__["_send_keyframe"] = sub.request_keyframe
        prefer_codec(session.pc, "video", "video/VP8")
        prefer_codec(session.pc, "audio", "audio/opus")
        return session, await self._answer(session, offer)

    async def end_session(self, session_id: str,
                          event: StreamEvent = StreamEvent.STOPPED) -> None:
        """Close one peer connection and undo what it fed (idempotent)."""
        session = self.sessions.get(session_id)
        if session is None or session.ending:
            return
        session.ending = True
        try:
            for sub in session.subscriptions:
                sub.close()
            member = self._members.pop(session.id, None)
            if member is not None:
                await self._leave(*member)
            await self.go_dark(session.stream_id, "session:" + session.id,
                               StreamEvent.STOPPED if member else event)
            await session.pc.close()
        finally:
            del self.sessions[session_id]
        await self._collect(session.stream_id)

    # --- rooms -----------------------------------------------------------------------

    def create_room(self, incident_id: str, title: str, created_by: str) -> Room:
        """A new conference room for an incident."""
        if len(self.rooms) >= self.settings.max_rooms:
            raise Full(f"会商室数量已达上限 / {len(self.rooms)} conference rooms are open"
                       " (video.max_rooms): close one that is no longer used")
        room_id = secrets.token_urlsafe(8).replace("-", "x").replace("_", "y")
        room = Room(room_id, incident_id, title, created_by, self._clock(),
                    self.settings.max_file_bytes)
        self.rooms[room_id] = room
        return room

    def room(self, room_id: str) -> Room:
        """A room, or NotFound."""
        room = self.rooms.get(room_id)
        if room is None:
            raise NotFound(f"no room {room_id}")
        return room

    async def join(self, room_id: str, offer: str, *, name: str,
                   role: str) -> tuple[Session, Participant, str]:
        """Answer a participant's offer (audio+video and one data channel)."""
        room = self.room(room_id)
        if len(room.participants) >= self.settings.max_participants:
            raise Conflict(f"room {room_id} is full ({self.settings.max_participants})")
        session = self._new_session(SessionKind.JOIN, "", name, room_id)
        participant = room.add(name, role, session.id)
        session.stream_id = participant.stream_id
        self._members[session.id] = (room, participant)
        session.pc.on("datachannel",
                      lambda channel: self._channel_open(room, participant, channel))
        answer = await self._answer(session, offer)
        relay = await self.go_live(
            participant.stream_id, "session:" + session.id, self._remote_tracks(session.pc),
            self._lost(session.id), owner=name, kind=StreamKind.CONFERENCE, title=name,
            room=room_id)
        recording = self._recordings.get(room_id)
        if recording is not None:
            recording.add(relay)
        return session, participant, answer

    def _channel_open(self, room: Room, participant: Participant,
                      channel: RTCDataChannel) -> None:
        participant.send = channel.send
        channel.on("message", lambda message: self._deliver(
            room, room.handle(participant, message, self._clock())))
        self._deliver(room, [room.welcome(participant), room.roster()])

    def _deliver(self, room: Room, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            for pid in delivery.to:
                member = room.participants.get(pid)
                if member is None or member.send is None:
                    continue
                try:
                    member.send(delivery.text)
                except InvalidStateError:
                    # Its channel is closing; its session is being ended right now.
                    member.send = None

    async def _leave(self, room: Room, participant: Participant) -> None:
        room.participants.pop(participant.id, None)
        recording = self._recordings.get(room.id)
        if recording is not None:
            await recording.remove(participant.stream_id)
        self._deliver(room, [room.roster()])
        self.spawn(self._unwatch(participant.stream_id), f"unwatch-{participant.stream_id}")

    async def _unwatch(self, stream_id: str) -> None:
        """End the sessions still watching a participant who left. The pages close theirs on
        the roster message; a grace period keeps their DELETE from meeting a 404."""
        await asyncio.sleep(VIEWER_GRACE_S)
        for other in list(self.sessions.values()):
            if other.kind is SessionKind.VIEW and other.stream_id == stream_id:
                await self.end_session(other.id)

    async def start_recording(self, room_id: str) -> Room:
        """Record every participant of the room (and those who join later)."""
        room = self.room(room_id)
        if room_id not in self._recordings:
            if self._disk_low():
                raise Full("录像磁盘空间不足 / less free disk than video.recordings_min_free_bytes"
                           f" under {self.settings.recordings_dir}: free space, then record")
            recording = RoomRecording(room_id, Path(self.settings.recordings_dir))
            for participant in room.participants.values():
                relay = self.relays.get(participant.stream_id)
                if relay is not None:
                    recording.add(relay)
            self._recordings[room_id] = recording
            room.recording = True
            self._deliver(room, [room.notice({"type": "recording", "active": True})])
        return room

    def recording(self, room_id: str) -> RoomRecording | None:
        """The room's recording in progress, if any."""
        return self._recordings.get(room_id)

    async def stop_recording(self, room_id: str) -> list[RecordedFile]:
        """Finish the room's files and report each to on_recording."""
        room = self.room(room_id)
        recording = self._recordings.pop(room_id, None)
        if recording is None:
            return []
        files = await recording.stop()
        room.recording = False
        self._deliver(room, [room.notice({"type": "recording", "active": False})])
        if self._on_recording is not None:
            for done in files:
                await self._on_recording(incident_id=room.incident_id, room_id=room.id,
                                         path=done.path, started_at=done.started_at,
                                         ended_at=done.ended_at)
        return files

    # --- shutdown --------------------------------------------------------------------

    async def close(self) -> None:
        """End every recording, camera, session, relay and task."""
        self.closed = True
        for room_id in list(self._recordings):
            await self.stop_recording(room_id)
        for camera in list(self.cameras.values()):
            await camera.close()
        self.cameras.clear()
        await asyncio.gather(*(self.end_session(s) for s in list(self.sessions)))
        for relay in list(self.relays.values()):
            await relay.close()
        self.relays.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
