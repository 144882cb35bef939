"""The ``serve`` command: run the ingest bridge (see :mod:`agent_otlp.sources.bridge`)."""

from __future__ import annotations

import os
import re
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from agent_otlp.adapters.console_tree import printable
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
from agent_otlp.cli._serve_setup import ServeTLS, auth_summary, serve_producers, serve_tls
from agent_otlp.cli._serve_state import StatePublisher, state_path
from agent_otlp.core.config import envvars as ev
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.loading import load_config_file
from agent_otlp.core.config.secrets import Secret
from agent_otlp.core.config.serve import serve_option, serve_table
from agent_otlp.core.pipeline.exporter import TRACE_END_GRACE, AgentExporter
from agent_otlp.sources.bridge import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_PENDING,
    DEFAULT_PORT,
    INGEST_PATH,
    TOKEN_ENV,
    BridgeServer,
)
from agent_otlp.sources.bridge.access import is_loopback
from agent_otlp.sources.bridge.fleet import enable_fleet

__all__ = ["BRIDGE_TRACE_IDLE_TIMEOUT", "parse_size", "serve_command"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3,
          "ki": 1024, "mi": 1024**2, "gi": 1024**3}

#: Seconds a trace posted through the bridge may stay quiet before its workflow span is sent,
#: while some of its root spans have not ended (or none came yet). Longer than the exporter's
#: default: the SDK posts spans only when they end, so a trace can be quiet for as long as its
#: slowest model call. Once its root spans have ended, the grace period applies instead
#: (``--trace-end-grace``, :data:`~agent_otlp.core.pipeline.exporter.TRACE_END_GRACE`).
BRIDGE_TRACE_IDLE_TIMEOUT = 120.0


def parse_size(text: str, setting: str = "--max-body") -> int:
    """Bytes from ``8388608``, ``8MiB``, ``512k``, ``1.5MB``."""
    match = _SIZE.match(text)
    if not match:
        raise ConfigError(setting, text, "a size such as 64MiB, 512KiB or 1000000")
    unit = (match.group(2) or "").lower().removesuffix("b")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise ConfigError(setting, text, "a positive size")
    return size


def _check_exposure(host: str, token: str | None, producers: bool, allow_unauthenticated: bool) -> None:
    if not token and not producers and not allow_unauthenticated and not is_loopback(host):
        raise ConfigError(
            "--host", host, f"not a loopback address and no token is set: set {TOKEN_ENV} "
            "(or --token, or a tokens file with --tokens), or pass --allow-unauthenticated to "
            "accept posts from anyone who can reach it"
        )


def _banner(bridge: BridgeServer, exporter: AgentExporter, auth: str, tls: ServeTLS | None) -> None:
    if is_loopback(bridge.host):
        where = bridge.ingest_url
    else:  # the real address, not the loopback URL this machine's clients would use
        scope = "all interfaces" if bridge.host in ("", "0.0.0.0", "::") else "this address"  # noqa: S104
        scheme = "https" if bridge.tls is not None else "http"
        where = f"{scheme}://{bridge.address}{INGEST_PATH} ({scope})"
    console.print(printable(f"agent-otlp bridge: POST {where} ({auth})"))
    console.print(f"  health {bridge.url}/healthz, metrics {bridge.url}/metrics")
    if tls is not None:
        for line in tls.banner():
            console.print(printable(line))
    store = exporter.store
    console.print(f"  store {store.path}" if store is not None else "  store off (--no-store)")
    for dest in exporter.destinations:
        console.print(f"  -> {dest.name}: {dest.settings.endpoint}")


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
        str | None, typer.Option(help="Largest request body, compressed or not (default 64MiB).",
                                 envvar=ev.AGENT_OTLP_BRIDGE_MAX_BODY, show_default=False)
    ] = None,
    max_pending: Annotated[
        int, typer.Option(help="Spans waiting for delivery above which requests get 429.")
    ] = DEFAULT_MAX_PENDING,
    retry_after: Annotated[
        float, typer.Option(help="Seconds advertised in Retry-After when answering 429.")
    ] = 1.0,
    read_timeout: Annotated[
        float, typer.Option(help="Seconds a request read (or an idle connection) may wait.")
    ] = 30.0,
    request_timeout: Annotated[
        float, typer.Option(help="Seconds from a request's first byte to the end of its body.")
    ] = 30.0,
    max_items: Annotated[
        int, typer.Option(help="Most items one request may hold (more: 413).")
    ] = DEFAULT_MAX_ITEMS,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(help="Host name clients may use besides IP addresses and localhost "
                     "(repeatable; * for any). Pages of that name may post too."),
    ] = None,
    allow_unauthenticated: Annotated[
        bool, typer.Option("--allow-unauthenticated",
                           help="Listen on a non-loopback --host without a token.")
    ] = False,
    trace_idle_timeout: Annotated[
        float, typer.Option(help="Seconds without new spans after which a trace whose root "
                            "spans have not all ended is finalized.")
    ] = BRIDGE_TRACE_IDLE_TIMEOUT,
    trace_end_grace: Annotated[
        float, typer.Option(help="Seconds without new spans after which a trace whose root "
                            "spans have ended is finalized.")
    ] = TRACE_END_GRACE,
    timeout: Annotated[
        float, typer.Option(help="Seconds to deliver what is queued when stopping.")
    ] = 30.0,
    tls_cert: Annotated[
        str | None, typer.Option(help="Serve HTTPS with this PEM certificate (TLS 1.2 or newer).",
                                 envvar=ev.AGENT_OTLP_BRIDGE_TLS_CERT, show_default=False)
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option(help="The PEM private key of --tls-cert.",
                                 envvar=ev.AGENT_OTLP_BRIDGE_TLS_KEY, show_default=False)
    ] = None,
    tls_self_signed: Annotated[
        str | None, typer.Option(help="Serve HTTPS with a local CA and a localhost certificate "
                                 "kept in this directory (made on first use).",
                                 envvar=ev.AGENT_OTLP_BRIDGE_TLS_SELF_SIGNED, show_default=False)
    ] = None,
    tokens: Annotated[
        str | None, typer.Option(help="Tokens file (JSON or TOML): each producer's token, "
                                 "resource and destinations.",
                                 envvar=ev.AGENT_OTLP_BRIDGE_TOKENS, show_default=False)
    ] = None,
    store: StoreOpt = None,
    no_store: NoStoreOpt = False,
    fleet: Annotated[
        bool, typer.Option("--fleet", help="One of several bridges behind a load balancer "
                           "(docs/scale-out.md): forward at once, keep no trace open, leave "
                           "sampling to the Collector tier.")
    ] = False,
) -> None:
    """Accept traces in the OpenAI traces ingest format (POST /v1/traces/ingest) and export
    them over OTLP. Point the OpenAI Agents SDK's trace exporter at
    http://HOST:PORT/v1/traces/ingest. Stops cleanly on SIGTERM or Ctrl-C.

    Accepted items are recorded in the span store (unless --no-store) before delivery; when
    its undelivered budget (AGENT_OTLP_STORE_BUDGET) is used up, requests get 429. Without
    the store, --max-pending bounds what waits in memory. --tls-cert/--tls-key,
    --tls-self-signed, --tokens and --max-body may also be set in the serve table of the
    config file."""
    secret = Secret(token) if token else None
    table = serve_table(load_config_file(config))
    size, size_setting = serve_option(max_body, "max_body", table)
    limit = parse_size(size, size_setting) if size is not None else DEFAULT_MAX_BODY
    tokens_file = serve_option(tokens, "tokens", table)
    tls = serve_tls(serve_option(tls_cert, "tls_cert", table), serve_option(tls_key, "tls_key", table),
                    serve_option(tls_self_signed, "tls_self_signed", table))
    for name, seconds in (("--trace-idle-timeout", trace_idle_timeout),
                          ("--trace-end-grace", trace_end_grace),
                          ("--request-timeout", request_timeout)):
        if seconds <= 0:
            raise ConfigError(name, seconds, "a positive number of seconds")
    if max_items <= 0:
        raise ConfigError("--max-items", max_items, "a positive number")
    _check_exposure(host, token, tokens_file[0] is not None, allow_unauthenticated)
    # with the store, delivery runs in a process of its own unless AGENT_OTLP_DELIVERY says
    # otherwise (docs/store.md); a fleet bridge keeps it in this one
    delivery = None if fleet or os.environ.get(ev.AGENT_OTLP_DELIVERY) else "process"
    exporter = build_exporter(
        adapter, config, endpoint, protocol, capture_content, store=store, no_store=no_store,
        delivery=delivery,
    )
    try:
        producers = serve_producers(tokens_file, [d.name for d in exporter.destinations])
    except ConfigError:
        exporter.shutdown(1.0)
        raise
    exporter.set_trace_idle_timeout(trace_idle_timeout)
    exporter.set_trace_end_grace(trace_end_grace)
    bridge = BridgeServer(
        exporter,
        host=host,
        port=port,
        token=secret,
        max_body=limit,
        max_pending=max_pending,
        retry_after=retry_after,
        read_timeout=read_timeout,
        request_timeout=request_timeout,
        max_items=max_items,
        allowed_hosts=allowed_host or (),
        allow_unauthenticated=allow_unauthenticated,
        tls=tls.context if tls is not None else None,
        producers=producers,
    )
    if fleet:
        try:
            enable_fleet(bridge, exporter)
        except ConfigError:
            exporter.shutdown(1.0)
            raise
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
        publisher = (StatePublisher(state_path(exporter.store.path), bridge).start()
                     if exporter.store is not None else None)
        try:
            _banner(bridge, exporter, auth_summary(secret is not None, len(producers)), tls)
            if fleet:
                console.print("  fleet mode: spans forwarded at once, sampling left to the "
                              "Collector tier (docs/scale-out.md)")
            while not stop.wait(0.5):
                pass
        finally:
            report = bridge.stop(timeout)
            if publisher is not None:
                publisher.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(stats_table(exporter))
    if report is not None and not report.delivered:
        raise typer.Exit(1)
