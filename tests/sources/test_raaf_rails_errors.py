"""Bad input to the raaf-rails source against a real PostgreSQL: each error names the setting
to change (and, for missing tables and columns, RAAF's migration that creates them), and no
password is ever shown."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import raaf_rails_db as db
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.sources.plugins.manager import SourceManager
from agent_otlp.sources.plugins.types import SourceContext

WRONG = "wr0ng-Pass-5531"


@pytest.fixture(scope="module")
def cluster() -> Iterator[db.PostgresCluster]:
    started = db.PostgresCluster().start()
    db.wait_ready(started)
    db.create_app_database(started, processor_columns=False, db="app")
    yield started
    started.stop()


def open_error(url: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        SourceManager().open(url, SourceContext(env=env or {}))
    return str(raised.value)


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTLP_", "PG"))}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), COLUMNS="300")
    code = "import sys; from agent_otlp.cli import main; sys.argv[0] = 'agent-otlp'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_a_malformed_url_names_from_and_masks_the_password() -> None:
    text = open_error(f"postgresql://reader:{WRONG}@127.0.0.1:notaport/app")
    assert "--from" in text and "not a PostgreSQL URL" in text
    assert WRONG not in text


def test_a_refused_connection_names_host_and_port() -> None:
    with db.socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = open_error(f"postgresql://reader:{WRONG}@127.0.0.1:{port}/app")
    assert f"nothing listens at host 127.0.0.1 port {port}" in text and "--from" in text
    assert WRONG not in text


def test_a_wrong_password_is_masked_everywhere(cluster: db.PostgresCluster, tmp_path: Path) -> None:
    text = open_error(cluster.url(db.READER, WRONG, "app"))
    assert f"the password for user {db.READER} (the URL) was refused" in text
    assert WRONG not in text
    from_env = open_error(cluster.url(db.READER, None, "app"), {"PGPASSWORD": WRONG})
    assert "(PGPASSWORD) was refused" in from_env and WRONG not in from_env
    done = _cli(tmp_path, "export", "--from", cluster.url(db.READER, WRONG, "app"), "--to", "otlp",
                "--dry-run")
    assert done.returncode == 2
    assert "was refused" in done.stderr and WRONG not in done.stdout + done.stderr


def test_a_missing_database_is_named(cluster: db.PostgresCluster) -> None:
    text = open_error(cluster.url(db.READER, db.READER_PASSWORD, "nosuchdb"))
    assert "no database 'nosuchdb' there" in text


def test_missing_tables_are_named_with_their_migrations(cluster: db.PostgresCluster) -> None:
    with cluster.admin("postgres") as conn:
        conn.execute("CREATE DATABASE empty")
        conn.execute(f"GRANT CONNECT ON DATABASE empty TO {db.READER}")
    text = open_error(cluster.url(db.READER, db.READER_PASSWORD, "empty"))
    assert "raaf_tracing_traces (RAAF's rails/db/migrate/001_create_raaf_tracing_traces.rb)" in text
    assert "raaf_tracing_spans (RAAF's rails/db/migrate/002_create_raaf_tracing_spans.rb)" in text
    assert "schema=NAME" in text


def test_missing_columns_are_named_with_their_migration(cluster: db.PostgresCluster) -> None:
    with cluster.admin("postgres") as conn:
        conn.execute("CREATE DATABASE partial")
    with cluster.admin("partial") as conn:
        conn.execute(db.MIGRATIONS_DDL)
        conn.execute("ALTER TABLE raaf_tracing_spans DROP COLUMN duration_ms, DROP COLUMN events")
    text = open_error(cluster.url(db="partial"))
    assert ("table raaf_tracing_spans has no column duration_ms, events, which RAAF's "
            "rails/db/migrate/002_create_raaf_tracing_spans.rb creates") in text
