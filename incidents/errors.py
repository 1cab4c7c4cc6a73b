"""Why a command was refused, in both languages: the API and the dashboard show these."""

from __future__ import annotations


class CommandRefused(ValueError):
    """A command that cannot be carried out; `zh` and `en` say why and what to do."""

    status = 400
    """The HTTP status the API answers with."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        """The reason in Chinese."""
        self.en = en
        """The reason in English."""


class NotFound(CommandRefused):
    """The incident, order, unit or plan named does not exist."""

    status = 404


class Conflict(CommandRefused):
    """The command does not fit the current state (illegal transition, busy unit …)."""

    status = 409


class Invalid(CommandRefused):
    """The command itself is malformed or inconsistent."""

    status = 422


def not_found(what: str, key: str) -> NotFound:
    """NotFound for an incident, order or unit (any store's wording for a missing key)."""
    names = {"incident": "事件", "order": "调度指令", "unit": "单位"}
    return NotFound(f"{names.get(what, what)} {key} 不存在", f"{what} {key} does not exist")


class StoreError(RuntimeError):
    """The store could not do what was asked."""


class StoreUnavailable(StoreError):
    """The store (PostgreSQL) cannot be reached or went away; the caller should retry later."""


class LiveUnavailable(RuntimeError):
    """The live state (Redis) cannot be reached; it will be rebuilt when it returns."""
