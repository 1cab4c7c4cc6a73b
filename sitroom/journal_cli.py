"""`sitroom journal verify` and `sitroom journal anchor`: check the HMAC chain of the whole
incident journal, against the last head anchored outside the database; anchor the head."""

from __future__ import annotations

import asyncio
import hmac
import logging
import sys
from datetime import UTC, datetime

from config.settings import Settings
from incidents.anchors import take
from incidents.journal import head_mac
from incidents.store import Store
from sitroom import anchor_log

log = logging.getLogger(__name__)


async def verify_journal(settings: Settings, key: bytes) -> int:
    """Print what verification found; exit status 0 when the journal is intact, 1 when not."""
    assert settings.database_url
    anchors = anchor_log.read(settings.anchor_file, key)
    if anchors.refused:
        print(f"warning: {anchors.refused} line(s) of {settings.anchor_file} are not anchors"
              " signed with this key (edited, forged, or torn by a crash): ignored"
              f" (锚点文件中有 {anchors.refused} 行无效，已忽略)", file=sys.stderr)
    store = await Store.connect(settings.database_url)
    try:
        point = anchors.newest.point if anchors.newest else None
        checked, findings, unsealed = await store.verify_journal(key, point)
    finally:
        await store.close()
    if unsealed:
        print(f"note: {unsealed} rows predate the chain (written before migration 0005) and"
              " are not sealed")
    if anchors.newest is None:
        print(f"note: no anchor in {settings.anchor_file}: a rollback to an older copy of the"
              " database cannot be detected until `sitroom journal anchor` has run"
              " (`sitroom up` anchors every journal.anchor_every_s)")
    else:
        at = anchors.newest.at.isoformat(timespec="seconds")
        print(f"checked against the anchor of {at} (row {anchors.newest.seq})")
    if not findings:
        print(f"journal intact: {checked} rows verified (日志完整，已校验 {checked} 条)")
        return 0
    print(f"JOURNAL TAMPERED: {len(findings)} problem(s) in {checked} rows"
          f" (日志被篡改：发现 {len(findings)} 处问题)", file=sys.stderr)
    for finding in findings:
        print(f"  seq {finding.seq}: {finding.problem.value}: {finding.detail}",
              file=sys.stderr)
    return 1


async def anchor_journal(settings: Settings, key: bytes, every_s: float | None = None) -> int:
    """Append the journal head, signed, to the anchor file: once, or every `every_s` seconds
    until stopped. Exit 1 when the head's own MAC is wrong (a forged head is never anchored)."""
    assert settings.database_url
    store = await Store.connect(settings.database_url)
    try:
        while True:
            status = await _anchor_once(store, settings, key)
            if every_s is None or status:
                return status
            await asyncio.sleep(every_s)
    finally:
        await store.close()


async def _anchor_once(store: Store, settings: Settings, key: bytes) -> int:
    start, head = await store.journal_head()
    if head is None:
        print("nothing to anchor yet: the journal has no sealed row")
        return 0
    seq, mac, their_mac = head
    if not hmac.compare_digest(head_mac(key, start, seq, mac), their_mac):
        print("the journal head's MAC is wrong: not anchored; run `sitroom journal verify`"
              " (日志链头校验失败，未记录锚点)", file=sys.stderr)
        return 1
    anchor = take(key, start, seq, mac, datetime.now(UTC))
    anchor_log.append(settings.anchor_file, anchor)
    log.info("journal anchored at row %d in %s", seq, settings.anchor_file)
    print(f"anchored row {seq} in {settings.anchor_file}")
    return 0
