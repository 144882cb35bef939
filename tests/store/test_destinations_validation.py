"""Stored destinations are checked when added, and a bad one is named when used.

Adding refuses what could never be sent (an adapter that is not installed, an endpoint with
no host, a header value with a line break...), each error naming the field and the value.
A row that got into the store anyway (an older version wrote it, its adapter was
uninstalled since) stops ``send``, ``export`` and ``serve`` with an error that names the
stored destination, not an anonymous "(argument)".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.store.destinations import DestinationStore, StoredDestination
from agent_otlp.store.sqlite import SpanStore

CLI = [sys.executable, "-c", "from agent_otlp.cli import main; main()"]
INSTALLED = ("otlp", "jaeger", "tempo", "honeycomb", "collector", "console")


@pytest.fixture
def table(tmp_path: Path) -> DestinationStore:
    return DestinationStore(SpanStore(tmp_path / "s.db"))


@pytest.mark.parametrize(
    ("fields", "named", "shown"),
    [
        ({"adapter": "jeager"}, "invalid adapter=", "'jeager': did you mean 'jaeger'?"),
        ({"endpoint": "http://"}, "invalid endpoint=", "'http://': expected a URL with a host"),
        ({"endpoint": "ftp://host:4318"}, "invalid endpoint=", "an http:// or https:// URL"),
        ({"endpoint": "localhost:4318"}, "invalid endpoint=", "an http:// or https:// URL"),
        ({"endpoint": "http://host:99999"}, "invalid endpoint=", "port"),
        ({"endpoint": "http://host:4318/v1/\ntraces"}, "invalid endpoint=", "control characters"),
        ({"endpoint": "http://ho st:4318"}, "invalid endpoint=", "without spaces"),
        ({"protocol": "grpcc"}, "invalid protocol=", "'grpcc': expected one of"),
        ({"batch_size": 0}, "invalid batch_size=", "0: expected a whole number"),
        ({"timeout": -1.0}, "invalid timeout=", "-1.0: expected a number of seconds"),
        ({"headers": {"x-team": {"value": "blue\r\nX-Admin: yes"}}}, "invalid header x-team",
         "carriage return"),
        ({"headers": {"bad name": {"value": "v"}}}, "invalid header name", "expected letters"),
        ({"headers": {"x-key": {"env": "NOT A VAR"}}}, "invalid header x-key", "env:NOT A VAR"),
    ],
)
def test_add_refuses_what_cannot_be_sent(
    table: DestinationStore, fields: dict[str, Any], named: str, shown: str
) -> None:
    values: dict[str, Any] = {"adapter": "otlp", **fields}
    with pytest.raises(ConfigError) as caught:
        table.add(StoredDestination("typo", **values), installed=INSTALLED)
    assert named in str(caught.value) and shown in str(caught.value)
    assert table.list() == []


def test_add_masks_a_secret_header_value(table: DestinationStore) -> None:
    with pytest.raises(ConfigError) as caught:
        table.add(StoredDestination("hc", "honeycomb",
                                    headers={"x-honeycomb-team": {"value": "s3cr3t\nX: y"}}),
                  installed=INSTALLED)
    assert "s3cr3t" not in str(caught.value) and "x-honeycomb-team" in str(caught.value)


def test_add_accepts_a_usable_destination(table: DestinationStore) -> None:
    added = table.add(StoredDestination(
        "prod", "honeycomb", endpoint="https://api.honeycomb.io:443", protocol="http/protobuf",
        headers={"x-honeycomb-team": {"env": "HC_KEY"}, "x-tenant": {"value": "blue\tgreen"}},
        batch_size=100, timeout=5,
    ))  # the installed adapters found by the store itself
    assert added.adapter == "honeycomb"


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=60)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTLP_"))}
    return {**clean, "AGENT_OTLP_STORE": str(tmp_path / "s.db"), "XDG_CONFIG_HOME": str(tmp_path)}


def test_the_command_line_refuses_a_typo_and_stores_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    added = _run("destinations", "add", "typo", "--adapter", "jeager", env=env, cwd=tmp_path)
    assert added.returncode == 2
    assert "invalid adapter='jeager': did you mean 'jaeger'?" in added.stderr
    empty = _run("destinations", "add", "x", "--adapter", "jaeger", "--endpoint", "http://",
                 env=env, cwd=tmp_path)
    assert empty.returncode == 2 and "invalid endpoint='http://'" in empty.stderr
    assert DestinationStore(SpanStore(tmp_path / "s.db")).list() == []


def _store_unchecked(path: Path, name: str, adapter: str, endpoint: str | None,
                     headers: dict[str, Any] | None = None) -> None:
    """A row as an older version (or a hand edit) could leave it: written past the checks."""
    store = SpanStore(path)
    store.execute(
        "INSERT INTO destinations (name, adapter, endpoint, protocol, headers, batch_size, "
        "timeout, enabled, metadata, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (name, adapter, endpoint, None, json.dumps(headers or {}), None, None, 1, "{}", "", ""),
    )
    store.close()


@pytest.mark.parametrize(
    ("adapter", "endpoint", "expected"),
    [
        ("jeager", None, "invalid adapter (stored destination 'typo')='jeager'"),
        ("jaeger", "http://", "invalid endpoint (stored destination 'typo')='http://'"),
    ],
)
def test_a_bad_stored_destination_is_named_when_used(
    tmp_path: Path, env: dict[str, str], adapter: str, endpoint: str | None, expected: str
) -> None:
    _store_unchecked(tmp_path / "s.db", "typo", adapter, endpoint)
    data = tmp_path / "empty.jsonl"
    data.write_text("")
    for args in (("send", str(data), "-a", "typo"),   # named
                 ("send", str(data)),                 # the enabled stored destinations
                 ("export", "--to", "typo", "--from-file", str(data)),
                 ("serve", "--port", "0")):
        done = _run(*args, env=env, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert expected in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_a_header_variable_with_a_line_break_is_named_and_masked(
    tmp_path: Path, env: dict[str, str]
) -> None:
    _store_unchecked(tmp_path / "s.db", "hc", "honeycomb", None,
                     {"x-honeycomb-team": {"env": "HC_KEY"}})
    data = tmp_path / "empty.jsonl"
    data.write_text("")
    done = _run("send", str(data), "-a", "hc", env={**env, "HC_KEY": "s3cr3t\r\nX-Admin: 1"},
                cwd=tmp_path)
    assert done.returncode == 2
    assert "header x-honeycomb-team (stored destination 'hc', env HC_KEY)" in done.stderr
    assert "s3cr3t" not in done.stderr
