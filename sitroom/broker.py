"""The embedded MQTT broker: amqtt bound to loopback, for demos and single-machine use.

Without an accounts file it is open (the demo). With one (`--accounts`), it enforces the
same rules as the Mosquitto ACL that `sitroom accounts acl` writes: only known accounts with
the right password, each publishing only under its own agency's namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session
from pwdlib import PasswordHash

from sitroom.acl import Access, Account, allowed, load_accounts

log = logging.getLogger("sitroom.broker")


class DemoAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """Lets every client in, but keeps sessions for clients that give a username.

    amqtt's own anonymous plugin marks *every* session anonymous, and amqtt keeps no session
    (and queues nothing) for anonymous clients: ingest would lose what arrives while it
    restarts. Only clients without a username are anonymous here.
    """

    @dataclass
    class Config:
        """No options."""

    async def authenticate(self, *, session: Session) -> bool:
        """Accept the client; it is anonymous only if it sent no username."""
        session.is_anonymous = not session.username
        return True


def _accounts(config: Any) -> dict[str, Account]:
    agencies = tuple(json.loads(config.agencies))
    return {a.username: a for a in load_accounts(Path(config.accounts), agencies)}


class AccountsAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """Only accounts from the accounts file, with their password; no anonymous clients."""

    @dataclass
    class Config:
        """Where the accounts are."""

        accounts: str = ""
        agencies: str = "[]"

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._accounts = _accounts(self.config)
        self._hasher = PasswordHash.recommended()

    async def authenticate(self, *, session: Session) -> bool:
        """Accept a known username whose password matches its Argon2 hash."""
        account = self._accounts.get(session.username or "")
        if account is None or account.password_hash is None or session.password is None:
            log.warning("refused MQTT login %r: unknown account or no password",
                        session.username)
            return False
        if not self._hasher.verify(session.password, account.password_hash):
            log.warning("refused MQTT login %r: wrong password", session.username)
            return False
        session.is_anonymous = False
        return True


class AccountsTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt is untyped
    """Each account publishes and receives only what sitroom.acl allows it."""

    @dataclass
    class Config:
        """Where the accounts are, and the topic root."""

        accounts: str = ""
        agencies: str = "[]"
        root: str = "sitroom/v1"

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._accounts = _accounts(self.config)
        self._root: str = self.config.root

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool:
        """Allow what the account's rules allow; subscriptions are filtered on delivery."""
        account = self._accounts.get(session.username or "") if session else None
        if account is None or topic is None:
            return False
        if action == Action.SUBSCRIBE:
            return True  # each delivered message is checked as RECEIVE
        access = Access.WRITE if action == Action.PUBLISH else Access.READ
        ok = allowed(account, access, topic, self._root)
        if not ok and action == Action.PUBLISH:
            log.warning("refused %s publishing to %s", account.username, topic)
        return ok


def broker_config(host: str, port: int, accounts: Path | None = None,
                  root: str = "sitroom/v1", agencies: tuple[str, ...] = ()) -> dict[str, Any]:
    """amqtt configuration: one TCP listener on `host` (never 0.0.0.0 by default), no $SYS."""
    plugins: dict[str, Any]
    if accounts is None:
        # Open access is for the embedded single-machine demo only; production uses
        # Mosquitto with per-agency accounts (docs/deploy.md).
        plugins = {"sitroom.broker.DemoAuthPlugin": {}}
    else:
        common = {"accounts": str(accounts), "agencies": json.dumps(list(agencies))}
        plugins = {"sitroom.broker.AccountsAuthPlugin": common,
                   "sitroom.broker.AccountsTopicPlugin": {**common, "root": root}}
    return {"listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": plugins}


async def serve(config: dict[str, Any]) -> None:
    """Run the broker until cancelled."""
    broker = Broker(config)
    await broker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await broker.shutdown()


def main() -> None:
    """Entry point of the embedded broker process."""
    parser = argparse.ArgumentParser(description="sitroom's embedded MQTT broker (amqtt)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--accounts", type=Path, help="enforce this accounts file")
    parser.add_argument("--root", default="sitroom/v1", help="topic root")
    parser.add_argument("--agencies", default="[]", help="JSON list of agencies")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s broker %(message)s")
    config = broker_config(args.host, args.port, args.accounts, args.root,
                           tuple(json.loads(args.agencies)))
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass  # Ctrl-C / SIGINT is the normal way to stop


if __name__ == "__main__":
    main()
