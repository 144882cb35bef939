"""Named export destinations kept in the store (the optional configuration table).

A header value is kept either as a reference to an environment variable (``env:VAR``, the
recommended form: the secret never touches the disk) or literally; literal values of
credential-like headers are never printed back, in any listing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from agent_otlp.core.errors import ConfigError
from agent_otlp.core.secrets import Secret, is_secret_header, mask_value, register_secret
from agent_otlp.core.settings import PROTOCOLS
from agent_otlp.store.sqlite import SpanStore

__all__ = ["DestinationStore", "StoredDestination"]

_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_REF: Final = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass(frozen=True, slots=True)
class StoredDestination:
    name: str
    adapter: str
    endpoint: str | None = None
    protocol: str | None = None
    #: header name -> {"env": VAR} or {"value": literal}
    headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    batch_size: int | None = None
    timeout: float | None = None
    enabled: bool = True
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""

    def shown_headers(self) -> dict[str, str]:
        """Headers for display: references as ``env:VAR``, secret literals masked."""
        shown = {}
        for name, ref in self.headers.items():
            if "env" in ref:
                shown[name] = f"env:{ref['env']}"
            elif is_secret_header(name):
                shown[name] = mask_value(ref.get("value", ""))
            else:
                shown[name] = ref.get("value", "")
        return shown

    def resolved_headers(self, env: Mapping[str, str]) -> dict[str, str | Secret]:
        """Header values for sending; a missing variable is a ConfigError naming it."""
        out: dict[str, str | Secret] = {}
        for name, ref in self.headers.items():
            if "env" in ref:
                var = ref["env"]
                if var not in env:
                    raise ConfigError(
                        f"destination {self.name} header {name}", f"env:{var}",
                        f"environment variable {var} is not set",
                    )
                value = env[var]
            else:
                value = ref.get("value", "")
            out[name] = Secret(value) if is_secret_header(name) else value
        return out

    def arguments(self, env: Mapping[str, str]) -> dict[str, Any]:
        """This destination as ``create_exporter(destinations={name: ...})`` arguments."""
        args: dict[str, Any] = {"adapter": self.adapter}
        if self.endpoint:
            args["endpoint"] = self.endpoint
        if self.protocol:
            args["protocol"] = self.protocol
        if self.headers:
            args["headers"] = self.resolved_headers(env)
        if self.batch_size:
            args["batch_size"] = self.batch_size
        if self.timeout:
            args["timeout"] = self.timeout
        return args


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def parse_header_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``name=env:VAR`` or ``name=value`` from the command line."""
    name, sep, value = spec.partition("=")
    if not sep or not name.strip():
        raise ConfigError("--header", "****", "expected NAME=env:VAR or NAME=VALUE")
    match = _ENV_REF.match(value.strip())
    if match:
        return name.strip(), {"env": match.group(1)}
    if is_secret_header(name):
        register_secret(value)
    return name.strip(), {"value": value}


class DestinationStore:
    """CRUD over the ``destinations`` table."""

    def __init__(self, store: SpanStore) -> None:
        self._store = store

    def add(self, destination: StoredDestination) -> StoredDestination:
        if not _NAME.match(destination.name):
            raise ConfigError("name", destination.name, "letters, digits, '_', '.', '-' (max 64)")
        if destination.protocol and destination.protocol not in PROTOCOLS:
            raise ConfigError("protocol", destination.protocol, f"expected one of {', '.join(PROTOCOLS)}")
        if destination.batch_size is not None and destination.batch_size < 1:
            raise ConfigError("batch_size", destination.batch_size, "expected a number >= 1")
        if destination.timeout is not None and destination.timeout <= 0:
            raise ConfigError("timeout", destination.timeout, "expected a number > 0")
        if self.get(destination.name) is not None:
            raise ConfigError("name", destination.name, "a destination with this name exists")
        now = _now()
        self._store.execute(
            "INSERT INTO destinations (name, adapter, endpoint, protocol, headers, batch_size, "
            "timeout, enabled, metadata, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                destination.name, destination.adapter, destination.endpoint, destination.protocol,
                json.dumps(dict(destination.headers)), destination.batch_size, destination.timeout,
                int(destination.enabled), json.dumps(dict(destination.metadata)), now, now,
            ),
        )
        found = self.get(destination.name)
        assert found is not None
        return found

    def get(self, name: str) -> StoredDestination | None:
        rows = self._store.execute(
            "SELECT name, adapter, endpoint, protocol, headers, batch_size, timeout, enabled, "
            "metadata, created_at, updated_at FROM destinations WHERE name = ?",
            (name,),
        )
        return _row(rows[0]) if rows else None

    def list(self) -> list[StoredDestination]:
        rows = self._store.execute(
            "SELECT name, adapter, endpoint, protocol, headers, batch_size, timeout, enabled, "
            "metadata, created_at, updated_at FROM destinations ORDER BY name"
        )
        return [_row(r) for r in rows]

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._require(name)
        self._store.execute(
            "UPDATE destinations SET enabled = ?, updated_at = ? WHERE name = ?",
            (int(enabled), _now(), name),
        )

    def remove(self, name: str) -> None:
        self._require(name)
        self._store.execute("DELETE FROM destinations WHERE name = ?", (name,))

    def _require(self, name: str) -> None:
        if self.get(name) is None:
            known = ", ".join(d.name for d in self.list()) or "none"
            raise ConfigError("destination", name, f"no such destination; stored: {known}")

    def exporter_arguments(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """``create_exporter`` arguments for every enabled stored destination."""
        env = os.environ if env is None else env
        enabled = [d for d in self.list() if d.enabled]
        return {
            "adapters": [d.name for d in enabled],
            "destinations": {d.name: d.arguments(env) for d in enabled},
        }


def _row(row: tuple[Any, ...]) -> StoredDestination:
    headers = json.loads(row[4] or "{}")
    for name, ref in headers.items():
        if "value" in ref and is_secret_header(name):
            register_secret(ref["value"])
    return StoredDestination(
        name=row[0], adapter=row[1], endpoint=row[2], protocol=row[3], headers=headers,
        batch_size=row[5], timeout=row[6], enabled=bool(row[7]),
        metadata=json.loads(row[8] or "{}"), created_at=row[9], updated_at=row[10],
    )
