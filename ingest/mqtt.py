"""Broker addresses and paho client construction, shared by ingest and the field client."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where a broker listens and how to log in."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse mqtt://user:password@host:port (mqtts:// for TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp"):
            raise ValueError(f"broker URL {url!r} must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r} has no host")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )

    def url(self) -> str:
        """The URL without the password, for logs and the health page."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def protocol_version(name: str) -> MQTTProtocolVersion:
    """The paho protocol constant for '5' or '3.1.1'."""
    if name in ("5", "5.0", "auto"):
        return MQTTProtocolVersion.MQTTv5
    if name in ("3.1.1", "311"):
        return MQTTProtocolVersion.MQTTv311
    raise ValueError(f"MQTT protocol {name!r} must be '5' or '3.1.1'")


def make_client(
    address: BrokerAddress,
    client_id: str,
    protocol: MQTTProtocolVersion,
    *,
    persistent: bool,
    manual_ack: bool = False,
    cls: type[Client] = Client,
) -> Client:
    """A paho client (callback API 2) with credentials, TLS and session mode set."""
    if protocol == MQTTProtocolVersion.MQTTv5:
        client = cls(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                     manual_ack=manual_ack)
    else:
        client = cls(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                     clean_session=not persistent, manual_ack=manual_ack)
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set()
    # Unlimited local queue: the outbox or the broker session is what bounds memory.
    client.max_queued_messages_set(0)
    return client


def connect_properties(session_expiry_s: int, receive_maximum: int) -> Properties:
    """MQTT 5 CONNECT properties for a persistent session with a wide receive window."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = session_expiry_s
    props.ReceiveMaximum = receive_maximum
    return props


def connect_async(client: Client, address: BrokerAddress, protocol: MQTTProtocolVersion, *,
                  persistent: bool, session_expiry_s: int = 3600, receive_maximum: int = 65535,
                  keepalive: int = 30) -> None:
    """Arrange the connection for paho's network thread, which also reconnects."""
    client.reconnect_delay_set(min_delay=1, max_delay=15)
    if protocol == MQTTProtocolVersion.MQTTv5:
        client.connect_async(
            address.host, address.port, keepalive=keepalive, clean_start=not persistent,
            properties=connect_properties(session_expiry_s if persistent else 0, receive_maximum),
        )
    else:
        client.connect_async(address.host, address.port, keepalive=keepalive)
