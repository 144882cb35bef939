"""Secrets never leave: a Honeycomb key, an Authorization header, the bridge token and a
literal header of a stored destination are set, every flow is run (failures included), and
every log line, exception message, repr and CLI output is searched for them, whole and
without their first character."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytest.importorskip("agents")

import agent_otlp
from _reliability import record
from agent_otlp.cli import _register, app
from agent_otlp.core.config.errors import AgentOTLPError
from agent_otlp.factory import resolve_all
from agent_otlp.sources.bridge import BridgeServer
from agent_otlp.testing import OTLPReceiver, Reply
from agent_otlp.workloads import record_demo_items, write_sample_jsonl
from test_bridge import post_items, request
from test_doctor import _closed_port

HONEYCOMB_KEY = "hcaik_01hqk4k20cjeh63wca8vva5stw70nft6m5n8wr8f5mjx3762s8269jq7xz"
AUTH_TOKEN = "sk-authz-7f3e9a1c5b2d4e6f8a0b1c2d"
AUTH_HEADER = f"Bearer {AUTH_TOKEN}"
BRIDGE_TOKEN = "bridge-secret-4d8b2f6a9c1e3a5b7d9f"
LITERAL = "literal-secret-9a8b7c6d5e4f3a2b1c0d"
SECRETS = (HONEYCOMB_KEY, AUTH_TOKEN, BRIDGE_TOKEN, LITERAL)


def leaks(text: str) -> list[str]:
    found = []
    for secret in SECRETS:
        for variant in (secret, secret[1:]):
            if variant in text:
                found.append(variant[:6] + "...")
    return found


class Collected:
    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, label: str, *values: Any) -> None:
        for value in values:
            self.texts.append((label, value if isinstance(value, str) else repr(value)))

    def cli(self, label: str, result: Any) -> None:
        self.add(label, result.output)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            self.add(f"{label} exception", str(result.exception), repr(result.exception))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith(("AGENT_OTLP_", "OTEL_", "HONEYCOMB_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    values = {
        "HONEYCOMB_API_KEY": HONEYCOMB_KEY,
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization={AUTH_HEADER}",
        "AGENT_OTLP_BRIDGE_TOKEN": BRIDGE_TOKEN,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "COLUMNS": "250",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def echo_secrets(request: Any) -> Reply:
    """A backend that quotes the credentials it got in its error (some do)."""
    got = request.headers.get("x-honeycomb-team", "") + " " + request.headers.get("authorization", "")
    return Reply(status=401, message=f"invalid credentials: {got}")


@pytest.mark.timeout(180)
def test_no_secret_in_any_output(
    env: dict[str, str], otlp_receiver: OTLPReceiver, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="agent_otlp")
    out = Collected()
    _register()
    runner = CliRunner()

    # --- library: failing then recovering export, reprs, stats -------------------------
    otlp_receiver.set_handler(echo_secrets)
    exporter = agent_otlp.create_exporter("honeycomb", endpoint=otlp_receiver.endpoint,
                                          schedule_delay=0.02, retry_deadline=0.3)
    exporter.submit_items(record_demo_items())
    exporter.force_flush(5)
    otlp_receiver.set_handler(None)
    exporter.submit_items(record_demo_items())
    exporter.end_all_traces()
    exporter.force_flush(10)
    assert otlp_receiver.requests[-1].headers["x-honeycomb-team"] == HONEYCOMB_KEY
    assert otlp_receiver.requests[-1].headers["authorization"] == AUTH_HEADER
    for dest in exporter.destinations:
        out.add("library reprs", dest, dest.settings, dest.settings.describe(), dest.stats,
                dest._transport, dest.settings.headers, dest.settings.options)
    out.add("library stats", exporter.stats.snapshot(), exporter, exporter.destinations,
            exporter.shutdown(5))

    # --- configuration errors carrying secrets ------------------------------------------
    bad_configs: list[dict[str, Any]] = [  # the secrets sit where secrets go
        {"env": {**env, "OTEL_EXPORTER_OTLP_HEADERS": f"authorization={AUTH_HEADER},{LITERAL}"}},
        {"env": {**env, "OTEL_EXPORTER_OTLP_HEADERS": f"x-api-key={LITERAL},broken"}},
        {"env": env, "headers": f"authorization={LITERAL},%zz"},
        {"env": env, "endpoint": f"http://user:{LITERAL}@[::1"},
        {"env": env, "endpoint": f"http://user:{LITERAL}@localhost:99999"},
    ]
    errors = 0
    for config in bad_configs:
        try:
            resolve_all("honeycomb", **config)
        except AgentOTLPError as exc:
            errors += 1
            out.add("config error", str(exc), repr(exc))
    assert errors == len(bad_configs)

    # --- the bridge and its token --------------------------------------------------------
    bridge_exporter = agent_otlp.create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={})
    with BridgeServer(bridge_exporter, port=0, token=BRIDGE_TOKEN) as bridge:
        items = record_demo_items()[:3]
        for token in (None, "wrong", BRIDGE_TOKEN[:-1], BRIDGE_TOKEN):
            reply = post_items(bridge.url, items, token=token)
            out.add("bridge reply", reply.raw.decode(), reply.headers)
        out.add("bridge metrics", request(bridge.url, "GET", "/metrics").raw.decode())
        out.add("bridge repr", vars(bridge), bridge)

    # --- the command line ----------------------------------------------------------------
    sample = tmp_path / "sample.jsonl"
    write_sample_jsonl(sample)
    store = str(tmp_path / "s.db")
    commands = [
        ["demo", "-a", "honeycomb", "--endpoint", otlp_receiver.endpoint, "--timeout", "10"],
        ["send", str(sample), "-a", "honeycomb", "--endpoint", otlp_receiver.endpoint, "--no-store"],
        ["send", str(sample), "-a", "honeycomb", "--endpoint", otlp_receiver.endpoint,
         "--store", store, "--timeout", "3"],
        ["config", "-a", "honeycomb,otlp"],
        ["adapters"],
        ["adapters", "--json"],
        ["doctor", "-a", "honeycomb", "--endpoint", otlp_receiver.endpoint],
        ["doctor", "-a", "honeycomb,otlp", "--endpoint", f"http://127.0.0.1:{_closed_port()}",
         "--timeout", "2"],
        ["destinations", "add", "lit", "-a", "otlp", "--endpoint", otlp_receiver.endpoint,
         "--header", f"x-api-key={LITERAL}", "--header", f"authorization=Bearer {LITERAL}",
         "--store", store],
        ["destinations", "add", "ref", "-a", "honeycomb", "--header",
         "x-honeycomb-team=env:HONEYCOMB_API_KEY", "--store", store],
        ["destinations", "list", "--store", store],
        ["send", str(sample), "-a", "lit", "--store", store, "--timeout", "3"],
        ["status", "--store", store],
    ]
    codes = []
    for number, args in enumerate(commands):
        if args[0] == "doctor" and "--timeout" not in args:
            otlp_receiver.set_handler(echo_secrets)
        result = runner.invoke(app, args)
        otlp_receiver.set_handler(None)
        codes.append(result.exit_code)
        out.cli(f"cli {number}: {' '.join(args[:2])}", result)
    assert codes[0] == 0 and codes[1] == 0 and codes[6] == 1 and codes[7] == 1, codes

    # `serve` with the token, in its own process, asked with a wrong token then stopped
    serve_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve", "-a",
         "honeycomb", "--endpoint", otlp_receiver.endpoint, "--port", "0", "--no-store"],
        env=serve_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split("POST ", 1)[1].split("/v1/")[0]
        assert post_items(url, record_demo_items()[:2], token="nope").status == 401
        assert post_items(url, record_demo_items()[:2], token=BRIDGE_TOKEN).status == 200
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out.add("serve output", line + stdout, stderr)

    # --- every log record, formatted and raw ---------------------------------------------
    for rec in caplog.records:
        out.add("log", rec.getMessage(), str(rec.args), rec.exc_text or "")
    out.add("log text", caplog.text)

    found = [(label, leaks(text)) for label, text in out.texts if leaks(text)]
    assert not found, found[:5]
    logged = len(caplog.records)
    record(
        "secrets",
        fault="a Honeycomb key (HONEYCOMB_API_KEY), an Authorization header "
              "(OTEL_EXPORTER_OTLP_HEADERS), the bridge token and a literal secret header of a "
              "stored destination, echoed back by a backend answering 401",
        cases=len(out.texts),
        outcome=f"0 occurrences (whole or minus the first character) in {logged} log records, "
                f"{errors} configuration errors, reprs of settings, exporter, destinations and "
                f"transports, bridge answers and metrics, and the output of {len(commands) + 1} "
                "CLI runs (demo, send x3, config, adapters x2, doctor on 401 and on a closed "
                "port, destinations add/list, status, serve)",
        lost=0,
        method="`test_no_secret_in_any_output` runs each flow with caplog at DEBUG (root and "
               "agent_otlp) and searches every captured text for each secret and its tail.",
    )


@pytest.mark.usefixtures("cli_env")
def test_config_masks_secret_looking_adapter_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """An adapter option named like a credential (``AGENT_OTLP_<DEST>_API_KEY``) is shown masked."""
    secret = "hc-option-secret-0123456789"
    monkeypatch.setenv("AGENT_OTLP_HONEYCOMB_API_KEY", secret)
    monkeypatch.setenv("AGENT_OTLP_HONEYCOMB_REGION", "eu")
    _register()
    result = CliRunner().invoke(app, ["config", "--adapter", "honeycomb"])
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    assert '"api_key": "****' in result.output
    assert '"region": "eu"' in result.output
