"""`sitroom journal verify` and `sitroom journal anchor`: check the HMAC chain of the whole
incident journal, against the last head anchored outside the database; anchor the head."""

from __future__ import annotations

import asyncio
import hmac
import logging
import sys
from datetime import UTC, datetime

from config.settings import Settings
from incidents.anchors import Anchor, decode, genuine, take
from incidents.journal import head_mac
from incidents.store import Store
from sitroom import anchor_log, anchor_mqtt

log = logging.getLogger(__name__)


async def verify_journal(settings: Settings, key: bytes) -> int:
    """Print what verification found; exit status 0 when the journal is intact, 1 when not."""
    assert settings.database_url
    anchors = anchor_log.read(settings.anchor_file, key)
    if anchors.refused:
        print(f"warning: {anchors.refused} line(s) of {settings.anchor_file} are not anchors"
              " signed with this key (edited, forged, or torn by a crash): ignored"
              f" (锚点文件中有 {anchors.refused} 行无效，已忽略)", file=sys.stderr)
    newest = _newest(anchors.newest, await asyncio.to_thread(_broker_anchor, settings, key))
    store = await Store.connect(settings.database_url)
    try:
        point = newest.point if newest else None
        checked, findings, unsealed = await store.verify_journal(key, point)
    finally:
        await store.close()
    if unsealed:
        print(f"note: {unsealed} rows predate the chain (written before migration 0005) and"
              " are not sealed")
    if newest is None:
        print(f"note: no anchor in {settings.anchor_file} nor on the broker: a rollback to an"
              " older copy of the database cannot be detected until `sitroom journal anchor`"
              " has run (`sitroom up` anchors every journal.anchor_every_s)")
    else:
        at = newest.at.isoformat(timespec="seconds")
        print(f"checked against the anchor of {at} (row {newest.seq})")
    if not findings:
        print(f"journal intact: {checked} rows verified (日志完整，已校验 {checked} 条)")
        return 0
    print(f"JOURNAL TAMPERED: {len(findings)} problem(s) in {checked} rows"
          f" (日志被篡改：发现 {len(findings)} 处问题)", file=sys.stderr)
    for finding in findings:
        print(f"  seq {finding.seq}: {finding.problem.value}: {finding.detail}",
              file=sys.stderr)
    return 1


def _newest(*anchors: Anchor | None) -> Anchor | None:
    found = [a for a in anchors if a is not None]
    return max(found, key=lambda a: a.seq) if found else None


def _broker_anchor(settings: Settings, key: bytes) -> Anchor | None:
    """The retained anchor on the broker, when one is configured and holds a genuine one."""
    if settings.mqtt_url is None:
        return None
    try:
        payload = anchor_mqtt.read(settings.mqtt_url, settings.mqtt_protocol,
                                   settings.topic_root)
    except (OSError, TimeoutError) as exc:
        print(f"warning: cannot read the anchor on the broker: {exc}; checking against the"
              " anchor file only (无法读取消息服务器上的锚点)", file=sys.stderr)
        return None
    anchor = decode(payload) if payload is not None else None
    if payload is not None and (anchor is None or not genuine(key, anchor)):
        print("warning: the anchor on the broker is not signed with this key: ignored"
              " (消息服务器上的锚点无效，已忽略)", file=sys.stderr)
        return None
    return anchor


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
    if settings.mqtt_url is not None:
        try:
            await asyncio.to_thread(anchor_mqtt.publish, settings.mqtt_url,
                                    settings.mqtt_protocol, settings.topic_root, anchor)
        except (OSError, TimeoutError) as exc:
            # The file holds it; the next round publishes a newer one.
            log.error("journal anchor not published on the broker: %s", exc)
            print(f"warning: not published on the broker: {exc}", file=sys.stderr)
        else:
            print(f"published on {anchor_mqtt.anchor_topic(settings.topic_root)}")
    return 0
