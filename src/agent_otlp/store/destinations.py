"""Named export destinations kept in the store (the optional configuration table).

A header value is kept either as a reference to an environment variable (``env:VAR``, the
recommended form: the secret never touches the disk) or literally; literal values of
credential-like headers are never printed back, in any listing.

A destination is checked when it is added (its adapter installed, its endpoint an http(s) URL
with a host, its protocol, header names and values, batch size and timeout) and again when it
is used, where an error names the destination: ``invalid endpoint (stored destination
'typo')='http://': ...``.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any, Final

from agent_otlp.core.config import envvars as ev
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.headers import check_headers
from agent_otlp.core.config.secrets import Secret, is_secret_header, mask_value, register_secret
from agent_otlp.core.config.settings import PROTOCOLS, check_endpoint
from agent_otlp.store.sqlite import SpanStore

__all__ = ["DestinationStore", "StoredDestination", "check_destination", "installed_adapters"]

_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_VAR: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
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
            label = f"header {name} ({self.origin})"
            if "env" in ref:
                var = ref["env"]
                if var not in env:
                    raise ConfigError(label, f"env:{var}", f"environment variable {var} is not set")
                value = env[var]
                check_headers({name: value}, f"{self.origin}, env {var}")
            else:
                value = ref.get("value", "")
            out[name] = Secret(value) if is_secret_header(name) else value
        return out

    @property
    def origin(self) -> str:
        """Where this destination's settings come from, for error messages."""
        return f"stored destination {self.name!r}"

    def arguments(
        self, env: Mapping[str, str], installed: Collection[str] | None = None
    ) -> dict[str, Any]:
        """This destination as ``create_exporter(destinations={name: ...})`` arguments.

        Checked again first (a row may predate the checks, or its adapter may have been
        uninstalled since): a :class:`ConfigError` names the field, the value and this
        destination. ``installed`` is the list of usable adapters (found when not given).
        """
        check_destination(self, installed_adapters(env) if installed is None else installed,
                          origin=self.origin)
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


def installed_adapters(env: Mapping[str, str] | None = None) -> list[str]:
    """The adapters installed (entry-point group ``agent_otlp.adapters``) and not blocked by
    ``AGENT_OTLP_DISABLE_PLUGINS``; found without importing them."""
    from agent_otlp.core.plugins.manager import ENTRY_POINT_GROUP

    env = os.environ if env is None else env
    blocked = {n.strip() for n in env.get(ev.AGENT_OTLP_DISABLE_PLUGINS, "").split(",")}
    return sorted({e.name for e in entry_points(group=ENTRY_POINT_GROUP)} - blocked)


def check_destination(
    destination: StoredDestination, installed: Collection[str], *, origin: str | None = None
) -> None:
    """Raise a :class:`ConfigError` naming the first field of ``destination`` that cannot be
    used; ``origin`` (``stored destination 'x'``) follows the field's name in the message."""

    def label(field_name: str) -> str:
        return f"{field_name} ({origin})" if origin else field_name

    if not _NAME.match(destination.name):
        raise ConfigError(label("name"), destination.name, "letters, digits, '_', '.', '-' (max 64)")
    _check_adapter(destination.adapter, installed, label("adapter"))
    if destination.endpoint is not None:
        _check_endpoint(destination.endpoint, label("endpoint"))
    if destination.protocol and destination.protocol not in PROTOCOLS:
        raise ConfigError(label("protocol"), destination.protocol, f"expected one of {', '.join(PROTOCOLS)}")
    _check_limits(destination, label)
    _check_headers(destination.headers, origin or f"destination {destination.name!r}")


def _check_limits(destination: StoredDestination, label: Callable[[str], str]) -> None:
    size, timeout = destination.batch_size, destination.timeout
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ConfigError(label("batch_size"), size, "expected a whole number >= 1")
    if timeout is not None and not (isinstance(timeout, int | float) and 0 < timeout < math.inf):
        raise ConfigError(label("timeout"), timeout, "expected a number of seconds > 0")


def _check_adapter(adapter: str, installed: Collection[str], label: str) -> None:
    if adapter in installed:
        return
    close = difflib.get_close_matches(adapter, list(installed), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(
        label, adapter,
        f"{hint}not an installed adapter; installed: {', '.join(sorted(installed)) or 'none'} "
        "(adapters are distributions registering the entry-point group 'agent_otlp.adapters')",
    )


def _check_endpoint(endpoint: str, label: str) -> None:
    check_endpoint(endpoint, label, "http/protobuf")  # a URL with its scheme, always
    if any(c.isspace() or not c.isprintable() for c in endpoint):  # urlsplit drops \t \r \n
        raise ConfigError(label, endpoint, "expected a URL without spaces or control characters",
                          secret="@" in endpoint)


def _check_headers(headers: Mapping[str, Mapping[str, str]], origin: str) -> None:
    """Names and literal values as :func:`check_headers` wants them; ``env:`` references
    name a variable (its value is checked when it is read)."""
    for name, ref in headers.items():
        if "env" in ref:
            check_headers({name: ""}, origin)
            if not _ENV_VAR.match(ref["env"]):
                raise ConfigError(f"header {name} ({origin})", f"env:{ref['env']}",
                                  "expected env:VAR, VAR a variable name")
        else:
            check_headers({name: ref.get("value", "")}, origin)


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

    def add(
        self, destination: StoredDestination, installed: Collection[str] | None = None
    ) -> StoredDestination:
        """Store ``destination`` once :func:`check_destination` accepts it; ``installed`` is
        the list of usable adapters (found when not given)."""
        check_destination(destination, installed_adapters() if installed is None else installed)
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
        installed = installed_adapters(env) if enabled else []
        return {
            "adapters": [d.name for d in enabled],
            "destinations": {d.name: d.arguments(env, installed) for d in enabled},
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
