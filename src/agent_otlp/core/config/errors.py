"""Exceptions raised by agent-otlp.

Every message names the offending setting or field and its value; values that may be
secrets are masked before they reach the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = ["MASK", "AgentOTLPError", "ConfigError", "InputError", "mask_value"]

#: What stands in for a secret in every text agent-otlp writes.
MASK: Final = "****"


def mask_value(value: object) -> str:
    """A stand-in that says how long the value was, and nothing else of it (for a
    :class:`~agent_otlp.core.config.secrets.Secret`, how long the secret is).

    Defined here, not beside ``Secret``, so that this module imports nothing of the package:
    the pure conversion code raises these errors and must not pull in more.
    """
    reveal = getattr(type(value), "reveal", None)
    text = str(reveal(value) if callable(reveal) else value)
    return f"{MASK}({len(text)} chars)" if text else "''"


class AgentOTLPError(Exception):
    """Base class of every error agent-otlp raises on purpose."""


class ConfigError(AgentOTLPError, ValueError):
    """A setting has a value that cannot be used.

    :param setting: the setting's name as the user wrote it (env var, file key or argument).
    :param value: the offending value; masked when ``secret`` is true.
    :param allowed: what would have been accepted.
    """

    def __init__(
        self,
        setting: str,
        value: object,
        allowed: str,
        *,
        secret: bool = False,
    ) -> None:
        shown = mask_value(value) if secret else repr(value)
        self.setting = setting
        self.allowed = allowed
        super().__init__(f"invalid {setting}={shown}: {allowed}")


class InputError(AgentOTLPError, ValueError):
    """An agent trace or span item that cannot be converted.

    :param field: dotted path of the offending field inside the item (``span_data.usage``).
    :param value: the offending value, shortened for the message.
    :param reason: why it was refused.
    :param item_id: the item's ``id`` when it has a readable one.
    """

    def __init__(self, field: str, value: object, reason: str, *, item_id: str | None = None) -> None:
        self.field = field
        self.reason = reason
        self.item_id = item_id
        where = f" in item {item_id!r}" if item_id else ""
        super().__init__(f"{field}={_short_repr(value)}{where}: {reason}")


def _short_repr(value: object, limit: int = 120) -> str:
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not hide the real error
        text = f"<unrepresentable {type(value).__name__}>"
    if len(text) > limit:
        return f"{text[:limit]}...({len(text) - limit} more chars)"
    return text


def join_errors(errors: Iterable[InputError]) -> str:
    """One line per error, for CLI and bridge responses."""
    return "\n".join(str(e) for e in errors)
