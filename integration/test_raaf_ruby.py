"""A real Ruby client posting as RAAF's ``OpenAIProcessor`` does, over TLS, to
``agent-otlp serve``, into a real Jaeger; the traces are read back from Jaeger's query API.

``integration/raaf/raaf_client.rb`` (Ruby's standard library only) makes five agent runs
and posts them in batches of 50 spans, each led by RAAF's stale trace object, with RAAF's
ids, shapes and error forms (see the script). The bridge serves HTTPS with a certificate
made by ``--tls-self-signed``; the script trusts its authority through ``SSL_CERT_FILE``.
Ruby must be installed (``scripts/test`` installs Debian's ``ruby``): without it this test
fails, it is never skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.harness import free_port

CLIENT = Path(__file__).resolve().parent / "raaf" / "raaf_client.rb"
TOKEN = "raaf-bridge-token-0123456789"
RUNS = ("Research", "Triage", "Billing", "Onboarding", "Escalation")


def _ruby() -> str:
    ruby = shutil.which("ruby")
    if ruby is None:
        pytest.fail("ruby is not installed (scripts/test installs Debian's ruby with apt-get)",
                    pytrace=False)
    return ruby


def _wait_healthy(url: str, ca_file: Path, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    context = ssl.create_default_context(cafile=str(ca_file))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("agent-otlp serve exited: " + "".join(proc.communicate()))
        try:
            with urllib.request.urlopen(f"{url}/healthz", context=context, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("agent-otlp serve did not answer over TLS in time")


@pytest.fixture
def bridge(jaeger: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``agent-otlp serve`` over TLS with a token, delivering to Jaeger: its base URL and CA."""
    _ruby()  # fail before starting anything
    tls_dir = tmp_path / "tls"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    env.update(PYTHONUNBUFFERED="1", XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), AGENT_OTLP_BRIDGE_TOKEN=TOKEN,
               OTEL_BSP_SCHEDULE_DELAY="100")
    command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve",
               "--adapter", "jaeger", "--endpoint", jaeger.otlp_http, "--port", str(port),
               "--tls-self-signed", str(tls_dir), "--store", str(tmp_path / "spans.db"),
               "--trace-end-grace", "1", "--trace-idle-timeout", "3"]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (tls_dir / "ca.pem").is_file() and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError("agent-otlp serve exited: " + "".join(proc.communicate()))
            time.sleep(0.1)
        base_url = f"https://localhost:{port}"
        _wait_healthy(base_url, tls_dir / "ca.pem", proc)
        yield base_url, tls_dir / "ca.pem"
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _run_client(base_url: str, ca_file: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSL_", "OPENAI_"))}
    env.update(SSL_CERT_FILE=str(ca_file), OPENAI_API_KEY=TOKEN, OPENAI_ORG_ID="org-raaf",
               OPENAI_PROJECT_ID="proj-raaf")
    done = subprocess.run([_ruby(), str(CLIENT), base_url], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _root_named(name: str, run: str) -> bool:
    return name == run or name.endswith(f" {run}")


def test_a_ruby_raaf_client_over_tls_reaches_jaeger_as_whole_traces(
    jaeger: Any, bridge: tuple[str, Path]
) -> None:
    result = _run_client(*bridge)
    posts = result["posts"]
    assert [p["spans"] for p in posts] == [50, 11], posts  # batches of 50, then the rest
    assert {p["trace_object"]["id"] for p in posts} == {result["traces"][0]["trace_id"]}  # stale
    assert all(p["status"] == 200 for p in posts), posts

    problems: list[str] = []
    for run in result["traces"]:
        hex_id = run["trace_id"].removeprefix("trace_")
        # every span RAAF sent, and one workflow span
        spans = jaeger.query.get_trace(hex_id, timeout=60, min_spans=run["sent"] + 1)
        problems += _check_trace(run, spans)
    assert problems == [], "\n".join(problems)


def _check_trace(run: dict[str, Any], spans: list[dict[str, Any]]) -> list[str]:
    """What must hold of one run's trace in Jaeger; each failure as a line."""
    where = f"{run['workflow']} ({run['trace_id']})"
    problems = []
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if not s["parent_span_id"]]
    if len(roots) != 1:
        problems.append(f"{where}: {len(roots)} roots: {[s['name'] for s in roots]}")
    dangling = [s["name"] for s in spans if s["parent_span_id"] and s["parent_span_id"] not in ids]
    if dangling:
        problems.append(f"{where}: spans whose parent is missing: {dangling}")
    others = [r for r in RUNS if r != run["workflow"]]
    for root in roots:  # RAAF's stale trace object names another run's workflow
        if any(_root_named(root["name"], other) for other in others):
            problems.append(f"{where}: root named after another run: {root['name']!r}")
    errors = sorted(s["status_message"] or "<no message>" for s in spans if s["status_code"] == "ERROR")
    wanted = sorted(["fetch failed: 503", "research incomplete", errors_true(errors)])
    if errors != wanted:
        problems.append(f"{where}: error statuses {errors}, wanted three (a string, an object, true)")
    for generation in run["generations"]:
        matches = [s for s in spans
                   if s["attributes"].get("gen_ai.request.model") == generation["model"]
                   and s["attributes"].get("gen_ai.usage.input_tokens") == generation["input_tokens"]]
        if len(matches) != 1:
            problems.append(f"{where}: generation {generation['model']} with "
                            f"{generation['input_tokens']} input tokens found {len(matches)} times")
            continue
        attributes = matches[0]["attributes"]
        if attributes.get("gen_ai.usage.output_tokens") != generation["output_tokens"]:
            problems.append(f"{where}: {generation['model']} output tokens "
                            f"{attributes.get('gen_ai.usage.output_tokens')}")
        if attributes.get("gen_ai.provider.name") != generation["provider"]:
            problems.append(f"{where}: {generation['model']} provider "
                            f"{attributes.get('gen_ai.provider.name')!r}, wanted {generation['provider']!r}")
    if run["oversized"] and not any(s["name"].endswith("Librarian") for s in spans):
        problems.append(f"{where}: the oversized agent span (RAAF's truncated marker) is missing")
    return problems


def errors_true(errors: list[str]) -> str:
    """The message of the span whose ``error`` was ``true``: whatever the bridge chose, as
    long as it is one error more than the two with a message."""
    rest = [e for e in errors if e not in ("fetch failed: 503", "research incomplete")]
    return rest[0] if len(rest) == 1 else "<missing>"
