"""The ``serve`` command: run the ingest bridge (see :mod:`agent_otlp.bridge`)."""

from __future__ import annotations

import re
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from agent_otlp.bridge import (
    DEFAULT_MAX_PENDING,
    DEFAULT_PORT,
    TOKEN_ENV,
    BridgeServer,
)
from agent_otlp.cli import app
from agent_otlp.cli._common import (
    AdaptersOpt,
    ConfigOpt,
    ContentOpt,
    EndpointOpt,
    NoStoreOpt,
    ProtocolOpt,
    StoreOpt,
    build_exporter,
    console,
    stats_table,
)
from agent_otlp.core.errors import ConfigError
from agent_otlp.core.exporter import AgentExporter
from agent_otlp.core.secrets import Secret

__all__ = ["parse_size", "serve_command"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3,
          "ki": 1024, "mi": 1024**2, "gi": 1024**3}

#: Seconds a trace posted through the bridge may stay quiet before its workflow span is sent.
#: Longer than the exporter's default: the SDK posts spans only when they end, so a trace can
#: be quiet for as long as its slowest model call.
BRIDGE_TRACE_IDLE_TIMEOUT = 120.0


def parse_size(text: str) -> int:
    """Bytes from ``8388608``, ``8MiB``, ``512k``, ``1.5MB``."""
    match = _SIZE.match(text)
    if not match:
        raise ConfigError("--max-body", text, "a size such as 8MiB, 512KiB or 1000000")
    unit = (match.group(2) or "").lower().removesuffix("b")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise ConfigError("--max-body", text, "a positive size")
    return size


def set_trace_idle_timeout(exporter: AgentExporter, seconds: float) -> None:
    """Configure how long a bridged trace may stay quiet before it is finalized."""
    setter = getattr(exporter, "set_trace_idle_timeout", None)
    if callable(setter):
        setter(seconds)
    else:  # the exporter reads this attribute on every expiry pass
        exporter._idle_timeout = seconds


@app.command("serve")
def serve_command(
    adapter: AdaptersOpt = None,
    config: ConfigOpt = None,
    endpoint: EndpointOpt = None,
    protocol: ProtocolOpt = None,
    capture_content: ContentOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = DEFAULT_PORT,
    token: Annotated[
        str | None,
        typer.Option(
            help="Bearer token clients must send (Authorization: Bearer TOKEN). Prefer the "
            "environment variable: command lines are visible to other users.",
            envvar=TOKEN_ENV,
            show_default=False,
        ),
    ] = None,
    max_body: Annotated[
        str, typer.Option(help="Largest request body, compressed or not (e.g. 8MiB).")
    ] = "8MiB",
    max_pending: Annotated[
        int, typer.Option(help="Spans waiting for delivery above which requests get 429.")
    ] = DEFAULT_MAX_PENDING,
    retry_after: Annotated[
        float, typer.Option(help="Seconds advertised in Retry-After when answering 429.")
    ] = 1.0,
    read_timeout: Annotated[
        float, typer.Option(help="Seconds a request read (or an idle connection) may wait.")
    ] = 30.0,
    trace_idle_timeout: Annotated[
        float, typer.Option(help="Seconds without new spans after which a trace is finalized.")
    ] = BRIDGE_TRACE_IDLE_TIMEOUT,
    timeout: Annotated[
        float, typer.Option(help="Seconds to deliver what is queued when stopping.")
    ] = 30.0,
    store: StoreOpt = None,
    no_store: NoStoreOpt = False,
) -> None:
    """Accept traces in the OpenAI traces ingest format (POST /v1/traces/ingest) and export
    them over OTLP. Point the OpenAI Agents SDK's trace exporter at
    http://HOST:PORT/v1/traces/ingest. Stops cleanly on SIGTERM or Ctrl-C.

    Accepted items are recorded in the span store (unless --no-store) before delivery; when
    its undelivered budget (AGENT_OTLP_STORE_BUDGET) is used up, requests get 429. Without
    the store, --max-pending bounds what waits in memory."""
    secret = Secret(token) if token else None
    limit = parse_size(max_body)
    if trace_idle_timeout <= 0:
        raise ConfigError("--trace-idle-timeout", trace_idle_timeout, "a positive number of seconds")
    exporter = build_exporter(
        adapter, config, endpoint, protocol, capture_content, store=store, no_store=no_store
    )
    set_trace_idle_timeout(exporter, trace_idle_timeout)
    bridge = BridgeServer(
        exporter,
        host=host,
        port=port,
        token=secret,
        max_body=limit,
        max_pending=max_pending,
        retry_after=retry_after,
        read_timeout=read_timeout,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            bridge.start()
        except OSError as exc:
            exporter.shutdown(1.0)
            raise ConfigError(
                "--port", port, f"cannot listen on {host}:{port}: {exc.strerror}"
            ) from None
        try:
            auth = "bearer token required" if secret else "no token required"
            console.print(f"agent-otlp bridge: POST {bridge.ingest_url} ({auth})")
            console.print(f"  health {bridge.url}/healthz, metrics {bridge.url}/metrics")
            for dest in exporter.destinations:
                console.print(f"  -> {dest.name}: {dest.settings.endpoint}")
            while not stop.wait(0.5):
                pass
        finally:
            report = bridge.stop(timeout)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(stats_table(exporter))
    if report is not None and not report.delivered:
        raise typer.Exit(1)
