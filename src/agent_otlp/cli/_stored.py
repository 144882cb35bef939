"""The destinations that inspecting commands (``doctor``, ``config``) look at: the ones
``send`` and ``serve`` would use, stored destinations included, read from the span store
only when it exists (inspecting never creates a store)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_otlp.cli._common import (
    cli_store,
    cli_store_asked,
    destination_chosen_elsewhere,
    stored_destination_arguments,
)
from agent_otlp.factory import store_path

__all__ = ["Chosen", "chosen_destinations"]


@dataclass(frozen=True, slots=True)
class Chosen:
    """What a command would export to: ``adapters`` and ``destinations`` arguments for
    :func:`~agent_otlp.factory.resolve_all`, and whether anything chose them."""

    adapters: str | None
    destinations: dict[str, Any] = field(default_factory=dict)
    #: False when nothing names a destination: the default (``console``) applies.
    configured: bool = True


def _existing_store_path(store: Path | None, env: Mapping[str, str]) -> Path | None:
    """The store file ``send`` would use, when it exists."""
    path = store_path(cli_store_asked(store, env), env)
    return Path(path) if path is not None and Path(path).is_file() else None


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
    configured = bool(names or destinations or endpoint
                      or destination_chosen_elsewhere(config, env))
    return Chosen(names, destinations, configured)
