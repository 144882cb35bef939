"""``console``: the embedded default that needs no server.

Each trace is printed as a tree in the terminal when its workflow span arrives, and every
export request is appended as one OTLP/JSON document per line (the format of the
OpenTelemetry Collector's file exporter) to the ``output`` option
(default ``agent-otlp-out/traces.jsonl``).

Options (``[destination.console]`` in the config file, or ``AGENT_OTLP_CONSOLE_<OPTION>``):
``output`` (file path) and ``tree`` (``false`` to print nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from agent_otlp.core.plugins import Settings, Transport, TransportDefaults, hookimpl

DEFAULT_OUTPUT: Final = "agent-otlp-out/traces.jsonl"


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() not in ("0", "false", "no", "off")


@hookimpl
def agent_otlp_transport_defaults(
    adapter: str, options: Mapping[str, Any], env: Mapping[str, str]
) -> TransportDefaults:
    return {"protocol": "http/protobuf", "endpoints": {"http/protobuf": "http://localhost"}}


@hookimpl
def agent_otlp_make_transport(settings: Settings) -> Transport:
    from agent_otlp.adapters._console_transport import ConsoleTransport  # rich, protobuf

    options = settings.options
    output = options.get("output") or DEFAULT_OUTPUT
    return ConsoleTransport(Path(str(output)).expanduser(), tree=_truthy(options.get("tree", True)))

