"""The topic scheme: `{root}/{agency}/{kind}/{source}` in, receipts and orders out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from incidents.model import Kind

_SEGMENT = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class TopicError(ValueError):
    """A topic that does not fit the scheme; `reason` is a dead-letter reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class TopicScheme:
    """Builds and parses the topics under one root, for a configured set of agencies."""

    root: str
    agencies: frozenset[str]

    @property
    def subscription(self) -> str:
        """The filter ingest subscribes to."""
        return f"{self.root}/+/+/+"

    def feed(self, agency: str, kind: Kind | str, source: str) -> str:
        """Topic a source publishes a message of `kind` on."""
        return f"{self.root}/{agency}/{kind}/{source}"

    def receipts(self, source: str) -> str:
        """Topic ingest publishes receipts for `source` on."""
        return f"{self.root}/receipts/{source}"

    def dispatch(self, unit: str) -> str:
        """Topic dispatch orders for `unit` go out on."""
        return f"{self.root}/command/dispatch/{unit}"

    def parse(self, topic: str) -> tuple[str, Kind, str]:
        """Split an incoming topic into (agency, kind, source) or raise TopicError."""
        prefix = self.root + "/"
        if not topic.startswith(prefix):
            raise TopicError("bad_topic", f"topic {topic!r} is not under {self.root!r}")
        parts = topic[len(prefix):].split("/")
        if len(parts) != 3:
            raise TopicError(
                "bad_topic", f"topic {topic!r} must be {self.root}/{{agency}}/{{kind}}/{{source}}"
            )
        agency, kind, source = parts
        if agency not in self.agencies:
            known = ", ".join(sorted(self.agencies))
            raise TopicError("unknown_agency", f"agency {agency!r} is not one of: {known}")
        try:
            parsed_kind = Kind(kind)
        except ValueError:
            known = ", ".join(k.value for k in Kind)
            raise TopicError("unknown_kind", f"kind {kind!r} is not one of: {known}") from None
        if not _SEGMENT.fullmatch(source):
            raise TopicError(
                "bad_topic", f"source {source!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
        return agency, parsed_kind, source

    def is_own_output(self, topic: str) -> bool:
        """True for topics ingest itself publishes (receipts, commands): not feeds to ingest."""
        prefix = self.root + "/"
        return topic.startswith(prefix + "receipts/") or topic.startswith(prefix + "command/")
