"""The destinations that inspecting commands (``doctor``, ``config``) look at: the ones
``send`` and ``serve`` would use, stored destinations included, read from the span store
only when it exists (inspecting never creates a store)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_otlp.cli._common import cli_store, stored_destination_arguments
from agent_otlp.core.config import envvars as ev
from agent_otlp.core.config.loading import load_config_file

__all__ = ["Chosen", "chosen_destinations"]

_OFF = ("0", "false", "off", "no")
_ON = ("1", "true", "on", "yes")


@dataclass(frozen=True, slots=True)
class Chosen:
    """What a command would export to: ``adapters`` and ``destinations`` arguments for
    :func:`~agent_otlp.factory.resolve_all`, and whether anything chose them."""

    adapters: str | None
    destinations: dict[str, Any] = field(default_factory=dict)
    #: False when nothing names a destination: the default (``console``) applies.
    configured: bool = True


def _existing_store_path(store: Path | None, env: Mapping[str, str]) -> Path | None:
    """The store file ``send`` would use (``--store``, else ``AGENT_OTLP_STORE``, else the
    default path), when it exists."""
    from agent_otlp.store.sqlite import default_store_path

    raw: str | Path = store if store is not None else env.get(ev.AGENT_OTLP_STORE) or "on"
    text = str(raw).strip().lower()
    if store is None and text in _OFF:
        return None
    path = default_store_path(dict(env)) if store is None and text in _ON else Path(raw)
    path = path.expanduser()
    return path if path.is_file() else None


def chosen_destinations(
    adapters: str | None, config: Path | None, store: Path | None, endpoint: str | None,
    env: Mapping[str, str],
) -> Chosen:
    """The destinations ``send`` would choose from the same options; a ConfigError when a
    stored destination cannot be used (disabled, a variable it names unset...)."""
    path = _existing_store_path(store, env)
    span_store = cli_store(path, env=env) if path is not None else None
    try:
        names, destinations = stored_destination_arguments(adapters, config, span_store, env)
    finally:
        if span_store is not None:
            span_store.close()
    configured = bool(
        names or destinations or endpoint
        or env.get(ev.AGENT_OTLP_ADAPTERS)
        or env.get(ev.OTEL_EXPORTER_OTLP_ENDPOINT)
        or env.get(ev.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
        or load_config_file(config, env).get("adapters") is not None
    )
    return Chosen(names, destinations, configured)
