"""Finding, loading and calling adapters.

Adapters are plugins found through the entry-point group ``agent_otlp.adapters``; the
built-in ones are registered the same way, in this distribution's ``pyproject.toml``. Each
entry point is loaded and registered on its own: one that fails is recorded with its error
and skipped (or, with ``AGENT_OTLP_STRICT_PLUGINS=true``, raised). The core's own
``trylast`` implementations (:mod:`agent_otlp.core.plugins.builtin`) are always registered.

A destination calls only its adapter's hooks (plus the built-ins and any plugin registered
with :meth:`AdapterManager.register_global`), through :meth:`AdapterManager.hooks_for`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, Final

import pluggy

from agent_otlp.core.config import envvars as ev
from agent_otlp.core.config.errors import AgentOTLPError, ConfigError
from agent_otlp.core.config.settings import Settings, TransportDefaults
from agent_otlp.core.convert.records import AttrValue, SpanRecord
from agent_otlp.core.plugins import hookspecs, loading
from agent_otlp.core.plugins.direct import DirectCalls, direct_calls
from agent_otlp.core.plugins.sampling import SamplingDecision, TraceSummary
from agent_otlp.core.wire.transport import Transport

__all__ = [
    "ENTRY_POINT_GROUP",
    "AdapterInfo",
    "AdapterManager",
    "DestinationHooks",
    "PluginLoadError",
]

ENTRY_POINT_GROUP: Final = "agent_otlp.adapters"
BUILTIN_PLUGIN: Final = "agent_otlp.core.plugins.builtin"
_PACKAGE: Final = "agent_otlp.adapters"
logger = logging.getLogger("agent_otlp.plugins")


class PluginLoadError(AgentOTLPError):
    """An adapter failed to load while strict loading was asked for."""


#: One adapter as found: where it came from and whether it loaded.
AdapterInfo = loading.PluginInfo


class AdapterManager:
    """The plugin manager: the registry of adapters and the way to call their hooks."""

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        env: Mapping[str, str] | None = None,
        entry_point_list: list[EntryPoint] | None = None,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.adapters: dict[str, AdapterInfo] = {}
        #: Adapter names ``AGENT_OTLP_DISABLE_PLUGINS`` blocks.
        self.blocked: set[str] = set()
        self._adapter_plugins: dict[str, object] = {}
        from agent_otlp.core.plugins import builtin

        self.pm.register(builtin, name=BUILTIN_PLUGIN)
        #: Hook calls are logged (``AGENT_OTLP_TRACE_PLUGINS``): every call goes through pluggy.
        self.traced = loading.truthy(self.env.get(ev.AGENT_OTLP_TRACE_PLUGINS))
        if self.traced:
            self.pm.trace.root.setwriter(lambda text: logger.debug("%s", text.rstrip()))
            self.pm.enable_tracing()
        if load_entry_points or entry_point_list is not None:
            found = entry_point_list
            if found is None:
                found = list(entry_points(group=ENTRY_POINT_GROUP))
            self._load(found)
        self.pm.check_pending()

    def _load(self, found: list[EntryPoint]) -> None:
        self.blocked = loading.load_entry_points(
            self.pm, found, package=_PACKAGE, kind="adapter", loaded=self.adapters,
            register=self._register, env=self.env, error=PluginLoadError, log=logger)
        for name in self.blocked:
            self.pm.set_blocked(name)

    def _register(self, name: str, plugin: object, info: AdapterInfo) -> None:
        self.pm.register(plugin, name=name)
        self.pm.check_pending()
        self._adapter_plugins[name] = plugin
        info.hooks = self._hooks_of(plugin)

    def _hooks_of(self, plugin: object) -> list[str]:
        return loading.hook_names(self.pm, plugin, "agent_otlp_")

    def register_adapter(self, name: str, plugin: ModuleType | object, *, distribution: str = "") -> None:
        """Register an adapter object directly (tests, embedding applications)."""
        info = AdapterInfo(name, getattr(plugin, "__name__", type(plugin).__name__), distribution, "")
        self._register(name, plugin, info)
        self.adapters[name] = info

    def register_global(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin whose hooks run for every destination (redaction, enrichment)."""
        self.pm.register(plugin, name=name)
        self.pm.check_pending()

    def available(self) -> list[str]:
        return sorted(n for n, info in self.adapters.items() if info.error is None)

    def hooks_for(self, adapter: str) -> DestinationHooks:
        """Typed hook callers that reach ``adapter`` and no other adapter."""
        info = self.adapters.get(adapter)
        if info is None and adapter in self.blocked:
            raise ConfigError(
                "adapter", adapter,
                f"it is disabled by {ev.AGENT_OTLP_DISABLE_PLUGINS}="
                f"{self.env.get(ev.AGENT_OTLP_DISABLE_PLUGINS)!r}; remove it from that variable "
                "to use it",
            )
        if info is None or info.error is not None:
            why = loading.unusable(info, kind="adapter", installed=self.available(),
                                   group=ENTRY_POINT_GROUP)
            raise ConfigError("adapter", adapter,
                              f"{why} (pip install the one that provides {adapter!r})")
        others = [p for n, p in self._adapter_plugins.items() if n != adapter]
        return DestinationHooks(adapter, self.pm, others, traced=self.traced)


class DestinationHooks:
    """The hooks of one destination, as typed methods (keyword arguments only)."""

    def __init__(
        self, adapter: str, pm: pluggy.PluginManager, others: list[object], *, traced: bool = False
    ) -> None:
        self.adapter = adapter
        self._traced = traced
        self._transport_defaults = pm.subset_hook_caller("agent_otlp_transport_defaults", others)
        self._validate = pm.subset_hook_caller("agent_otlp_validate_settings", others)
        self._resource = pm.subset_hook_caller("agent_otlp_resource_attributes", others)
        self._map = pm.subset_hook_caller("agent_otlp_map_attributes", others)
        self._batch = pm.subset_hook_caller("agent_otlp_process_batch", others)
        self._sample = pm.subset_hook_caller("agent_otlp_sample_trace", others)
        self._transport = pm.subset_hook_caller("agent_otlp_make_transport", others)
        self.custom_sampler = any(
            impl.plugin_name != BUILTIN_PLUGIN for impl in self._sample.get_hookimpls()
        )

    def transport_defaults(
        self, adapter: str, protocol: str | None, options: Mapping[str, Any], env: Mapping[str, str]
    ) -> TransportDefaults:
        merged: dict[str, Any] = {}
        for result in self._transport_defaults(
            adapter=adapter, protocol=protocol, options=options, env=env
        ):
            for key, value in (result or {}).items():
                merged.setdefault(key, value)
        return merged  # type: ignore[return-value]

    def validate_settings(self, settings: Settings) -> None:
        self._validate(settings=settings)

    def resource_attributes(self, settings: Settings) -> dict[str, AttrValue]:
        merged: dict[str, AttrValue] = {}
        # pluggy returns results in call order (adapter first, built-ins last); the first
        # caller's value must win, so apply them in reverse.
        for result in reversed(self._resource(settings=settings)):
            merged.update(result or {})
        return merged

    def map_attributes(
        self, *, span: SpanRecord, settings: Settings, state: MutableMapping[str, Any]
    ) -> None:
        self._map(span=span, settings=settings, state=state)

    def map_attributes_calls(self) -> DirectCalls | None:
        """The ``map_attributes`` implementations to call directly, the fast path of
        :meth:`map_attributes` (same order, same arguments); ``None`` when the calls must go
        through pluggy: a wrapper is registered, or hook calls are traced."""
        return None if self._traced else direct_calls(self._map)

    def process_batch(
        self, *, spans: list[SpanRecord], settings: Settings, state: MutableMapping[str, Any]
    ) -> None:
        self._batch(spans=spans, settings=settings, state=state)

    def make_transport(self, settings: Settings) -> Transport:
        transport: Transport = self._transport(settings=settings)
        return transport

    def sample_trace(self, *, trace: TraceSummary, settings: Settings) -> SamplingDecision:
        decision = self._sample(trace=trace, settings=settings)
        return decision if decision is not None else SamplingDecision(True, 1, "default")
