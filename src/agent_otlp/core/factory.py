"""Building an exporter from arguments, environment, config file and the installed adapters."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from agent_otlp.core.destination import Destination
from agent_otlp.core.exporter import AgentExporter
from agent_otlp.core.flatten import clean_str
from agent_otlp.core.plugins import AdapterManager
from agent_otlp.core.records import AttrValue
from agent_otlp.core.settings import (
    Settings,
    destination_names,
    load_config_file,
    resolve_settings,
)
from agent_otlp.core.transport import Transport

__all__ = ["create_exporter", "resolve_all"]

TransportFactory = Callable[[Settings], Transport]


def resolve_all(
    adapters: str | list[str] | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    manager: AdapterManager | None = None,
    **arguments: Any,
) -> list[tuple[Settings, Any]]:
    """Every configured destination's settings and hooks, validated; nothing started."""
    env = os.environ if env is None else env
    file_config = load_config_file(config_file, env)
    if adapters is not None:
        arguments["adapters"] = adapters
    manager = manager or AdapterManager(env=env)
    resolved = []
    for name in destination_names(arguments, env, file_config):
        dest_args = (arguments.get("destinations") or {}).get(name) or {}
        file_dest = (file_config.get("destination") or {}).get(name) or {}
        adapter = dest_args.get("adapter") or file_dest.get("adapter") or name
        hooks = manager.hooks_for(adapter)
        settings = resolve_settings(
            name,
            adapter=adapter,
            arguments=arguments,
            env=env,
            file_config=file_config,
            adapter_defaults=hooks.transport_defaults,
        )
        hooks.validate_settings(settings)
        resolved.append((settings, hooks))
    return resolved


def resource_for(settings: Settings, hooks: Any) -> dict[str, AttrValue]:
    """Resource attributes in the documented precedence (lowest first): built-in defaults,
    adapter hooks, ``OTEL_RESOURCE_ATTRIBUTES``/config/argument ``resource``, service name."""
    resource: dict[str, AttrValue] = hooks.resource_attributes(settings)
    # An adapter's default service name ranks with the adapter's resource hook: below
    # OTEL_RESOURCE_ATTRIBUTES; the user's service name (OTEL_SERVICE_NAME...) beats all.
    from_user = settings.origins.get("service_name") not in (None, "default", "adapter default")
    if settings.service_name and not from_user:
        resource["service.name"] = settings.service_name
    resource.update(settings.resource)
    if settings.service_name and from_user:
        resource["service.name"] = settings.service_name
    # the environment may hold undecodable bytes (surrogate escapes): never fail encoding
    return {clean_str(k): clean_str(v) if isinstance(v, str) else v for k, v in resource.items()}


def create_exporter(
    adapters: str | list[str] | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    manager: AdapterManager | None = None,
    transport_factory: TransportFactory | None = None,
    **arguments: Any,
) -> AgentExporter:
    """An exporter for the configured destinations, started.

    :param adapters: destination names (``"jaeger,honeycomb"`` or a list); default from
        ``AGENT_OTLP_ADAPTERS``, the config file, else ``console`` (or ``otlp`` when an OTLP
        endpoint variable is set).
    :param config_file: TOML file; default from ``AGENT_OTLP_CONFIG`` or the usual places.
    :param env: environment to read instead of ``os.environ`` (tests).
    :param manager: a prepared :class:`AdapterManager` (tests, embedding applications).
    :param transport_factory: build transports yourself (tests); default: the adapter's.
    :param arguments: any setting by name (``endpoint``, ``protocol``, ``headers``,
        ``capture_content``, ``service_name``, ``resource``, ``options``...), applied to every
        destination; ``destinations={"name": {...}}`` for one destination only.

    Raises :class:`~agent_otlp.core.errors.ConfigError` for unusable settings.
    """
    destinations = []
    for settings, hooks in resolve_all(
        adapters, config_file=config_file, env=env, manager=manager, **arguments
    ):
        if settings.disabled:
            continue
        transport = transport_factory(settings) if transport_factory else hooks.make_transport(settings)
        destinations.append(
            Destination(
                settings,
                hooks,
                transport,
                resource_for(settings, hooks),
                sampling=settings.sample_rate < 1.0 or hooks.custom_sampler,
            )
        )
    return AgentExporter(destinations)
