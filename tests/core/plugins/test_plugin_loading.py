"""Adapters and sources load the same way: each entry point on its own, a broken one recorded
and skipped (or raised under ``AGENT_OTLP_STRICT_PLUGINS``), ``AGENT_OTLP_DISABLE_PLUGINS``
honoured, the built-ins told apart; and ``agent-otlp adapters`` and ``agent-otlp sources``
list them in the same table."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_otlp.cli import _register, app
from agent_otlp.core.config.errors import AgentOTLPError, ConfigError
from agent_otlp.core.plugins.manager import AdapterManager, PluginLoadError
from agent_otlp.sources.plugins.manager import SourceLoadError, SourceManager


@dataclass(frozen=True)
class Kind:
    word: str
    group: str
    builtin_module: str
    builtin_name: str
    error: type[AgentOTLPError]

    def manager(self, env: dict[str, str], entries: list[EntryPoint]) -> Any:
        if self.word == "adapter":
            return AdapterManager(env=env, entry_point_list=entries)
        return SourceManager(env=env, entry_point_list=entries)

    def infos(self, manager: Any) -> dict[str, Any]:
        found: dict[str, Any] = manager.adapters if self.word == "adapter" else manager.sources
        return found

    def use(self, manager: Any, name: str) -> None:
        if self.word == "adapter":
            manager.hooks_for(name)
        else:
            manager.open("x.jsonl", source=name)

    def entries(self) -> list[EntryPoint]:
        return [EntryPoint("broken", "agent_otlp_no_such_module", self.group),
                EntryPoint(self.builtin_name, self.builtin_module, self.group)]


KINDS = [
    Kind("adapter", "agent_otlp.adapters", "agent_otlp.adapters.jaeger", "jaeger", PluginLoadError),
    Kind("source", "agent_otlp.sources", "agent_otlp.sources.jsonl_plugin", "jsonl", SourceLoadError),
]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.word)
def test_a_broken_plugin_is_recorded_skipped_and_logged(
    kind: Kind, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    infos = kind.infos(kind.manager({}, kind.entries()))
    broken, builtin = infos["broken"], infos[kind.builtin_name]
    assert (broken.error or "").startswith("ModuleNotFoundError: No module named")
    assert not broken.builtin and broken.module == "agent_otlp_no_such_module"
    assert builtin.error is None and builtin.builtin and builtin.hooks
    assert all(hook.startswith("agent_otlp_") for hook in builtin.hooks)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if w.startswith(f"agent-otlp: skipped {kind.word} 'broken' "
                                                "(distribution ?): ModuleNotFoundError")]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.word)
def test_strict_loading_raises_naming_the_plugin(kind: Kind) -> None:
    with pytest.raises(kind.error, match=rf"^{kind.word} 'broken' from \? failed to load: "
                                         "ModuleNotFoundError"):
        kind.manager({"AGENT_OTLP_STRICT_PLUGINS": "yes"}, kind.entries())


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.word)
def test_using_a_broken_or_missing_plugin_says_why_and_what_is_installed(kind: Kind) -> None:
    manager = kind.manager({}, kind.entries())
    how = (f"; installed {kind.word}s: {kind.builtin_name}. {kind.word.capitalize()}s are "
           f"distributions registering the entry-point group '{kind.group}'")
    with pytest.raises(ConfigError) as broken:
        kind.use(manager, "broken")
    assert "it failed to load: ModuleNotFoundError: No module named" in str(broken.value)
    assert how in str(broken.value)
    with pytest.raises(ConfigError) as missing:
        kind.use(manager, "nowhere")
    assert f"it is not installed{how}" in str(missing.value)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.word)
def test_disabled_plugins_are_not_loaded(kind: Kind) -> None:
    env = {"AGENT_OTLP_DISABLE_PLUGINS": f" broken, {kind.builtin_name} ,"}
    assert kind.infos(kind.manager(env, kind.entries())) == {}


@pytest.mark.parametrize("command", ["adapters", "sources"])
def test_both_listings_print_one_table(command: str, cli_env: None) -> None:
    _register()
    result = CliRunner().invoke(app, [command], env={"COLUMNS": "220"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"{command} (entry-point group agent_otlp.{command})" in result.output
    header = next(line for line in result.output.splitlines() if "distribution" in line)
    assert [word for word in header.replace("┃", " ").split()] == [
        "name", "distribution", "version", "hooks", "status"]
    row = next(line for line in result.output.splitlines()
               if ("jsonl" if command == "sources" else "jaeger") in line)
    assert "agent-otlp" in row and "ok" in row
    assert ("open" if command == "sources" else "map_attributes") in result.output
    assert "agent_otlp_" not in result.output
