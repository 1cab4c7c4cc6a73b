"""Control characters out of incoming text, once, at the edge (pure).

Feeds send C0 and C1 control characters (a gateway's stray 0x01, a copied 0x7F, a C1 byte
from a mis-decoded GBK string) that browsers draw as boxes. The codecs clean every text field
of the typed messages with these functions before anything stores or shows them:

- names, titles and ids keep no control character at all: separators (tab, line breaks)
  become a space so that words stay apart, the others are dropped;
- long free text (`FREE_TEXT_FIELDS`) keeps its tabs and line breaks (CR LF and lone CR
  become LF) and loses every other control character.

A required field that had text and is blank once cleaned is refused with `EmptyText`; an
optional one becomes absent.
"""

from __future__ import annotations

import re
from typing import Final, TypeVar

import msgspec

FREE_TEXT_FIELDS: Final = frozenset({"text", "note", "description", "instruction"})
"""Fields of long free text (message fields and CAP elements) that keep tabs and newlines."""

_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f]")
"""C0, DEL and C1."""
_SEPARATOR: Final = re.compile("[\t\n\x0b\x0c\r\x1c-\x1f\x85]+")
"""Controls that separate words or lines (Python's str.split splits on all of them)."""
_NOT_FREE_TEXT: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Every control character but tab and LF."""
_LINE_END: Final = re.compile("\r\n?")
_PLAIN_SPACE: Final = " \t\n\r"
"""Whitespace that is not content (Python's str.strip would also drop \x1c-\x1f and \x85)."""

S = TypeVar("S", bound=msgspec.Struct)


class EmptyText(ValueError):
    """A required text field had only control characters (and spaces)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is empty once its control characters are removed")
        self.field = field
        """The field, as the message names it (e.g. `text`, `alert/info[1]/event`)."""
        self.detail = str(self)
        """Dead-letter detail that names the field."""


def has_control(text: str) -> bool:
    """Whether `text` holds any C0 or C1 control character (tab and newline included)."""
    return _CONTROL.search(text) is not None


def clean_line(text: str) -> str:
    """A name, title or id without control characters (separators become one space)."""
    if not has_control(text):
        return text  # the common case: untouched, surrounding spaces included
    return _CONTROL.sub("", _SEPARATOR.sub(" ", text)).strip(" ")


def clean_free_text(text: str) -> str:
    """Long free text keeping only tab and LF of the control characters (CR LF becomes LF)."""
    if not has_control(text):
        return text
    return _NOT_FREE_TEXT.sub("", _LINE_END.sub("\n", text))


def clean_field(name: str, text: str) -> str:
    """`text` cleaned as the field `name` needs: free text or a single line."""
    return clean_free_text(text) if name in FREE_TEXT_FIELDS else clean_line(text)


def emptied(raw: str | None, name: str) -> bool:
    """Whether `raw` had more than plain whitespace and cleaning the field `name` blanks it."""
    if not raw or not raw.strip(_PLAIN_SPACE):
        return False  # blank to begin with: the caller's own "missing or empty" applies
    return not clean_field(name, raw).strip()


def clean_struct(message: S) -> S:
    """`message` with every plain text field cleaned (a flat struct: the field messages).

    Raises EmptyText when a required field is left blank; an emptied optional field takes
    its default (absent).
    """
    changes: dict[str, object] = {}
    for field in msgspec.structs.fields(message):
        value = getattr(message, field.name)
        if type(value) is not str:  # enums are validated members; numbers, times, None
            continue
        cleaned = clean_field(field.name, value)
        if cleaned == value:
            continue
        if not cleaned.strip():
            if field.required:
                raise EmptyText(field.encode_name)
            changes[field.name] = None if field.default is msgspec.NODEFAULT else field.default
        else:
            changes[field.name] = cleaned
    return msgspec.structs.replace(message, **changes) if changes else message
