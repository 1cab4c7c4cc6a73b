"""The message source port: where ingest's feed messages come from and where its replies go.

Shaped like aiomqtt: `async with source:` connects and disconnects, `source.batches(...)`
yields what arrived, `await source.ack(batch)` acknowledges it, `await source.publish(...)`
sends a receipt. The broker's speed tricks (ingest/paho_source.py) stay behind it; tests use
ingest/memory_source.py.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import NamedTuple, Protocol, Self


class Received(NamedTuple):
    """One feed message as it arrived (a plain tuple: thousands are made a second)."""

    generation: int
    """The connection it came on; only that connection can acknowledge it."""
    mid: int
    """The broker's packet id (0 at QoS 0)."""
    qos: int
    """MQTT QoS: 1 must be acknowledged, 0 need not."""
    topic: str
    """The topic it was published on."""
    payload: bytes
    """Its raw bytes, decoded later by ingest.codecs."""
    received_at: float
    """When it arrived (the source's clock, Unix seconds)."""


@dataclass(slots=True)
class SourceStats:
    """What the source counts for the heartbeat."""

    received: int = 0
    """Feed messages received (redeliveries count again)."""
    broker_dropped: int | None = None
    """The broker's own count of dropped messages, when it publishes one."""
    broker_dropped_rising_at: float | None = None
    """When that count was last seen rising (or first seen above zero)."""


class PublishFailed(RuntimeError):
    """The broker did not take (or did not confirm) what was published."""


class MessageSource(Protocol):
    """A broker connection as ingest uses it."""

    stats: SourceStats
    """Counters for the heartbeat."""

    @property
    def broker(self) -> str:
        """Where messages come from (a broker's URL without password), for the health page."""
        ...

    @property
    def connected(self) -> bool:
        """True while the broker session is up."""
        ...

    @property
    def subscribed(self) -> bool:
        """True once the broker confirmed the feed subscription on this connection."""
        ...

    @property
    def backlog(self) -> int:
        """Messages received and not yet taken by `batches`."""
        ...

    async def __aenter__(self) -> Self:
        """Connect (and keep reconnecting) in the background."""
        ...

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        """Disconnect; what was received stays for `batches` to hand out."""
        ...

    def batches(self, max_size: int, gather_s: float) -> AsyncGenerator[list[Received], None]:
        """Batches of at most `max_size` messages, in arrival order.

        A batch smaller than `max_size` waits until its oldest message is `gather_s` old.
        Once the source is closed, the iterator hands out what is left, then ends.
        """
        ...

    async def ack(self, batch: Sequence[Received]) -> None:
        """Acknowledge a batch (the caller does so in arrival order); messages of an earlier
        connection are skipped, as the broker redelivers them."""
        ...

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        """Queue a message for the broker without waiting for its confirmation."""
        ...

    async def publish_confirmed(self, messages: Sequence[tuple[str, bytes]],
                                timeout_s: float) -> None:
        """Publish at QoS 1 and wait until the broker confirmed all of them, `timeout_s` in
        all; raise PublishFailed otherwise."""
        ...
