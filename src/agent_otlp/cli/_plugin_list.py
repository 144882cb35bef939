"""The listing of installed plugins that ``agent-otlp adapters`` and ``agent-otlp sources``
print: a table (names and errors as plain text, never markup) or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable

import typer
from rich.table import Table
from rich.text import Text

from agent_otlp.adapters.console_tree import printable
from agent_otlp.cli._common import console
from agent_otlp.core.plugins.loading import PluginInfo

__all__ = ["show_plugins"]


def show_plugins(found: Iterable[PluginInfo], *, title: str, prefix: str, as_json: bool) -> list[PluginInfo]:
    """Print the plugins ``found``, built-ins first, their hooks without ``prefix``; the
    plugins in the order printed."""
    infos = sorted(found, key=lambda i: (not i.builtin, i.name))
    if as_json:
        typer.echo(json.dumps([_row(i) for i in infos], indent=2))
        return infos
    table = Table(title=title, title_justify="left")
    for column in ("name", "distribution", "version", "hooks", "status"):
        table.add_column(column, overflow="fold")
    for info in infos:
        hooks = ", ".join(h.removeprefix(prefix) for h in info.hooks) or "-"
        status = Text(printable(f"error: {info.error}"), "red") if info.error else Text("ok", "green")
        table.add_row(printable(info.name), printable(info.distribution or "?"),
                      printable(info.version or "?"), hooks, status)
    console.print(table)
    return infos


def _row(info: PluginInfo) -> dict[str, object]:
    return {"name": info.name, "module": info.module, "distribution": info.distribution,
            "version": info.version, "builtin": info.builtin, "hooks": info.hooks, "error": info.error}
