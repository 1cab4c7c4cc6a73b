"""Conference rooms (视频会商): participants, and what their data channels say to each other.

Media: each participant publishes one audio+video peer connection (`POST /rooms/{id}/join`),
which is an ordinary relayed stream `{room}.{participant}`; to see the others, the page opens
one WHEP connection per remote participant, and closes it when they leave. Nobody ever
renegotiates: a late joiner only adds connections, which is simpler and sturdier with
browsers than re-offering a growing SDP on a live connection.

Data: the join connection carries one data channel. The server decodes each message once
(`decode_message`), stamps who sent it and when, keeps chat and annotations in the room's log,
and relays everything to every other participant. Files go through in base64 chunks, counted
against a size limit.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec

MAX_MESSAGE_BYTES = 64 * 1024
MAX_LOG = 2000
"""Log entries kept per room (chat and annotations); older ones are dropped."""

Id = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
Colour = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")]
XY = tuple[float, float]


class Point(msgspec.Struct, tag_field="type", tag="Point", frozen=True,
            forbid_unknown_fields=True):
    """A marker."""

    coordinates: XY
    """(x, y): canvas fractions 0–1, or (lon, lat) on the map layer."""


class LineString(msgspec.Struct, tag_field="type", tag="LineString", frozen=True,
                 forbid_unknown_fields=True):
    """A freehand stroke or route."""

    coordinates: Annotated[list[XY], msgspec.Meta(min_length=2, max_length=2000)]
    """The vertices."""


class Polygon(msgspec.Struct, tag_field="type", tag="Polygon", frozen=True,
              forbid_unknown_fields=True):
    """An area (one outer ring, closed)."""

    coordinates: Annotated[list[Annotated[list[XY], msgspec.Meta(min_length=4, max_length=2000)]],
                           msgspec.Meta(min_length=1, max_length=1)]
    """One ring whose first and last vertices are equal."""


Geometry = Point | LineString | Polygon


class Chat(msgspec.Struct, tag_field="type", tag="chat", frozen=True, forbid_unknown_fields=True):
    """A chat line from a participant."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    """The message."""


class Annotate(msgspec.Struct, tag_field="type", tag="annotation", frozen=True,
               forbid_unknown_fields=True):
    """A shape drawn on the shared canvas or map."""

    geometry: Geometry
    """GeoJSON geometry."""
    color: Colour = "#e53935"
    """Stroke colour."""
    label: Annotated[str, msgspec.Meta(max_length=200)] = ""
    """Optional text."""
    layer: Literal["canvas", "map"] = "canvas"
    """canvas: fractions of the shared board; map: lon/lat."""


class FileStart(msgspec.Struct, tag_field="type", tag="file", frozen=True,
                forbid_unknown_fields=True):
    """A participant starts sending a file."""

    id: Id
    """Transfer id chosen by the sender."""
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    """File name (shown, never used as a path)."""
    size: Annotated[int, msgspec.Meta(gt=0)]
    """Total bytes."""
    mime: Annotated[str, msgspec.Meta(max_length=100)] = "application/octet-stream"
    """Media type."""


class FileChunk(msgspec.Struct, tag_field="type", tag="file-chunk", frozen=True,
                forbid_unknown_fields=True):
    """One base64 piece of a file."""

    id: Id
    seq: Annotated[int, msgspec.Meta(ge=0)]
    """Chunk number, from 0."""
    data: Annotated[str, msgspec.Meta(max_length=32 * 1024)]
    """Base64 bytes."""


class FileEnd(msgspec.Struct, tag_field="type", tag="file-end", frozen=True,
              forbid_unknown_fields=True):
    """The last chunk was sent."""

    id: Id


ClientMessage = Chat | Annotate | FileStart | FileChunk | FileEnd
_decoder = msgspec.json.Decoder(ClientMessage)
_encoder = msgspec.json.Encoder()


class MessageError(ValueError):
    """A data-channel message the room refuses; the sender is told why."""


class TransferAborted(MessageError):
    """A file transfer broke its announced size; the others drop what they received."""

    def __init__(self, transfer_id: str, reason: str) -> None:
        super().__init__(reason)
        self.transfer_id = transfer_id
        """The abandoned transfer."""


def decode_message(raw: str | bytes) -> ClientMessage:
    """A participant's message, validated, or MessageError."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        message: ClientMessage = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise MessageError(f"invalid message: {exc}") from exc
    if isinstance(message, Annotate) and isinstance(message.geometry, Polygon):
        ring = message.geometry.coordinates[0]
        if ring[0] != ring[-1]:
            raise MessageError("a polygon ring must end where it starts")
    return message


@dataclass(slots=True)
class Transfer:
    """A file on its way through the room."""

    name: str
    size: int
    received: int = 0


@dataclass(eq=False, slots=True)
class Participant:
    """Someone in the room."""

    id: str
    """Random id, unique in the room."""
    name: str
    """Token subject (user, unit)."""
    role: str
    session_id: str
    """The join session (its Location)."""
    stream_id: str
    """The participant's relayed stream, `{room}.{id}`."""
    send: Callable[[str], None] | None = None
    """Sends text on the participant's data channel, once it is open."""
    transfers: dict[str, Transfer] = field(default_factory=dict)

    def public(self) -> dict[str, str]:
        """What the others see of this participant."""
        return {"id": self.id, "name": self.name, "role": self.role, "stream": self.stream_id}


@dataclass(frozen=True, slots=True)
class Delivery:
    """Text for some participants' data channels."""

    to: tuple[str, ...]
    """Participant ids."""
    text: str


@dataclass(eq=False)
class Room:
    """A conference tied to an incident."""

    id: str
    incident_id: str
    title: str
    created_by: str
    created_at: float
    max_file_bytes: int
    participants: dict[str, Participant] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    """Chat lines, annotations and shared-file notices, oldest first."""
    recording: bool = False
    empty_since: float | None = None
    """Since when nobody is in the room (the hub frees it after video.room_empty_ttl_s)."""
    _seq: int = 0

    def info(self) -> dict[str, Any]:
        """The room as the API returns it."""
        return {"id": self.id, "incident_id": self.incident_id, "title": self.title,
                "created_by": self.created_by, "created_at": self.created_at,
                "recording": self.recording,
                "participants": [p.public() for p in self.participants.values()]}

    def add(self, name: str, role: str, session_id: str) -> Participant:
        """A new participant (not yet announced: that happens when its channel opens)."""
        pid = secrets.token_urlsafe(6).replace("-", "x").replace("_", "y")
        participant = Participant(pid, name, role, session_id, f"{self.id}.{pid}")
        self.participants[pid] = participant
        return participant

    def welcome(self, participant: Participant) -> Delivery:
        """The first message on a new participant's channel: who is here, and the log."""
        doc = {"type": "welcome", "participant": participant.id,
               "stream": participant.stream_id, "room": self.info(), "log": self.log}
        return Delivery((participant.id,), _encoder.encode(doc).decode())

    def roster(self) -> Delivery:
        """The participant list, for everybody."""
        doc = {"type": "participants",
               "participants": [p.public() for p in self.participants.values()]}
        return Delivery(tuple(self.participants), _encoder.encode(doc).decode())

    def notice(self, doc: dict[str, Any]) -> Delivery:
        """A server notice (recording started, ...) for everybody."""
        return Delivery(tuple(self.participants), _encoder.encode(doc).decode())

    def handle(self, sender: Participant, raw: str | bytes, now: float) -> list[Delivery]:
        """What to send, and to whom, for one message from `sender`."""
        try:
            message = decode_message(raw)
            return self._route(sender, message, now)
        except MessageError as exc:
            doc = {"type": "error", "reason": str(exc)}
            found = [Delivery((sender.id,), _encoder.encode(doc).decode())]
            if isinstance(exc, TransferAborted):
                abort = {"type": "file-abort", "id": exc.transfer_id, "from": sender.id}
                found.append(Delivery(self._others(sender), _encoder.encode(abort).decode()))
            return found

    def _others(self, sender: Participant) -> tuple[str, ...]:
        return tuple(p for p in self.participants if p != sender.id)

    def _stamp(self, sender: Participant, now: float, doc: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        return {**doc, "seq": self._seq, "ts": now, "from": sender.id, "name": sender.name}

    def _remember(self, entry: dict[str, Any]) -> None:
        self.log.append(entry)
        del self.log[:-MAX_LOG]

    def _route(self, sender: Participant, message: ClientMessage, now: float) -> list[Delivery]:
        if isinstance(message, Chat):
            entry = self._stamp(sender, now, {"type": "chat", "text": message.text})
            self._remember(entry)
        elif isinstance(message, Annotate):
            feature = {"type": "Feature", "geometry": msgspec.to_builtins(message.geometry),
                       "properties": {"color": message.color, "label": message.label,
                                      "layer": message.layer, "author": sender.name}}
            entry = self._stamp(sender, now, {"type": "annotation", "feature": feature})
            self._remember(entry)
        else:
            entry = self._file(sender, message, now)
        return [Delivery(self._others(sender), _encoder.encode(entry).decode())]

    def _file(self, sender: Participant, message: FileStart | FileChunk | FileEnd,
              now: float) -> dict[str, Any]:
        if isinstance(message, FileStart):
            if message.size > self.max_file_bytes:
                raise MessageError(f"file larger than {self.max_file_bytes} bytes")
            if message.id in sender.transfers:
                raise MessageError(f"transfer {message.id} already started")
            sender.transfers[message.id] = Transfer(message.name, message.size)
            return {**msgspec.to_builtins(message), "from": sender.id, "name": sender.name,
                    "file": message.name}
        transfer = sender.transfers.get(message.id)
        if transfer is None:
            raise MessageError(f"no transfer {message.id}")
        if isinstance(message, FileChunk):
            try:
                size = len(base64.b64decode(message.data, validate=True))
            except binascii.Error as exc:
                raise MessageError("file chunk is not base64") from exc
            transfer.received += size
            if transfer.received > transfer.size:
                del sender.transfers[message.id]
                raise TransferAborted(message.id,
                                      f"transfer {message.id} is larger than announced")
            return {**msgspec.to_builtins(message), "from": sender.id}
        del sender.transfers[message.id]
        if transfer.received != transfer.size:
            raise TransferAborted(message.id, f"transfer {message.id} ended after "
                                  f"{transfer.received} of {transfer.size} bytes")
        entry = self._stamp(sender, now, {"type": "file-end", "id": message.id,
                                          "file": transfer.name, "size": transfer.size})
        self._remember(entry)
        return entry
