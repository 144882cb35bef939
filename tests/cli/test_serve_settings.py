"""``agent-otlp serve``'s TLS, tokens file and body limit, from options, environment variables
and the config file's ``[serve]`` table: a bad value stops it before it listens (a
``ConfigError``, exit 2 from the script), naming the setting and the value, never a token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_otlp.cli import _register, app
from agent_otlp.core.config.errors import ConfigError

_register()

TOKEN = "tok-settings-1f2e3d4c"
BASE = ["serve", "--no-store", "--adapter", "otlp", "--endpoint", "http://127.0.0.1:9", "--port", "0"]


def serve(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The exit code ``agent-otlp`` gives, and the error it prints."""
    result = CliRunner().invoke(app, [*BASE, *args], env={"COLUMNS": "300", **(env or {})})
    if isinstance(result.exception, ConfigError):
        return 2, str(result.exception)
    return result.exit_code, result.output + repr(result.exception)


@pytest.mark.usefixtures("cli_env")
def test_tokens_file_naming_an_unknown_destination(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({TOKEN: {"resource": {"service.name": "a"}, "destinations": ["nowhere"]}}))
    code, output = serve(env={"AGENT_OTLP_BRIDGE_TOKENS": str(tokens)})
    assert code == 2, output
    assert "--tokens" in output and "'nowhere'" in output and "otlp" in output
    assert TOKEN not in output


@pytest.mark.usefixtures("cli_env")
def test_tls_settings_that_do_not_go_together(tmp_path: Path) -> None:
    code, output = serve(env={"AGENT_OTLP_BRIDGE_TLS_CERT": str(tmp_path / "cert.pem")})
    assert code == 2 and "--tls-cert" in output and "needs --tls-key" in output, output
    code, output = serve("--tls-self-signed", str(tmp_path / "tls"), "--tls-key", "key.pem")
    assert code == 2 and "--tls-self-signed" in output and "not both" in output, output
    code, output = serve("--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(tmp_path / "none.pem"))
    assert code == 2 and "no such file" in output, output


@pytest.mark.usefixtures("cli_env")
def test_serve_table_of_the_config_file_is_checked(tmp_path: Path) -> None:
    config = tmp_path / "agent-otlp.toml"
    config.write_text('[serve]\nmax_body = "lots"\n')
    code, output = serve("--config", str(config))
    assert code == 2 and "serve.max_body (config file)" in output and "'lots'" in output, output
    config.write_text('[serve]\ntls_certificate = "x.pem"\n')
    code, output = serve("--config", str(config))
    assert code == 2 and "serve.tls_certificate" in output and "tls_cert" in output, output
    config.write_text('[serve]\nmax_body = "1KiB"\n')  # the variable beats the file
    code, output = serve("--config", str(config), env={"AGENT_OTLP_BRIDGE_MAX_BODY": "0"})
    assert code == 2 and "--max-body" in output and "'0'" in output, output
