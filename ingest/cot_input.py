"""The CoT TCP input as a service: TAK devices stream CoT; events take the MQTT road."""

from __future__ import annotations

import asyncio
import logging
import ssl
from datetime import UTC, datetime
from ipaddress import ip_network

from config.settings import Settings
from incidents.model import DeadLetter
from incidents.store import Store
from ingest.cot_tcp import CotTcpServer, FieldClientSink
from ingest.field_client import FieldClient

log = logging.getLogger(__name__)


class CotInput:
    """A CotTcpServer whose events go through a FieldClient (outbox, receipts) to ingest, and
    whose undecodable events go straight to the dead letters."""

    def __init__(self, settings: Settings, store: Store) -> None:
        if settings.cot_tcp_port is None or settings.mqtt_url is None:
            raise ValueError("CoT TCP input needs cot_tcp_port and mqtt_url")
        self._store = store
        self._client = FieldClient(
            settings.mqtt_url, settings.cot_agency, settings.cot_source,
            settings.var_dir / "outbox" / f"{settings.cot_source}.sqlite",
            topic_root=settings.topic_root, protocol=settings.mqtt_protocol,
            client_id=f"{settings.ingest.client_id}-cot",
        )
        self.server = CotTcpServer(settings.cot_tcp_host, settings.cot_tcp_port,
                                   FieldClientSink(self._client), self._dead_letter,
                                   tls=tls_context(settings),
                                   allow=[ip_network(n) for n in settings.cot_tcp_allow],
                                   max_clients=settings.cot_tcp_max_clients,
                                   max_per_address=settings.cot_tcp_max_per_address,
                                   idle_s=settings.cot_tcp_idle_s)

    async def run(self) -> None:
        """Serve until cancelled; then close every TAK connection and the field client."""
        self._client.start()
        await self.server.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.server.close()
            await asyncio.to_thread(self._client.close)

    async def _dead_letter(self, raw: bytes, reason: str, detail: str) -> None:
        letter = DeadLetter(topic="cot-tcp", payload=raw, received_at=datetime.now(UTC),
                            reason=reason, detail=detail)
        await self._store.write_batch([], [letter])
        log.warning("CoT TCP event dead-lettered (%s): %s", reason, detail)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The CoT input's TLS context: the server certificate and, with a CA, mutual TLS."""
    if settings.cot_tls_cert is None:
        if settings.cot_tls_ca is not None or settings.cot_tls_key is not None:
            raise ValueError("cot_tls_key and cot_tls_ca need cot_tls_cert")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.cot_tls_cert, settings.cot_tls_key)
    if settings.cot_tls_ca is not None:
        context.load_verify_locations(settings.cot_tls_ca)
        context.verify_mode = ssl.CERT_REQUIRED  # a device without a signed cert gets nothing
    return context
