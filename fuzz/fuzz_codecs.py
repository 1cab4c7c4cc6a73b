"""Coverage-guided fuzzing of everything ingest decodes from the network (run by hand):

    .venv/bin/python fuzz/fuzz_codecs.py -max_total_time=300 fuzz/corpus

The target feeds arbitrary bytes to the JSON, CAP and CoT codecs and the CoT stream framer,
under every kind of topic. The only acceptable outcomes are a domain message or a dead letter
with a reason: any other exception is a bug (atheris stops and writes the crashing input).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import atheris

with atheris.instrument_imports():
    from incidents.model import DeadLetter, Inbound, Kind
    from ingest.codecs import decode
    from ingest.cot_tcp import CotFramer
    from ingest.topics import TopicScheme

SCHEME = TopicScheme("sitroom/v1", frozenset({"police", "fire", "weather"}))
TOPICS = [f"sitroom/v1/police/{kind.value}/src-1" for kind in Kind]
WHEN = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def one_input(data: bytes) -> None:
    """Decode `data` on each kind's topic; split it as a CoT stream."""
    if not data:
        return
    topic = TOPICS[data[0] % len(TOPICS)]
    result = decode(SCHEME, topic, data[1:], WHEN, 64 * 1024)
    assert isinstance(result, Inbound | DeadLetter)
    if isinstance(result, DeadLetter):
        assert result.reason and result.detail  # every refusal says why
    framer = CotFramer(64 * 1024)
    framer.feed(data)
    framer.finish()


def main() -> None:
    """Run atheris with the command-line arguments (libFuzzer options, corpus folders)."""
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
