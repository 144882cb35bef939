"""Commands that inspect: ``config``."""

from __future__ import annotations

import json

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
