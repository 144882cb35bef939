"""Commands that inspect: ``config`` and ``version``."""

from __future__ import annotations

import json
import platform

from agent_otlp._compiled import COMPILED_MODULES, compiled_modules
from agent_otlp._version import __version__
from agent_otlp.cli import app
from agent_otlp.cli._common import AdaptersOpt, ConfigOpt, console
from agent_otlp.core.factory import resolve_all


@app.command("config")
def show_config(adapter: AdaptersOpt = None, config: ConfigOpt = None) -> None:
    """Print every destination's resolved settings (secrets masked) and where each came from."""
    for settings, _hooks in resolve_all(adapter, config_file=config):
        shown = settings.describe()
        shown["origins"] = dict(settings.origins)
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
