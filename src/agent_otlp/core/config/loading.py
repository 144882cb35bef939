"""Where configuration comes from: the TOML config file (found and read) and the list of
destinations to export to (argument, ``AGENT_OTLP_ADAPTERS``, config file)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_otlp.core.config import envvars as ev
from agent_otlp.core.config.errors import ConfigError

__all__ = ["destination_names", "load_config_file"]


def destination_names(
    arguments: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    file_config: Mapping[str, Any] | None = None,
) -> list[str]:
    """The destinations to export to, in the order given."""
    arguments = arguments or {}
    env = os.environ if env is None else env
    file_config = file_config or {}
    raw: Any = arguments.get("adapters")
    label = "adapters (argument)"
    if raw is None and env.get(ev.AGENT_OTLP_ADAPTERS):
        raw, label = env[ev.AGENT_OTLP_ADAPTERS], ev.AGENT_OTLP_ADAPTERS
    if raw is None and file_config.get("adapters") is not None:
        raw, label = file_config["adapters"], "adapters (config file)"
    if raw is None:  # an endpoint given without an adapter means plain OTLP to it
        endpoint_set = arguments.get("endpoint") or any(
            env.get(k) for k in (ev.OTEL_EXPORTER_OTLP_ENDPOINT, ev.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
        )
        return ["otlp" if endpoint_set else "console"]
    names = [n.strip() for n in raw.split(",")] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(label, raw, "expected adapter names, e.g. jaeger,honeycomb")
    return list(dict.fromkeys(n.strip() for n in names))


def load_config_file(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The TOML config file as a dict; ``{}`` when none is configured or found."""
    env = os.environ if env is None else env
    explicit = path or env.get(ev.AGENT_OTLP_CONFIG)
    if explicit:
        candidates = [Path(explicit).expanduser()]
    else:
        xdg = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        candidates = [Path("agent-otlp.toml"), xdg / "agent-otlp" / "config.toml"]
    for candidate in candidates:
        if candidate.is_file():
            try:
                with candidate.open("rb") as handle:
                    return tomllib.load(handle)
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(ev.AGENT_OTLP_CONFIG, str(candidate), f"unreadable TOML: {exc}") from None
        elif explicit:
            raise ConfigError(ev.AGENT_OTLP_CONFIG, str(candidate), "no such file")
    return {}
