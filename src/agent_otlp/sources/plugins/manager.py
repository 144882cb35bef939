"""Finding, loading and calling sources.

Sources are plugins found through the entry-point group ``agent_otlp.sources``; the built-in
ones (``store``, ``jsonl``, ``raaf-rails``) are registered the same way, in this
distribution's ``pyproject.toml``. Each entry point is loaded on its own: one that fails is
recorded with its error and skipped (``AGENT_OTLP_STRICT_PLUGINS=true`` raises instead), and
``AGENT_OTLP_DISABLE_PLUGINS`` names sources not to load, as for adapters.

:meth:`SourceManager.open` picks the source by name, or asks each source in turn whether the
location is its kind (third-party sources first, so they can take a location before a
built-in does), and returns an :class:`OpenedSource` whose typed methods call only that
source's hooks.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final

import pluggy

from agent_otlp.core.config.errors import AgentOTLPError, ConfigError
from agent_otlp.core.config.secrets import redact_text
from agent_otlp.core.plugins import loading
from agent_otlp.sources.plugins import hookspecs
from agent_otlp.sources.plugins.locations import masked_location
from agent_otlp.sources.plugins.types import SourceContext, SourceInventory, SourcePage, TimeRange

__all__ = ["ENTRY_POINT_GROUP", "OpenedSource", "SourceInfo", "SourceLoadError", "SourceManager"]

ENTRY_POINT_GROUP: Final = "agent_otlp.sources"
_PREFIX: Final = "agent_otlp_source_"
_PACKAGE: Final = "agent_otlp.sources"
logger = logging.getLogger("agent_otlp.sources")


class SourceLoadError(AgentOTLPError):
    """A source failed to load while strict loading was asked for."""


#: One source as found: where it came from and whether it loaded.
SourceInfo = loading.PluginInfo


class SourceManager:
    """The registry of sources and the way to call one source's hooks."""

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
        self.sources: dict[str, SourceInfo] = {}
        self._plugins: dict[str, object] = {}
        if load_entry_points or entry_point_list is not None:
            found = entry_point_list
            if found is None:
                found = list(entry_points(group=ENTRY_POINT_GROUP))
            self._load(found)

    def _load(self, found: list[EntryPoint]) -> None:
        loading.load_entry_points(
            self.pm, found, package=_PACKAGE, kind="source", loaded=self.sources,
            register=self._register, env=self.env, error=SourceLoadError, log=logger)

    def _register(self, name: str, plugin: object, info: SourceInfo) -> None:
        self.pm.register(plugin, name=name)
        self.pm.check_pending()
        info.hooks = loading.hook_names(self.pm, plugin, _PREFIX)
        if "agent_otlp_source_open" not in info.hooks or "agent_otlp_source_read" not in info.hooks:
            raise TypeError("a source implements at least agent_otlp_source_open and "
                            "agent_otlp_source_read")
        self._plugins[name] = plugin

    def register_source(self, name: str, plugin: object, *, distribution: str = "") -> None:
        """Register a source object directly (tests, embedding applications)."""
        info = SourceInfo(name, getattr(plugin, "__name__", type(plugin).__name__), distribution, "")
        self._register(name, plugin, info)
        self.sources[name] = info

    def available(self) -> list[str]:
        return sorted(n for n, info in self.sources.items() if info.error is None)

    def hooks_of(self, name: str) -> pluggy.HookRelay:
        """The hook callers that reach the source ``name`` alone."""
        others = [p for n, p in self._plugins.items() if n != name]
        relay = pluggy.HookRelay()
        for spec in hookspecs.__dict__:
            if spec.startswith(_PREFIX):
                setattr(relay, spec, self.pm.subset_hook_caller(spec, others))
        return relay

    def _check(self, name: str) -> None:
        info = self.sources.get(name)
        if info is None or info.error is not None:
            why = loading.unusable(info, kind="source", installed=self.available(),
                                   group=ENTRY_POINT_GROUP)
            raise ConfigError("--source", name, why)

    def open(self, location: str, context: SourceContext | None = None,
             source: str | None = None) -> OpenedSource:
        """Open ``location`` with the source ``source``, or with the first source that takes it."""
        context = context or SourceContext(env=self.env)
        if source is not None:
            self._check(source)
            names = [source]
        else:  # third-party sources first: they may claim a location a built-in would take
            names = sorted(self.available(), key=lambda n: (self.sources[n].builtin, n))
        for name in names:
            hooks = self.hooks_of(name)
            try:
                handle = hooks.agent_otlp_source_open(location=location, context=context)
            except AgentOTLPError:
                raise
            except Exception as exc:
                reason = redact_text(f"{type(exc).__name__}: {exc}")
                raise ConfigError("--from", masked_location(location),
                                  f"source {name!r} cannot open it: {reason}") from None
            if handle is not None:
                return OpenedSource(name, hooks, handle)
        wanted = f"source {source!r} does not take it" if source else (
            f"no installed source takes it (installed: {', '.join(self.available()) or 'none'}); "
            "give --source NAME")
        raise ConfigError("--from", masked_location(location), wanted)


class OpenedSource:
    """One opened source: typed calls of its hooks, keyword arguments only."""

    def __init__(self, name: str, hooks: pluggy.HookRelay, handle: Any) -> None:
        self.name = name
        self._hooks = hooks
        self.handle = handle
        self._closed = False

    @property
    def key(self) -> str:
        key = self._hooks.agent_otlp_source_key(handle=self.handle)
        return f"{self.name}:{key}" if isinstance(key, str) and key else self.name

    def inventory(self, window: TimeRange) -> SourceInventory:
        found = self._hooks.agent_otlp_source_inventory(handle=self.handle, window=window)
        if not isinstance(found, SourceInventory):
            raise ConfigError("source", self.name, "its agent_otlp_source_inventory hook "
                              "returned no SourceInventory")
        return found

    def read(self, window: TimeRange, cursor: str | None, batch_size: int) -> Iterator[SourcePage]:
        pages: Iterator[SourcePage] = self._hooks.agent_otlp_source_read(
            handle=self.handle, window=window, cursor=cursor, batch_size=batch_size)
        return iter(pages)

    def wait(self, cursor: str | None, timeout: float) -> bool:
        """Whether new items may be there after waiting at most ``timeout`` seconds."""
        answer = self._hooks.agent_otlp_source_wait(handle=self.handle, cursor=cursor,
                                                   timeout=timeout)
        if answer is None:  # the source does not wait: poll
            time.sleep(timeout)
            return True
        return bool(answer)

    @property
    def tails(self) -> bool:
        """Whether the source implements ``agent_otlp_source_tail`` (``agent-otlp follow``)."""
        return bool(self._hooks.agent_otlp_source_tail.get_hookimpls())

    def tail(self, cursor: str | None, batch_size: int,
             delivered: Callable[[Sequence[str]], Collection[str]]) -> Iterator[SourcePage]:
        pages: Iterator[SourcePage] | None = self._hooks.agent_otlp_source_tail(
            handle=self.handle, cursor=cursor, batch_size=batch_size, delivered=delivered)
        return iter(pages or ())

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._hooks.agent_otlp_source_close(handle=self.handle)

    def __enter__(self) -> OpenedSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
