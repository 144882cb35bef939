"""Commands that inspect: ``config`` and ``version``."""

from __future__ import annotations

import json
import os
import platform
from typing import Any

from agent_otlp._compiled import COMPILED_MODULES, compiled_modules
from agent_otlp._version import __version__
from agent_otlp.cli import app
from agent_otlp.cli._common import AdaptersOpt, ConfigOpt, StoreOpt, console
from agent_otlp.cli._stored import chosen_destinations
from agent_otlp.factory import resolve_all


@app.command("config")
def show_config(adapter: AdaptersOpt = None, config: ConfigOpt = None, store: StoreOpt = None) -> None:
    """Print every destination's resolved settings (secrets masked) and where each came from,
    stored destinations included."""
    chosen = chosen_destinations(adapter, config, store, None, os.environ)
    arguments: dict[str, Any] = {"destinations": chosen.destinations} if chosen.destinations else {}
    for settings, _hooks in resolve_all(chosen.adapters, config_file=config, **arguments):
        shown = settings.describe()
        stored = settings.name in chosen.destinations
        # the only arguments of this command are stored destinations
        shown["origins"] = {
            key: f"stored destination {settings.name!r}" if stored and origin == "argument" else origin
            for key, origin in settings.origins.items()
        }
        console.print_json(json.dumps(shown, default=str))


@app.command("version")
def show_version() -> None:
    """Print agent-otlp's version, the Python running it, and whether its per-span modules
    are compiled (binary wheels) or plain Python (source and editable installs)."""
    compiled = compiled_modules()
    if len(compiled) == len(COMPILED_MODULES):
        build = "compiled with mypyc"
    elif compiled:
        build = f"partly compiled: {', '.join(compiled)}"
    else:
        build = "pure Python"
    console.print(
        f"agent-otlp {__version__} ({build}), Python {platform.python_version()} "
        f"({platform.python_implementation()})",
        highlight=False,
    )
