"""Header values that cannot be sent (a line break, a control character) are refused when
they are configured, with an error naming the header and where it came from and the value
masked; exception text that quotes a secret with escaped control characters is redacted."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import agent_otlp
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.secrets import Secret, redact_text
from agent_otlp.core.wire.grpc_transport import GrpcTransport
from agent_otlp.core.wire.transport import HttpTransport, SendResult, Transport
from test_exporter import items

TOKEN = "tok-7f3a9c1e5b2d4086"
CLI = "import sys; from agent_otlp.cli import main; sys.argv[0] = 'agent-otlp'; main()"


def _refused(**kwargs: object) -> str:
    with pytest.raises(ConfigError) as caught:
        agent_otlp.create_exporter("otlp", **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


def test_a_line_break_in_otel_exporter_otlp_headers() -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer%20{TOKEN}%0D%0AX-Injected:%201"}
    text = _refused(env=env)
    assert "header authorization (OTEL_EXPORTER_OTLP_HEADERS)" in text
    assert "carriage return (CR) at character 28" in text
    assert "****(" in text and TOKEN not in text


def test_a_control_character_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "agent-otlp.toml"
    config.write_text(f'[destination.otlp.headers]\nx-api-key = "{TOKEN}\\n"\n')
    text = _refused(env={}, config_file=config)
    assert "header x-api-key (headers (config file))" in text
    assert "line feed (LF) at character 21" in text
    assert TOKEN not in text


def test_an_argument_and_an_adapter_default() -> None:
    text = _refused(env={}, headers={"x-tenant": "a\x00b"})
    assert "header x-tenant (headers (argument))" in text and "NUL at character 2" in text
    with pytest.raises(ConfigError) as caught:
        agent_otlp.create_exporter("honeycomb", env={"HONEYCOMB_API_KEY": TOKEN + "\r\nX: 1"})
    text = str(caught.value)
    assert "header x-honeycomb-team (adapter honeycomb defaults)" in text
    assert TOKEN not in text


def test_names_and_non_ascii_values() -> None:
    text = _refused(env={}, headers={f"Authorization: Bearer {TOKEN}": "x"})
    assert "header name in headers (argument)" in text and TOKEN not in text
    assert "non-ASCII character U+00E9" in _refused(env={}, headers={"x-team": "équipe"})


def test_transports_made_directly_check_too() -> None:
    with pytest.raises(ConfigError, match=r"header authorization \(HttpTransport headers\)"):
        HttpTransport("http://127.0.0.1:4318/v1/traces", {"authorization": Secret(f"{TOKEN}\n")})
    with pytest.raises(ConfigError, match=r"header x-k \(GrpcTransport headers\)"):
        GrpcTransport("127.0.0.1:4317", {"x-k": "a\r\nb"})


def test_the_cli_prints_one_masked_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    env["OTEL_EXPORTER_OTLP_HEADERS"] = f"authorization=Bearer%20{TOKEN}%0AX:%201"
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"
    done = subprocess.run([sys.executable, "-c", CLI, "config"], capture_output=True, text=True,
                          env=env, timeout=60, cwd=tmp_path)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "header authorization (OTEL_EXPORTER_OTLP_HEADERS)" in output
    assert TOKEN not in output and "Traceback" not in output


def test_escaped_forms_of_a_secret_are_redacted() -> None:
    secret = Secret(f"Bearer {TOKEN}\r\nX-Other: 1")
    for text in (repr(ValueError(secret.reveal())),
                 repr(ValueError(secret.reveal().encode())),
                 f"Invalid header value {secret.reveal().encode()!r}"):
        assert TOKEN not in redact_text(text), text


class _QuotingTransport(Transport):
    """A transport with a bug: its exception quotes the credential it was given."""

    def __init__(self, secret: Secret) -> None:
        self._secret = secret

    def send(self, body: bytes, timeout: float) -> SendResult:
        raise ValueError(f"cannot send header {self._secret.reveal().encode()!r}")

    def close(self) -> None:
        pass


def test_a_transport_bug_quoting_a_secret_is_logged_and_counted_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = Secret(f"Bearer {TOKEN}")
    exporter = agent_otlp.create_exporter(
        "otlp", env={}, schedule_delay=0.02, endpoint="http://127.0.0.1:9",
        transport_factory=lambda settings: _QuotingTransport(secret),
    )
    with caplog.at_level(logging.DEBUG):
        assert exporter.submit_items(items(1)) == []
        exporter.end_all_traces()
        exporter.shutdown(5)
    dest = exporter.stats.snapshot()["destinations"]["otlp"]
    assert dest["dropped"]["failed"] == 2 and "ValueError" in dest["last_error"]
    assert TOKEN not in dest["last_error"]
    logged = "\n".join(caplog.text.splitlines())
    assert "lost a batch" in logged and "Traceback" in logged
    assert TOKEN not in logged
