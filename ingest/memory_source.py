"""An in-memory MessageSource: what a test delivers, ingest batches, acks and answers."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from types import TracebackType
from typing import Self

from incidents.clock import Clock
from ingest.inbox import Inbox
from ingest.source import PublishFailed, Received, SourceStats


class MemorySource:
    """A broker in a list: `deliver` messages in, read `acked` and `published` out."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._inbox = Inbox(clock)
        self._mid = 0
        self.generation = 1
        """The current connection; `reconnect` starts a new one."""
        self.stats = SourceStats()
        self.acked: list[Received] = []
        """Every message acknowledged, in the order the acks were sent."""
        self.published: list[tuple[str, bytes, int]] = []
        """(topic, payload, qos) of everything published, in order."""
        self.refuse_publishing = False
        """When True, `publish_confirmed` fails as a broker that is away would."""
        self.entered = False
        """True once the context was entered (the source "connected")."""
        self.closed = False
        """True once the context was left (the source "disconnected")."""

    @property
    def broker(self) -> str:
        """Memory, not a broker."""
        return "memory"

    @property
    def connected(self) -> bool:
        """True between entering and leaving the context."""
        return self.entered and not self.closed

    @property
    def subscribed(self) -> bool:
        """As `connected`: the subscription is implied."""
        return self.connected

    @property
    def backlog(self) -> int:
        """Messages delivered and not yet taken."""
        return len(self._inbox)

    async def __aenter__(self) -> Self:
        self.entered = True
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.closed = True
        self.generation += 1  # as a disconnect: what was not acked is redelivered
        self._inbox.close()

    def deliver(self, topic: str, payload: bytes, qos: int = 1) -> Received:
        """A message arrives from the broker."""
        self._mid = self._mid % 65535 + 1
        item = Received(self.generation, self._mid if qos else 0, qos, topic, payload,
                        self._clock.time())
        self.stats.received += 1
        self._inbox.put(item)
        return item

    def reconnect(self) -> None:
        """The connection drops and comes back: earlier messages can no longer be acked."""
        self.generation += 1

    def batches(self, max_size: int, gather_s: float) -> AsyncGenerator[list[Received], None]:
        """Batches of what was delivered (see MessageSource.batches)."""
        return self._inbox.batches(max_size, gather_s)

    async def ack(self, batch: Sequence[Received]) -> None:
        """Record the acknowledgement of the current connection's QoS 1 messages."""
        self.acked.extend(r for r in batch if r.qos == 1 and r.generation == self.generation)

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        """Record a published message."""
        self.published.append((topic, payload, qos))

    async def publish_confirmed(self, messages: Sequence[tuple[str, bytes]],
                                timeout_s: float) -> None:
        """Record the messages, or fail them all when `refuse_publishing` is set."""
        if self.refuse_publishing or not self.connected:
            raise PublishFailed(f"the broker did not take {len(messages)} messages")
        self.published.extend((topic, payload, 1) for topic, payload in messages)
