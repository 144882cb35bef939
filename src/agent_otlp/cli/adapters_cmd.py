"""Commands about adapters and backends: ``adapters``, ``doctor``, ``tempo-columns``
(``collector-config`` is in :mod:`agent_otlp.cli.collector_cmd`)."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

import typer
from rich.text import Text

from agent_otlp.adapters.tempo import DEDICATED_COLUMNS, dedicated_columns_yaml
from agent_otlp.cli import app
from agent_otlp.cli._backend_hints import backend_hint
from agent_otlp.cli._common import (
    AdaptersOpt,
    ConfigOpt,
    EndpointOpt,
    ProtocolOpt,
    StoreOpt,
    console,
    endpoint_arguments,
)
from agent_otlp.cli._plugin_list import show_plugins
from agent_otlp.cli._stored import chosen_destinations
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.secrets import redact_text
from agent_otlp.core.config.settings import Settings
from agent_otlp.core.convert.records import SpanKind, SpanRecord
from agent_otlp.core.plugins.manager import ENTRY_POINT_GROUP, AdapterManager
from agent_otlp.core.wire.messages import encode_request
from agent_otlp.core.wire.transport import NOT_OTLP, SendResult
from agent_otlp.factory import resolve_all, resource_for

__all__ = ["hint_for"]

_PREFIX: Final = "agent_otlp_"


# --- adapters ----------------------------------------------------------------------------


@app.command("adapters")
def list_adapters(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List installed adapters: distribution, version, hooks, and load errors."""
    infos = show_plugins(AdapterManager().adapters.values(), as_json=as_json, prefix=_PREFIX,
                         title=f"adapters (entry-point group {ENTRY_POINT_GROUP})")
    broken = [i for i in infos if i.error]
    if broken and not as_json:
        console.print(
            f"{len(broken)} adapter(s) failed to load and are skipped; the others work. "
            "Reinstall or uninstall the distribution named above."
        )


# --- doctor ------------------------------------------------------------------------------


def _host_port(settings: Settings) -> tuple[str | None, int | None]:
    endpoint = settings.endpoint
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None
    return parts.hostname, port


def hint_for(result: SendResult, settings: Settings) -> str:
    """What to do about a failed test request, in one sentence or two."""
    text = f"{result.status} {result.message}".lower()
    host, port = _host_port(settings)
    where = f"{host}:{port}"
    grpc = settings.protocol == "grpc"
    if result.ok and result.rejected_spans:
        return ("the receiver took the request but refused the span: see its message; "
                "a backend's own limits (span age, attribute sizes) are the usual cause.")
    specific = backend_hint(result, settings, text, where)
    if specific:
        return specific
    if result.status == NOT_OTLP:
        return (
            f"{where} is not an OTLP receiver: point the endpoint at one (OTLP/HTTP: port "
            "4318, path /v1/traces; OTLP/gRPC: port 4317 with protocol grpc), not at a UI."
        )
    if "no org id" in text:
        return (
            "Tempo runs multi-tenant and got no tenant: set the tenant option "
            f"(AGENT_OTLP_{settings.name.upper()}_TENANT) so X-Scope-OrgID is sent."
        )
    if result.status in ("401", "403", "UNAUTHENTICATED", "PERMISSION_DENIED"):
        names = ", ".join(settings.headers) or "none"
        return (
            f"the backend refused the credentials ({result.status}): check the API key and the "
            f"auth headers (sent: {names}); for Honeycomb set HONEYCOMB_API_KEY."
        )
    if "wrong_version_number" in text or "wrong version number" in text:
        return (
            f"{where} does not speak TLS: use an http:// endpoint "
            "(for gRPC also insecure = true), or the backend's TLS port."
        )
    if "certificate" in text and ("verify" in text or "unknown ca" in text or "self" in text):
        return (
            "the server's certificate is not trusted: set certificate = the CA file "
            "(OTEL_EXPORTER_OTLP_CERTIFICATE) or check the host name."
        )
    if not grpc and ("badstatusline" in text or "\\x00\\x00" in text or "pri * http/2" in text):
        return (
            f"{where} speaks gRPC (HTTP/2), not OTLP/HTTP: use protocol grpc, or the "
            "OTLP/HTTP port (usually 4318)."
        )
    if grpc and ("http/2" in text or "http1" in text or "expected settings frame" in text):
        return (
            f"{where} speaks HTTP/1 (OTLP/HTTP?), not gRPC: use protocol http/protobuf, or "
            "the gRPC port (usually 4317)."
        )
    if "refused" in text:
        return (
            f"nothing is listening on {where}: wrong port, or the backend is not running "
            "(OTLP uses 4317 for gRPC and 4318 for HTTP)."
        )
    if not grpc and ("remotedisconnected" in text or "reset by peer" in text):
        return (
            f"{where} closed the connection without answering: if it is a gRPC port (4317), "
            "use protocol grpc or port 4318."
        )
    if "resolution" in text or "name or service not known" in text or "nodename" in text:
        return f"cannot resolve {host}: check the host name and DNS."
    if result.status in ("timeout", "DEADLINE_EXCEEDED"):
        return (
            f"no answer from {where} within {settings.timeout:g}s: a firewall, a proxy, or "
            "an overloaded backend; raise timeout if it is just slow."
        )
    if result.status == "404":
        return (
            f"{settings.endpoint} has no OTLP traces endpoint: the path should end in "
            "/v1/traces, and the port should be the OTLP one, not the UI's."
        )
    if result.status == "415":
        return "the server refused OTLP protobuf (415): is this an OTLP/HTTP endpoint?"
    if result.status in ("413", "RESOURCE_EXHAUSTED"):
        return "the backend refused the request size; lower batch_size."
    if result.status in ("429", "503", "UNAVAILABLE"):
        return "the backend is busy or unavailable; try again, and check its health."
    return "see the message above; `agent-otlp config` shows where each setting came from."


def _resolve_host(host: str | None, port: int | None) -> tuple[bool, str]:
    if not host:
        return False, "the endpoint has no host"
    start = time.perf_counter()
    try:
        infos = socket.getaddrinfo(host, port or 0, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        return False, f"cannot resolve {host}: {exc}; check the host name and DNS"
    addresses = sorted({str(info[4][0]) for info in infos})
    took = (time.perf_counter() - start) * 1000
    return True, f"{host} -> {', '.join(addresses[:4])} ({took:.0f} ms)"


def _test_span() -> SpanRecord:
    now = time.time_ns()
    return SpanRecord(
        trace_id=os.urandom(16),
        span_id=os.urandom(8),
        parent_span_id=b"",
        name="agent-otlp doctor",
        kind=SpanKind.INTERNAL,
        start_ns=now - 1_000_000,
        end_ns=now,
        attributes={"agent_otlp.doctor": True},
        source_type="doctor",
    )


def _show_settings(settings: Settings) -> None:
    shown = settings.describe()
    for key in ("adapter", "endpoint", "protocol", "headers", "compression", "tls", "insecure",
                "timeout", "capture_content", "sample_rate", "options"):
        value = shown.get(key)
        text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
        console.print(Text(f"  {key:<16} {redact_text(text)}"), soft_wrap=True)


#: Adapters that write locally: a doctor has no server to check for them.
LOCAL_ADAPTERS: Final = frozenset({"console"})

NOTHING_CONFIGURED: Final = (
    "nothing remote to check: no destination is configured, so spans go to the console "
    "adapter (a tree on the terminal, OTLP/JSON lines in agent-otlp-out/traces.jsonl).\n"
    "To send to a backend, configure a destination, then run doctor again:\n"
    "  --adapter jaeger (or tempo, honeycomb, collector, phoenix, langfuse), or --endpoint URL "
    "for plain OTLP\n"
    "  AGENT_OTLP_ADAPTERS=jaeger, or OTEL_EXPORTER_OTLP_ENDPOINT=http://host:4318\n"
    "  [destination.NAME] tables in the config file (agent-otlp.toml)\n"
    "  agent-otlp destinations add NAME --adapter ADAPTER --endpoint URL"
)


def _status(word: str, style: str, rest: str) -> Text:
    return Text.assemble("  ", (word, style), rest)


def _check(settings: Settings, hooks: Any, timeout: float | None) -> bool:
    console.print(Text.assemble(("destination " + settings.name, "bold"),
                                f" (adapter {settings.adapter})"))
    _show_settings(settings)
    if settings.disabled:
        console.print(_status("disabled", "yellow", " (OTEL_SDK_DISABLED or disabled = true)"))
        return True
    if settings.adapter in LOCAL_ADAPTERS:
        console.print(_status("local", "green", f": the {settings.adapter} adapter writes on this "
                              "machine; nothing remote to check"))
        return True
    host, port = _host_port(settings)
    resolved, detail = _resolve_host(host, port)
    console.print(Text(f"  {'dns':<16} {detail}"))
    if not resolved:
        console.print(_status("FAIL", "red", " cannot resolve the endpoint host"))
        return False
    record = _test_span()
    hooks.map_attributes(span=record, settings=settings, state={})
    body = encode_request([record], resource_for(settings, hooks)).SerializeToString()
    transport = hooks.make_transport(settings)
    try:
        start = time.perf_counter()
        result = transport.send(body, timeout or settings.timeout)
        latency = (time.perf_counter() - start) * 1000
    finally:
        transport.close()
    if result.ok and not result.rejected_spans:
        console.print(_status("OK", "green", f" test span delivered in {latency:.0f} ms "
                              f"(status {result.status}; trace id {record.trace_id.hex()})"))
        return True
    if result.ok:  # a partial success that rejected the test span
        message = redact_text(f"the receiver rejected the test span: {result.message}")[:300]
    else:
        message = redact_text(f"{result.status} after {latency:.0f} ms: {result.message}")[:300]
    console.print(_status("FAIL", "red", f" {message}"), soft_wrap=True)
    console.print(Text(f"  hint: {hint_for(result, settings)}"), soft_wrap=True)
    return False


@app.command()
def doctor(
    adapter: AdaptersOpt = None,
    config: ConfigOpt = None,
    endpoint: EndpointOpt = None,
    protocol: ProtocolOpt = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds to wait for the test request.")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Check each destination (stored ones too): settings (secrets masked), DNS, and one
    real test span."""
    arguments = endpoint_arguments(endpoint, protocol)
    try:
        chosen = chosen_destinations(adapter, config, store, endpoint, os.environ)
        if chosen.destinations:
            arguments["destinations"] = chosen.destinations
        resolved = resolve_all(chosen.adapters, config_file=config, **arguments)
    except ConfigError as exc:
        console.print(Text.assemble(("FAIL", "red"), f" configuration: {redact_text(str(exc))}"))
        raise typer.Exit(1) from None
    if not chosen.configured:
        console.print(Text(NOTHING_CONFIGURED))
        return
    results = [_check(settings, hooks, timeout) for settings, hooks in resolved]
    if not all(results):
        raise typer.Exit(1)


# --- tempo-columns -----------------------------------------------------------------------


@app.command("tempo-columns")
def tempo_columns(
    attribute: Annotated[
        list[str] | None,
        typer.Option("--attribute", "-A", help="Another span attribute to add (repeatable)."),
    ] = None,
) -> None:
    """Print Tempo's parquet_dedicated_columns YAML for the agent attributes."""
    names = tuple(dict.fromkeys([*DEDICATED_COLUMNS, *(attribute or [])]))
    typer.echo(dedicated_columns_yaml(names), nl=False)
