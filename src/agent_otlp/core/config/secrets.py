"""Keeping secrets out of logs, errors, reprs and CLI output.

Header values and settings that carry credentials are wrapped in :class:`Secret`, whose
``str``/``repr`` never show the value. :func:`mask_headers` and :func:`redact_text` are
used wherever text that might contain a secret leaves the library.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Final, final

from agent_otlp.core.config.errors import MASK, mask_value

__all__ = [
    "SECRET_HEADER_PATTERN",
    "Secret",
    "is_secret_header",
    "mask_headers",
    "mask_value",
    "redact_text",
    "register_secret",
]

#: Header names whose values are always treated as secrets.
SECRET_HEADER_PATTERN: Final = re.compile(
    r"(authorization|api[-_]?key|token|secret|password|x-honeycomb-team|cookie|signature)",
    re.IGNORECASE,
)

_MASK: Final = MASK
_known_secrets: set[str] = set()
_known_lock = threading.Lock()


@final
class Secret:
    """A string that never shows itself. ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def register_secret(value: str) -> None:
    """Remember ``value`` so :func:`redact_text` removes it from any text it appears in.

    The credential of ``Scheme credential`` (``Bearer ...``, ``Basic ...``) is remembered on
    its own too: servers echo tokens without their scheme.
    """
    parts = [value]
    scheme, _, credential = value.strip().partition(" ")
    if scheme and credential.strip():
        parts.append(credential.strip())
    parts.extend([form for part in list(parts) for form in _escaped(part)])
    with _known_lock:
        _known_secrets.update(p for p in parts if len(p) >= 4)


def _escaped(value: str) -> set[str]:
    """``value`` as the repr of a ``str`` or of UTF-8 ``bytes`` shows it, when that differs
    (control characters escaped as ``\\r\\n``): an exception that quotes a value this way
    must not carry it past :func:`redact_text`."""
    forms = {repr(value)[1:-1], repr(value.encode("utf-8", "surrogateescape"))[2:-1]}
    forms.discard(value)
    return forms


def is_secret_header(name: str) -> bool:
    return SECRET_HEADER_PATTERN.search(name) is not None


def mask_headers(headers: Mapping[str, str | Secret]) -> dict[str, str]:
    """Headers fit for display: secret-looking values replaced by a mask."""
    shown: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(value, Secret) or is_secret_header(name):
            shown[name] = mask_value(value)
        else:
            shown[name] = value
    return shown


def redact_text(text: str) -> str:
    """Replace every registered secret inside ``text`` by a mask."""
    with _known_lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text
