"""Loading plugins from entry points, one at a time: what the adapters' manager
(:mod:`agent_otlp.core.plugins.manager`) and the sources' manager
(:mod:`agent_otlp.sources.plugins.manager`) share.

Each entry point is described by a :class:`PluginInfo` before it is loaded; one that fails is
recorded with its error and skipped (:func:`load_failed`), or raised under
``AGENT_OTLP_STRICT_PLUGINS``. ``AGENT_OTLP_DISABLE_PLUGINS`` names plugins not to load
(:func:`blocked_names`). The built-ins (agent-otlp's own entry points) load first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint

import pluggy

from agent_otlp.core.config import envvars as ev
from agent_otlp.core.config.errors import AgentOTLPError

__all__ = [
    "PluginInfo",
    "blocked_names",
    "entry_info",
    "hook_names",
    "is_builtin",
    "load_entry_points",
    "load_failed",
    "strict_loading",
    "truthy",
    "unusable",
]


@dataclass(slots=True)
class PluginInfo:
    """One plugin as found: where it came from and whether it loaded."""

    name: str
    module: str
    distribution: str
    version: str
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    builtin: bool = False


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def strict_loading(env: Mapping[str, str]) -> bool:
    """Whether a plugin that fails to load raises (``AGENT_OTLP_STRICT_PLUGINS``)."""
    return truthy(env.get(ev.AGENT_OTLP_STRICT_PLUGINS))


def blocked_names(env: Mapping[str, str]) -> set[str]:
    """The plugin names ``AGENT_OTLP_DISABLE_PLUGINS`` lists."""
    raw = env.get(ev.AGENT_OTLP_DISABLE_PLUGINS) or ""
    return {name.strip() for name in raw.split(",") if name.strip()}


def is_builtin(entry: EntryPoint, package: str) -> bool:
    """An entry point of agent-otlp itself (without a distribution: one naming a module of
    ``package``, as tests give them)."""
    if entry.dist is not None:
        return entry.dist.name.lower().replace("_", "-").replace(".", "-") == "agent-otlp"
    return entry.value.startswith(f"{package}.")


def entry_info(entry: EntryPoint, package: str) -> PluginInfo:
    """What ``entry`` says of itself, before it is loaded."""
    dist = entry.dist
    return PluginInfo(entry.name, entry.value, dist.name if dist else "",
                      dist.version if dist else "", builtin=is_builtin(entry, package))


def hook_names(pm: pluggy.PluginManager, plugin: object, prefix: str) -> list[str]:
    """The names of the hooks ``plugin`` implements that start with ``prefix``, sorted."""
    return sorted(c.name for c in pm.get_hookcallers(plugin) or () if c.name.startswith(prefix))


def load_failed(pm: pluggy.PluginManager, info: PluginInfo, exc: Exception, *, kind: str,
                strict: bool, error: type[AgentOTLPError], log: logging.Logger) -> None:
    """Record why the plugin of ``info`` failed and unregister it; raise ``error`` when
    ``strict``, else log a warning naming the plugin and its distribution."""
    info.error = f"{type(exc).__name__}: {exc}"
    if pm.get_plugin(info.name) is not None:  # registered, then refused
        pm.unregister(name=info.name)
    if strict:
        raise error(f"{kind} {info.name!r} from {info.distribution or '?'} failed to load: "
                    f"{info.error}") from exc
    log.warning("agent-otlp: skipped %s %r (distribution %s): %s",
                kind, info.name, info.distribution or "?", info.error)


def unusable(info: PluginInfo | None, *, kind: str, installed: list[str], group: str) -> str:
    """Why a plugin cannot be used (it failed to load, or it is not installed), the ones that
    can, and how plugins of ``kind`` are installed."""
    why = f"it failed to load: {info.error}" if info and info.error else "it is not installed"
    return (f"{why}; installed {kind}s: {', '.join(installed) or 'none'}. {kind.capitalize()}s "
            f"are distributions registering the entry-point group {group!r}")


def load_entry_points(
    pm: pluggy.PluginManager,
    found: list[EntryPoint],
    *,
    package: str,
    kind: str,
    loaded: dict[str, PluginInfo],
    register: Callable[[str, object, PluginInfo], None],
    env: Mapping[str, str],
    error: type[AgentOTLPError],
    log: logging.Logger,
) -> set[str]:
    """Load the entry points ``found`` into ``loaded`` (name -> info), the built-ins of
    ``package`` first, each plugin handed to ``register`` (which registers it with ``pm`` and
    may refuse it by raising). A third-party entry point cannot take a loaded name nor load a
    module already registered under another name (logged, ignored); one that fails is
    recorded with its error (:func:`load_failed`). Returns the names
    ``AGENT_OTLP_DISABLE_PLUGINS`` blocks, which are not loaded."""
    strict = strict_loading(env)
    blocked = blocked_names(env)
    for entry in sorted(found, key=lambda e: not is_builtin(e, package)):
        if entry.name in blocked:
            continue
        if entry.name in loaded:
            _ignore_duplicate(entry, kind, f"the name is taken by {kind} {entry.name!r}", log)
            continue
        info = entry_info(entry, package)
        try:
            plugin = entry.load()
            taken = pm.get_name(plugin)
            if taken is not None:  # the same module under another name: registered once
                _ignore_duplicate(entry, kind, f"it names the module of {kind} {taken!r}", log)
                continue
            loaded[entry.name] = info
            register(entry.name, plugin, info)
        except Exception as exc:
            loaded[entry.name] = info
            load_failed(pm, info, exc, kind=kind, strict=strict, error=error, log=log)
    return blocked


def _ignore_duplicate(entry: EntryPoint, kind: str, why: str, log: logging.Logger) -> None:
    dist = entry.dist.name if entry.dist else "?"
    log.warning("agent-otlp: ignored %s entry point %r = %s of distribution %s: %s",
                kind, entry.name, entry.value, dist, why)
