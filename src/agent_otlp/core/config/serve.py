"""Settings of ``agent-otlp serve`` (the ingest bridge) from the config file's ``[serve]``
table. An option on the command line, then its environment variable (``AGENT_OTLP_BRIDGE_*``,
see :mod:`agent_otlp.core.config.envvars`), beat the file::

    [serve]
    tls_self_signed = "~/.local/share/agent-otlp/tls"   # or tls_cert / tls_key
    tokens = "/etc/agent-otlp/tokens.toml"
    max_body = "64MiB"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from agent_otlp.core.config.errors import ConfigError

__all__ = ["SERVE_KEYS", "ServeOption", "serve_option", "serve_table"]

#: Keys of the ``[serve]`` table, and the command-line option of each.
SERVE_KEYS: Final = {
    "tls_cert": "--tls-cert",
    "tls_key": "--tls-key",
    "tls_self_signed": "--tls-self-signed",
    "tokens": "--tokens",
    "max_body": "--max-body",
}

#: ``(value, setting)``: a value and the name to quote in errors about it.
ServeOption = tuple[str | None, str]


def serve_table(file_config: Mapping[str, Any]) -> dict[str, str]:
    """The ``[serve]`` table of a config file, checked: known keys, text values (a size
    may be a number of bytes)."""
    table = file_config.get("serve")
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise ConfigError("[serve] (config file)", table, "a table of serve settings")
    checked: dict[str, str] = {}
    for key, value in table.items():
        if key not in SERVE_KEYS:
            raise ConfigError(f"serve.{key} (config file)", value,
                              f"a known key: {', '.join(sorted(SERVE_KEYS))}")
        if key == "max_body" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"serve.{key} (config file)", value, "a non-empty text")
        checked[key] = value
    return checked


def serve_option(option: str | None, key: str, table: Mapping[str, str]) -> ServeOption:
    """The value of setting ``key``: the option (or its environment variable) when given,
    else the config file's; with the name to quote in an error about it."""
    if option is not None:
        return option, SERVE_KEYS[key]
    return table.get(key), f"serve.{key} (config file)"
