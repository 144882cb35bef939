"""Building an exporter from arguments, environment, config file and the installed adapters."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, overload

from agent_otlp.core.config import envvars as ev
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.settings import (
    Settings,
    destination_names,
    load_config_file,
    resolve_settings,
)
from agent_otlp.core.convert.flatten import clean_str
from agent_otlp.core.convert.records import AttrValue
from agent_otlp.core.convert.spans import ConvertOptions
from agent_otlp.core.pipeline.destination import Destination
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.core.plugins.manager import AdapterManager
from agent_otlp.core.wire.transport import Transport

if TYPE_CHECKING:
    from agent_otlp.core.pipeline.api import Exporter
    from agent_otlp.offload.frames import OffloadConfig
    from agent_otlp.offload.group import OffloadGroup
    from agent_otlp.offload.parent import OffloadExporter
    from agent_otlp.store.delivery_child import DeliveryConfig
    from agent_otlp.store.delivery_process import RemoteDestination
    from agent_otlp.store.sqlite import SpanStore

__all__ = ["MAX_OFFLOAD_PROCESSES", "create_exporter", "exporter_from_config", "open_store", "resolve_all"]

#: The most child processes offload mode runs (``offload=N``, ``AGENT_OTLP_OFFLOAD=N``).
MAX_OFFLOAD_PROCESSES: Final = 8

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


def open_store(
    store: bool | str | os.PathLike[str] | SpanStore | None, env: Mapping[str, str],
    *, read_only: bool = False,
) -> SpanStore | None:
    """The span store asked for: an argument beats ``AGENT_OTLP_STORE``; off by default.

    ``True``/``"on"`` means the default path (see :func:`default_store_path`); a path means
    that file; ``False``/``"off"`` means none.
    """
    from agent_otlp.store.sqlite import DEFAULT_UNDELIVERED_BUDGET, SpanStore

    if isinstance(store, SpanStore):
        return store
    store, label = _store_asked(store, env)
    path = _path_of(store, env)
    if path is None:
        return None
    budget_raw = env.get(ev.AGENT_OTLP_STORE_BUDGET)
    budget = DEFAULT_UNDELIVERED_BUDGET
    if budget_raw:
        try:
            budget = int(budget_raw)
            if budget < 1:
                raise ValueError
        except ValueError:
            raise ConfigError(ev.AGENT_OTLP_STORE_BUDGET, budget_raw, "expected bytes, a number >= 1") from None
    try:
        return SpanStore(path, undelivered_budget=budget, read_only=read_only)
    except (OSError, sqlite3.Error, RuntimeError) as exc:  # RuntimeError: a newer schema
        raise ConfigError(label, str(path), f"cannot open the span store: {exc}") from None


def _store_asked(store: object, env: Mapping[str, str]) -> tuple[Any, str]:
    """The store value asked for and where it came from: the argument, else
    ``AGENT_OTLP_STORE``."""
    if store is None:
        return env.get(ev.AGENT_OTLP_STORE) or None, ev.AGENT_OTLP_STORE
    return store, "store (argument)"


def _store_wanted(store: object) -> bool:
    """A store argument or ``AGENT_OTLP_STORE`` value that asks for a store."""
    if store is None or store is False:
        return False
    return str(store).strip().lower() not in ("0", "false", "off", "no", "")


def store_path(store: bool | str | os.PathLike[str] | None, env: Mapping[str, str]) -> str | None:
    """The file of the span store :func:`open_store` would open for ``store`` (the default
    path for ``True``/``"on"``), without opening it; ``None`` when no store is asked for."""
    return _path_of(_store_asked(store, env)[0], env)


def _path_of(store: object, env: Mapping[str, str]) -> str | None:
    from agent_otlp.store.sqlite import default_store_path

    if not _store_wanted(store):
        return None
    text = str(store).strip()
    if store is True or text.lower() in ("1", "true", "on", "yes"):
        return str(default_store_path(dict(env)))
    return text


@overload
def create_exporter(
    adapters: str | list[str] | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    manager: AdapterManager | None = None,
    transport_factory: TransportFactory | None = None,
    store: bool | str | os.PathLike[str] | SpanStore | None = None,
    trace_idle_timeout: float | None = None,
    offload: Literal[False, 0] = False,
    delivery: str | None = None,
    **arguments: Any,
) -> AgentExporter: ...


@overload
def create_exporter(
    adapters: str | list[str] | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    manager: AdapterManager | None = None,
    transport_factory: TransportFactory | None = None,
    store: bool | str | os.PathLike[str] | SpanStore | None = None,
    trace_idle_timeout: float | None = None,
    offload: bool | int = False,
    delivery: str | None = None,
    **arguments: Any,
) -> Exporter: ...


def create_exporter(
    adapters: str | list[str] | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    manager: AdapterManager | None = None,
    transport_factory: TransportFactory | None = None,
    store: bool | str | os.PathLike[str] | SpanStore | None = None,
    trace_idle_timeout: float | None = None,
    offload: bool | int = False,
    delivery: str | None = None,
    **arguments: Any,
) -> AgentExporter | Exporter:
    """An exporter for the configured destinations, started.

    :param adapters: destination names (``"jaeger,honeycomb"`` or a list); default from
        ``AGENT_OTLP_ADAPTERS``, the config file, else ``console`` (or ``otlp`` when an OTLP
        endpoint variable is set).
    :param config_file: TOML file; default from ``AGENT_OTLP_CONFIG`` or the usual places.
    :param env: environment to read instead of ``os.environ`` (tests).
    :param manager: a prepared :class:`AdapterManager` (tests, embedding applications).
    :param transport_factory: build transports yourself (tests); default: the adapter's.
    :param store: keep every item in the durable span store and deliver from there
        (``True`` for the default path, or a path); default ``AGENT_OTLP_STORE``, else off.
    :param trace_idle_timeout: seconds a trace fed from files or the bridge may stay quiet
        before its workflow span is sent (default 30).
    :param offload: run the export pipeline in a child process (see
        :mod:`agent_otlp.offload.parent` and ``docs/performance.md``): the agent's thread only
        copies each span's fields. Not with ``manager``, ``transport_factory`` or a
        ``SpanStore`` object (they cannot cross to the child). Returns an
        :class:`~agent_otlp.offload.parent.OffloadExporter`: not an :class:`AgentExporter`,
        but the same calls (:class:`~agent_otlp.core.pipeline.api.Exporter`).
        A number ``N`` > 1 runs ``N`` child processes, each trace in one of them
        (:class:`~agent_otlp.offload.group.OffloadGroup`; not with a store): for agents
        producing more spans than one child can export, given free cores.
    :param delivery: with a store, ``"process"`` runs the destinations in a delivery process
        of their own (:mod:`agent_otlp.store.delivery_process`), ``"thread"`` in this one;
        default ``AGENT_OTLP_DELIVERY``, else ``"thread"``. Not with ``manager`` or
        ``transport_factory``.
    :param arguments: any setting by name (``endpoint``, ``protocol``, ``headers``,
        ``capture_content``, ``service_name``, ``resource``, ``options``...), applied to every
        destination; ``destinations={"name": {...}}`` for one destination only.

    Raises :class:`~agent_otlp.core.config.errors.ConfigError` for unusable settings.
    """
    env = os.environ if env is None else env
    resolved = resolve_all(adapters, config_file=config_file, env=env, manager=manager, **arguments)
    if offload:
        return _offload(resolved, adapters, config_file, env, manager, transport_factory, store,
                        trace_idle_timeout, arguments, offload)
    span_store = open_store(store, env)
    extra: dict[str, Any] = {}
    if trace_idle_timeout is not None:
        extra["trace_idle_timeout"] = trace_idle_timeout
    if span_store is None:
        return AgentExporter(_destinations(resolved, transport_factory, None), **extra)
    from agent_otlp.store.outbox import StoreOutbox

    if _delivery_asked(delivery, env) == "process":
        from agent_otlp.store.delivery_child import DeliveryConfig

        if manager is not None or transport_factory is not None:
            raise ConfigError("delivery", "process", "not with manager or transport_factory (they "
                              "cannot be sent to the delivery process)")
        config = DeliveryConfig(str(span_store.path), adapters,
                                os.fspath(config_file) if config_file is not None else None,
                                dict(arguments), dict(env))
        remotes = _remote_destinations(resolved, span_store, config)
        wake = remotes[0].process.wake if remotes else None  # after each commit's answers
        extra["outbox"] = StoreOutbox(span_store, live_tail=False, answered=wake)
        return AgentExporter(remotes, **extra)
    extra["outbox"] = StoreOutbox(span_store)
    return AgentExporter(_destinations(resolved, transport_factory, span_store), **extra)


def _destinations(resolved: list[tuple[Settings, Any]], transport_factory: TransportFactory | None,
                  span_store: SpanStore | None) -> list[Destination]:
    """The enabled destinations, started (reading ``span_store`` after their cursors)."""
    destinations = []
    for settings, hooks in resolved:
        if settings.disabled:
            continue
        transport = transport_factory(settings) if transport_factory else hooks.make_transport(settings)
        source = None
        if span_store is not None:
            from agent_otlp.store.reader import StoreSource

            options = ConvertOptions(settings.capture_content, settings.legacy_attributes)
            source = StoreSource(span_store, settings.name, options)
        destinations.append(
            Destination(
                settings,
                hooks,
                transport,
                resource_for(settings, hooks),
                sampling=_samples(settings, hooks),
                source=source,
            )
        )
    return destinations


def _samples(settings: Settings, hooks: Any) -> bool:
    return settings.sample_rate < 1.0 or bool(hooks.custom_sampler)


def _delivery_asked(delivery: str | None, env: Mapping[str, str]) -> str:
    """``thread`` or ``process``: the argument, else ``AGENT_OTLP_DELIVERY``, else ``thread``."""
    setting = "delivery (argument)" if delivery is not None else ev.AGENT_OTLP_DELIVERY
    value = (delivery if delivery is not None else env.get(ev.AGENT_OTLP_DELIVERY) or "thread").strip().lower()
    if value not in ("thread", "process"):
        raise ConfigError(setting, value, "expected thread or process")
    return value


def _remote_destinations(resolved: list[tuple[Settings, Any]], span_store: SpanStore,
                         config: DeliveryConfig) -> list[RemoteDestination]:
    """Stand-ins for the destinations a delivery process runs (started here)."""
    from agent_otlp.store.delivery_process import DeliveryProcess, RemoteDestination

    process = DeliveryProcess(span_store, config, f"{__name__}:delivery_destinations")
    enabled = [(s, h) for s, h in resolved if not s.disabled]
    remotes = [RemoteDestination(settings, process, index, samples_traces=_samples(settings, hooks))
               for index, (settings, hooks) in enumerate(enabled)]
    process.start()
    return remotes


def delivery_destinations(config: Any, span_store: SpanStore) -> list[Destination]:
    """The destinations a delivery process runs: those of the writer's exporter, built from
    the same arguments and environment (``config``, a
    :class:`~agent_otlp.store.delivery_child.DeliveryConfig`), reading ``span_store`` after
    their cursors."""
    resolved = resolve_all(config.adapters, config_file=config.config_file, env=config.env,
                           **config.arguments)
    return _destinations(resolved, None, span_store)


def offload_requested(env: Mapping[str, str]) -> int:
    """``AGENT_OTLP_OFFLOAD`` as a number of child processes: 0 for off (the default, or
    ``false``/``0``/``off``/``no``), 1 for ``true``/``1``/``on``/``yes``, or ``N``."""
    raw = (env.get(ev.AGENT_OTLP_OFFLOAD) or "").strip().lower()
    if raw in ("", "0", "false", "off", "no"):
        return 0
    if raw in ("1", "true", "on", "yes"):
        return 1
    if raw.isdigit() and 1 < int(raw) <= MAX_OFFLOAD_PROCESSES:
        return int(raw)
    raise ConfigError(ev.AGENT_OTLP_OFFLOAD, raw,
                      f"expected true, false or a number of processes up to {MAX_OFFLOAD_PROCESSES}")


def _offload(
    resolved: list[tuple[Settings, Any]],
    adapters: str | list[str] | None,
    config_file: str | os.PathLike[str] | None,
    env: Mapping[str, str],
    manager: AdapterManager | None,
    transport_factory: TransportFactory | None,
    store: Any,
    trace_idle_timeout: float | None,
    arguments: dict[str, Any],
    processes: bool | int = 1,
) -> OffloadExporter | OffloadGroup:
    """The settings are validated here (errors surface in the agent process); the child
    builds the same exporter from the same arguments and environment snapshot."""
    import pickle

    from agent_otlp.offload.frames import OffloadConfig
    from agent_otlp.offload.group import OffloadGroup
    from agent_otlp.offload.parent import MAX_PENDING_BYTES, OffloadExporter

    count = 1 if processes is True else processes
    if type(count) is not int or not 1 <= count <= MAX_OFFLOAD_PROCESSES:
        raise ConfigError("offload", processes,
                          f"expected True or a number of processes from 1 to {MAX_OFFLOAD_PROCESSES}")
    if count > 1 and _store_wanted(_store_asked(store, env)[0]):
        raise ConfigError("offload", processes, "one process with a span store (it has one "
                          "writer); use offload=True")
    if os.name != "posix":
        raise ConfigError("offload", True, "offload mode needs a POSIX system")
    if manager is not None or transport_factory is not None:
        raise ConfigError("offload", True, "not with manager or transport_factory (they "
                          "cannot be sent to the export process)")
    if store is not None and not isinstance(store, (bool, str, os.PathLike)):
        raise ConfigError("offload", True, "store must be a bool or a path in offload mode")
    config = OffloadConfig(
        adapters=adapters,
        config_file=os.fspath(config_file) if config_file is not None else None,
        store=os.fspath(store) if isinstance(store, os.PathLike) else store,
        trace_idle_timeout=trace_idle_timeout,
        arguments=dict(arguments),
        env=dict(env),
    )
    try:
        pickle.dumps(config)
    except Exception as exc:
        raise ConfigError("offload", True, f"arguments must be picklable: {exc}") from None
    capture = any(s.capture_content for s, _ in resolved if not s.disabled)
    if count == 1:
        return OffloadExporter(config, exporter_from_config, capture_content=capture)
    lanes: list[OffloadExporter] = []
    try:
        for _ in range(count):  # the frames waiting in this process: one budget for all
            lanes.append(OffloadExporter(config, exporter_from_config, capture_content=capture,
                                         max_pending_bytes=MAX_PENDING_BYTES // count))
    except BaseException:
        for lane in lanes:
            lane.shutdown(1.0)
        raise
    return OffloadGroup(lanes)


def exporter_from_config(config: OffloadConfig) -> AgentExporter:
    """The in-process exporter offload mode's ``config`` describes: what the child runs, and
    what takes over in the agent process when the child is gone."""
    extra: dict[str, Any] = {}
    if config.trace_idle_timeout is not None:
        extra["trace_idle_timeout"] = config.trace_idle_timeout
    exporter: AgentExporter = create_exporter(
        config.adapters, config_file=config.config_file, env=config.env, store=config.store,
        **extra, **config.arguments,
    )
    return exporter
