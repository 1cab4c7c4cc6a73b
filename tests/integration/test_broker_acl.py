"""Cross-agency publishing is refused by the broker (Mosquitto and the embedded amqtt)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from pwdlib import PasswordHash

from sitroom.acl import load_accounts, mosquitto_acl
from tests.support.servers import ServerProcess, free_port, start_mosquitto, stop, wait_port

pytestmark = pytest.mark.integration

ROOT = "sitroom/v1"
AGENCIES = ("police", "fire", "water")
PASSWORDS = {"sitroom-ingest": "ingest-secret", "police-avl": "police-secret",
             "xt-119-03": "engine-secret"}


@pytest.fixture(scope="module")
def accounts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    hasher = PasswordHash.recommended()
    path = tmp_path_factory.mktemp("acl") / "accounts.toml"
    path.write_text(f"""
[[account]]
username = "sitroom-ingest"
role = "service"
password_hash = "{hasher.hash(PASSWORDS["sitroom-ingest"])}"

[[account]]
username = "police-avl"
role = "agency"
agency = "police"
password_hash = "{hasher.hash(PASSWORDS["police-avl"])}"

[[account]]
username = "xt-119-03"
role = "agency"
agency = "fire"
sources = ["xt-119-03"]
password_hash = "{hasher.hash(PASSWORDS["xt-119-03"])}"
""")
    return path


@pytest.fixture(scope="module")
def secured_mosquitto(accounts_file: Path,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Mosquitto with passwords and the ACL that `sitroom accounts acl` generates."""
    work = tmp_path_factory.mktemp("secured-mosquitto")
    passwd = work / "passwd"
    for username, password in PASSWORDS.items():
        flags = ["-b", "-c"] if not passwd.exists() else ["-b"]
        subprocess.run(["mosquitto_passwd", *flags, str(passwd), username, password],
                       check=True, capture_output=True)
    acl = work / "acl"
    acl.write_text(mosquitto_acl(load_accounts(accounts_file, AGENCIES), ROOT))
    extra = f"password_file {passwd}\nacl_file {acl}\n"
    server = start_mosquitto(work / "data", extra=extra, anonymous=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def secured_amqtt(accounts_file: Path) -> Iterator[int]:
    """The embedded broker enforcing the same accounts file."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sitroom.broker", "--port", str(port), "--accounts",
         str(accounts_file), "--root", ROOT, "--agencies", '["police", "fire", "water"]'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    wait_port(port, process)
    yield port
    stop(process)


class Client5:
    """An MQTT 5 client that records what it receives and the PUBACK reason codes."""

    def __init__(self, port: int, username: str | None, password: str | None) -> None:
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                             protocol=MQTTProtocolVersion.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        self.connack: ReasonCode | None = None
        self.received: list[str] = []
        self.acks: dict[int, ReasonCode] = {}
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc)
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self._connected.wait(10)

    def _on_connect(self, client: Client, userdata: object, flags: object, reason: ReasonCode,
                    properties: object) -> None:
        self.connack = reason
        self._connected.set()

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(10)

    def publish(self, topic: str) -> ReasonCode:
        info = self.client.publish(topic, b'{"id":"x"}', qos=1)
        info.wait_for_publish(10)
        return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _check_rules(port: int, refusals_are_visible: bool) -> None:
    ingest = Client5(port, "sitroom-ingest", PASSWORDS["sitroom-ingest"])
    police = Client5(port, "police-avl", PASSWORDS["police-avl"])
    engine = Client5(port, "xt-119-03", PASSWORDS["xt-119-03"])
    try:
        ingest.subscribe(f"{ROOT}/+/+/+")
        own = police.publish(f"{ROOT}/police/position/avl-gw-1")
        foreign = police.publish(f"{ROOT}/fire/position/avl-gw-1")
        as_itself = engine.publish(f"{ROOT}/fire/position/xt-119-03")
        as_another = engine.publish(f"{ROOT}/fire/position/xt-119-04")
        deadline = time.monotonic() + 5
        while len(ingest.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # anything refused would have arrived by now
        assert sorted(ingest.received) == sorted([f"{ROOT}/police/position/avl-gw-1",
                                                  f"{ROOT}/fire/position/xt-119-03"])
        assert not own.is_failure and not as_itself.is_failure
        if refusals_are_visible:
            assert foreign.value == 135 and as_another.value == 135  # Not authorized
    finally:
        for client in (ingest, police, engine):
            client.close()


def test_mosquitto_refuses_publishing_under_another_agency(
    secured_mosquitto: ServerProcess,
) -> None:
    _check_rules(secured_mosquitto.port, refusals_are_visible=True)


def test_mosquitto_refuses_unknown_and_anonymous_clients(
    secured_mosquitto: ServerProcess,
) -> None:
    for username, password in ((None, None), ("police-avl", "wrong")):
        client = Client5(secured_mosquitto.port, username, password)
        assert client.connack is not None and client.connack.is_failure
        client.close()


def test_the_embedded_broker_applies_the_same_rules(secured_amqtt: int) -> None:
    # amqtt speaks MQTT 3.1.1 only and drops refused messages without telling the sender.
    _check_rules_311(secured_amqtt)


def _check_rules_311(port: int) -> None:
    received: list[str] = []
    subscribed = threading.Event()

    def client(username: str) -> Client:
        c = Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                   protocol=MQTTProtocolVersion.MQTTv311)
        c.username_pw_set(username, PASSWORDS[username])
        c.connect("127.0.0.1", port)
        c.loop_start()
        return c

    ingest = client("sitroom-ingest")
    ingest.on_message = lambda c, u, m: received.append(m.topic)
    ingest.on_subscribe = lambda *a: subscribed.set()
    ingest.subscribe(f"{ROOT}/+/+/+", qos=1)
    assert subscribed.wait(10)
    police = client("police-avl")
    try:
        for topic in (f"{ROOT}/fire/position/avl-gw-1", f"{ROOT}/police/position/avl-gw-1"):
            police.publish(topic, b"{}", qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert received == [f"{ROOT}/police/position/avl-gw-1"]
    finally:
        for c in (ingest, police):
            c.disconnect()
            c.loop_stop()


def test_the_embedded_broker_refuses_a_wrong_password(secured_amqtt: int) -> None:
    refused = threading.Event()
    c = Client(CallbackAPIVersion.VERSION2, client_id="t-wrong",
               protocol=MQTTProtocolVersion.MQTTv311)
    c.username_pw_set("police-avl", "wrong")
    c.on_connect = lambda cl, u, f, reason, p: refused.set() if reason.is_failure else None
    c.on_disconnect = lambda *a: refused.set()
    c.connect("127.0.0.1", secured_amqtt)
    c.loop_start()
    try:
        assert refused.wait(10)
    finally:
        c.disconnect()
        c.loop_stop()
