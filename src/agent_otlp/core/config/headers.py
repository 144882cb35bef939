"""Checking header values (and names) when they are configured, not when they are sent.

A value with a line break or another control character cannot be sent: :mod:`http.client`
and gRPC refuse it with an exception whose text holds the whole value, credentials
included. :func:`check_headers` refuses it first, with a :class:`ConfigError` that names the
header and where it came from and shows the value masked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.secrets import Secret

__all__ = ["check_headers"]

#: RFC 9110 token characters: what a field name is made of.
_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NAMED: Final = {"\r": "a carriage return (CR)", "\n": "a line feed (LF)", "\x00": "a NUL"}


def _value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a header value (nothing of it shown), or ``None``."""
    for position, char in enumerate(value, 1):
        code = ord(char)
        if (code < 0x20 and char != "\t") or code == 0x7F:
            what = _NAMED.get(char, f"the control character U+{code:04X}")
            return (f"contains {what} at character {position}; a header value is one line "
                    "of printable text")
        if code > 0x7F:  # obs-text is obsolete in HTTP and refused in gRPC metadata
            return (f"contains the non-ASCII character U+{code:04X} at character {position}; "
                    "a header value is printable ASCII")
    return None


def check_headers(headers: Mapping[str, str | Secret], origin: str) -> None:
    """Raise :class:`ConfigError` naming the first header of ``headers`` (from ``origin``,
    e.g. ``env OTEL_EXPORTER_OTLP_HEADERS``) that cannot be sent; the value is masked."""
    for name, raw in headers.items():
        value = raw.reveal() if isinstance(raw, Secret) else raw
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            # shown masked too: a pasted "Authorization: Bearer ..." lands here whole
            raise ConfigError(f"header name in {origin}", name,
                              "expected letters, digits and !#$%&'*+-.^_`|~ only", secret=True)
        if not isinstance(value, str):
            raise ConfigError(f"header {name} ({origin})", value, "expected text", secret=True)
        problem = _value_problem(value)
        if problem is not None:
            raise ConfigError(f"header {name} ({origin})", value, problem, secret=True)
