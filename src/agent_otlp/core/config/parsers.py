"""Parsers of setting values: each takes the raw value (argument, environment text or TOML
value) and the label naming where it came from, and returns the value or raises a
:class:`~agent_otlp.core.config.errors.ConfigError` naming the label and the value (secret
values masked)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.headers import check_headers
from agent_otlp.core.config.secrets import Secret, is_secret_header

__all__ = [
    "Number",
    "choice",
    "parse_bool",
    "parse_headers",
    "parse_key_values",
    "parse_path",
    "parse_rate",
    "parse_text",
]

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})


def parse_bool(raw: Any, label: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(label, raw, "expected true or false")


class Number:
    """Parser of a finite ``int``/``float`` setting that must be >= ``minimum`` (or, with
    ``above``, > ``minimum``); :attr:`bound` says which, for messages."""

    def __init__(self, kind: type, minimum: float, *, above: bool = False) -> None:
        self.kind, self.minimum, self.above = kind, minimum, above
        self.bound = f"{'>' if above else '>='} {minimum:g}"
        self.allowed = f"expected {'an integer' if kind is int else 'a number'} {self.bound}"

    def __call__(self, raw: Any, label: str) -> Any:
        if isinstance(raw, bool):
            raise ConfigError(label, raw, self.allowed)
        try:
            number = float(str(raw).strip()) if isinstance(raw, str) else float(raw)
        except (TypeError, ValueError):
            raise ConfigError(label, raw, self.allowed) from None
        low = number <= self.minimum if self.above else number < self.minimum
        if not math.isfinite(number) or low:
            raise ConfigError(label, raw, self.allowed)
        if self.kind is int:
            if number != int(number):
                raise ConfigError(label, raw, self.allowed)
            return int(number)
        return number


def parse_rate(raw: Any, label: str) -> float:
    value = Number(float, 0.0)(raw, label)
    if value > 1.0:
        raise ConfigError(label, raw, "expected a fraction between 0 and 1")
    return float(value)


def choice(choices: tuple[str, ...], aliases: Mapping[str, str] | None = None) -> Any:
    def parse(raw: Any, label: str) -> str:
        text = str(raw).strip().lower()
        text = (aliases or {}).get(text, text)
        if text not in choices:
            raise ConfigError(label, raw, f"expected one of {', '.join(choices)}")
        return text

    return parse


def parse_text(raw: Any, label: str) -> str:
    if not isinstance(raw, str):
        raise ConfigError(label, raw, "expected text")
    return raw


def parse_path(raw: Any, label: str) -> str:
    text = parse_text(raw, label)
    if not Path(text).expanduser().is_file():
        raise ConfigError(label, raw, "expected the path of a readable file")
    return str(Path(text).expanduser())


def parse_key_values(
    raw: Any, label: str, *, secret_values: bool = False
) -> dict[str, str | Secret]:
    """``k1=v1,k2=v2`` (values percent-decoded), as in ``OTEL_EXPORTER_OTLP_HEADERS``."""
    if isinstance(raw, Mapping):
        return {str(k): v if isinstance(v, Secret) else str(v) for k, v in raw.items()}
    if not isinstance(raw, str):
        raise ConfigError(label, raw, "expected key=value pairs", secret=secret_values)
    out: dict[str, str | Secret] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                label, raw, "expected comma-separated key=value pairs", secret=secret_values
            )
        out[unquote(key.strip())] = unquote(value.strip())
    return out


def parse_headers(raw: Any, label: str) -> dict[str, str | Secret]:
    pairs = parse_key_values(raw, label, secret_values=True)
    check_headers(pairs, label)
    return {
        k: (Secret(v) if isinstance(v, str) and is_secret_header(k) else v)
        for k, v in pairs.items()
    }
