"""A throwaway PostgreSQL cluster holding RAAF's Rails tracing tables, for the raaf-rails source.

* :class:`PostgresCluster` runs Debian's PostgreSQL binaries (``apt-get install postgresql``;
  ``scripts/test`` installs them) on a free port in a temporary directory, as a user other
  than root (as root, the files belong to ``postgres`` and the commands run through
  ``runuser``). It fails, never skips, when it cannot start.
* :data:`MIGRATIONS_DDL` creates the tables as RAAF's migrations do, :data:`PROCESSOR_COLUMNS`
  adds the columns ``ActiveRecordProcessor`` writes that no migration creates.
* :func:`running_cluster` starts one and stops it after; :func:`new_app_database` makes a fresh
  application database in it, :func:`reader_url` the read-only role's URL of one, and
  :func:`open_rails` opens that through the raaf-rails source; :func:`expected_ids` are the
  span ids its traces arrive with, :func:`child_env` the environment of a CLI child process.
* :func:`rails_trace` builds one trace's rows as ``ActiveRecordProcessor`` saves them, one span
  of every kind RAAF knows; :func:`insert` writes them.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.sources.plugins.manager import OpenedSource, SourceManager
from agent_otlp.sources.plugins.types import SourceContext

SUPERUSER_PASSWORD = "su-Secret-4242"
READER = "raaf_reader"
READER_PASSWORD = "rd-Pa55-word-9713"

# rails/db/migrate/001_create_raaf_tracing_traces.rb and 002_create_raaf_tracing_spans.rb
# (raaf-ai/raaf), as ActiveRecord 7 creates them on PostgreSQL: t.string is character
# varying, t.datetime is timestamp(6) without time zone, t.timestamps are NOT NULL.
MIGRATIONS_DDL = """
CREATE TABLE raaf_tracing_traces (
    trace_id character varying NOT NULL PRIMARY KEY,
    workflow_name character varying NOT NULL,
    status character varying NOT NULL DEFAULT 'pending',
    started_at timestamp(6) without time zone,
    ended_at timestamp(6) without time zone,
    metadata jsonb DEFAULT '{}',
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
CREATE INDEX ON raaf_tracing_traces (workflow_name);
CREATE INDEX ON raaf_tracing_traces (status);
CREATE INDEX ON raaf_tracing_traces (started_at);
CREATE INDEX ON raaf_tracing_traces USING gin (metadata);
CREATE TABLE raaf_tracing_spans (
    span_id character varying NOT NULL PRIMARY KEY,
    trace_id character varying NOT NULL,
    parent_id character varying,
    name character varying NOT NULL,
    kind character varying NOT NULL DEFAULT 'internal',
    status character varying NOT NULL DEFAULT 'ok',
    start_time timestamp(6) without time zone,
    end_time timestamp(6) without time zone,
    duration_ms numeric(15,3),
    span_attributes jsonb DEFAULT '{}',
    events jsonb DEFAULT '[]',
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
CREATE INDEX ON raaf_tracing_spans (trace_id);
CREATE INDEX ON raaf_tracing_spans (parent_id);
CREATE INDEX ON raaf_tracing_spans (name);
CREATE INDEX ON raaf_tracing_spans (kind);
CREATE INDEX ON raaf_tracing_spans (status);
CREATE INDEX ON raaf_tracing_spans (start_time);
CREATE INDEX ON raaf_tracing_spans (trace_id, parent_id);
CREATE INDEX ON raaf_tracing_spans USING gin (span_attributes);
CREATE INDEX ON raaf_tracing_spans USING gin (events);
ALTER TABLE raaf_tracing_spans ADD FOREIGN KEY (trace_id)
    REFERENCES raaf_tracing_traces (trace_id) ON DELETE CASCADE;
"""

# tracing/lib/raaf/active_record_processor.rb writes TraceRecord.group_id and
# SpanRecord.input_tokens/output_tokens/agent_model (token_columns_from); no migration of
# rails/db/migrate creates them, applications add them.
PROCESSOR_COLUMNS = """
ALTER TABLE raaf_tracing_traces ADD COLUMN group_id character varying;
ALTER TABLE raaf_tracing_spans ADD COLUMN input_tokens integer;
ALTER TABLE raaf_tracing_spans ADD COLUMN output_tokens integer;
ALTER TABLE raaf_tracing_spans ADD COLUMN agent_model character varying;
"""


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
                       "apt-get install postgresql (scripts/test does it)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    """A PostgreSQL server of its own in ``root``, a temporary directory it removes when it
    stops (outside pytest's own, which other users cannot enter)."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="agent-otlp-pg-")))
    port: int = field(default_factory=_free_port)

    def __post_init__(self) -> None:
        self.bin = _binaries()
        self.data = self.root / "data"
        self.user = None if os.geteuid() != 0 else "postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")

    def start(self) -> PostgresCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        pwfile = self.root / "pw"
        pwfile.write_text(SUPERUSER_PASSWORD)
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "admin", "--pwfile", str(pwfile),
                  "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--no-sync")
        self._start_server()
        return self

    def _start_server(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-t", "60",
                  "-l", str(self.root / "log"), "start")

    def restart(self, down_s: float = 0.0) -> None:
        """Stop the server (fast: sessions are ended), stay down ``down_s`` seconds, start it
        again on the same port."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        time.sleep(down_s)
        self._start_server()

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, user: str = "admin", password: str | None = SUPERUSER_PASSWORD, db: str = "app") -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{db}"

    def admin(self, db: str = "app") -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(db=db), autocommit=True)


def create_app_database(cluster: PostgresCluster, *, processor_columns: bool, db: str = "app") -> None:
    """The application database with RAAF's tables and a role that may only SELECT them."""
    with cluster.admin("postgres") as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER,)).fetchone()
        if not exists:
            conn.execute(f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")
    with cluster.admin(db) as conn:
        conn.execute(MIGRATIONS_DDL)
        if processor_columns:
            conn.execute(PROCESSOR_COLUMNS)
        conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {READER}")
        conn.execute(f"GRANT SELECT ON raaf_tracing_traces, raaf_tracing_spans TO {READER}")


# --- rows as ActiveRecordProcessor writes them ---------------------------------------------

T0 = datetime(2024, 5, 1, 10, 0, 0)  # naive UTC, as Rails stores datetimes


def trace_id(index: int) -> str:
    return f"trace_{index:032x}"


def span_id(index: int, n: int) -> str:
    return f"span_{index:08x}{n:016x}"


@dataclass
class RailsTrace:
    trace: dict[str, Any]
    spans: list[dict[str, Any]]


def _span(index: int, n: int, parent: int | None, kind: str, name: str, start: datetime,
          seconds: float, attributes: dict[str, Any], status: str = "ok",
          events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    end = start + timedelta(seconds=seconds)
    return {
        "span_id": span_id(index, n), "trace_id": trace_id(index),
        "parent_id": span_id(index, parent) if parent is not None else None,
        "name": name, "kind": kind, "status": status, "start_time": start, "end_time": end,
        "duration_ms": round(seconds * 1000, 2), "span_attributes": attributes,
        "events": events or [], **_token_columns(attributes),
    }


def _token_columns(attributes: dict[str, Any]) -> dict[str, Any]:
    """ActiveRecordProcessor.token_columns_from."""
    def first(*keys: str) -> Any:
        return next((attributes[k] for k in keys if attributes.get(k) is not None), None)

    tokens_in = first("input_tokens", "llm.usage.input_tokens", "llm.usage.prompt_tokens")
    tokens_out = first("output_tokens", "llm.usage.output_tokens", "llm.usage.completion_tokens")
    model = first("agent.model", "llm.request.model", "llm.model", "model")
    return {"input_tokens": int(tokens_in) if tokens_in is not None else None,
            "output_tokens": int(tokens_out) if tokens_out is not None else None,
            "agent_model": str(model)[:100] if model not in (None, "N/A") else None}


#: The spans of :func:`rails_trace` besides the trace span, by number: (kind, name, status).
KINDS = ("agent", "llm", "tool", "handoff", "guardrail", "mcp_list_tools", "response",
         "speech_group", "speech", "transcription", "custom", "internal", "pipeline", "job",
         "runner", "component")


def rails_trace(index: int, start: datetime | None = None) -> RailsTrace:
    """One workflow: the ``trace`` span (0), an agent (1) under it, then one span of every
    other kind under the agent; the tool fails, the guardrail trips, the handoff is skipped,
    the transcription cancelled, the custom span has an event without a name."""
    t = start or T0 + timedelta(seconds=index)
    s = 0.001
    spans = [
        _span(index, 0, None, "trace", "trace.Support", t, 0.9, {
            "trace.id": trace_id(index), "trace.workflow_name": "Support",
            "trace.group_id": f"conv-{index}", "trace.metadata": {"tenant": "acme"}}),
        _span(index, 1, 0, "agent", "agent.Triage", t + timedelta(seconds=s), 0.8, {
            "agent.name": "Triage", "agent.model": "gpt-4o", "agent.max_turns": "10",
            "agent.tools_count": "2", "input_tokens": 120, "output_tokens": 30,
            "agent.handoffs": ["Refunds"]}),
        _span(index, 2, 1, "llm", "POST /v1/responses", t + timedelta(seconds=2 * s), 0.2, {
            "llm.request.model": "gpt-4o", "llm.request.temperature": 0.2,
            "llm.request.messages": [{"role": "system", "content": "be brief"},
                                     {"role": "user", "content": "refund please"}],
            "llm.response.content": "Sure.", "llm.usage.input_tokens": 100,
            "llm.usage.output_tokens": 20, "llm.tokens.cache_read": "40",
            "llm.cost.total_cents": "3"}),
        _span(index, 3, 1, "tool", "tool.lookup_order", t + timedelta(seconds=3 * s), 0.1, {
            "function.name": "lookup_order", "function.input": {"order": 42},
            "function.output": "not found", "status.description": "order 42 not found",
            "error.type": "NotFound"}, status="error", events=[{
                "name": "exception", "timestamp": "2024-05-01T10:00:00Z",
                "attributes": {"exception.type": "NotFound", "exception.message": "order 42 not found"}}]),
        _span(index, 4, 1, "handoff", "handoff", t + timedelta(seconds=4 * s), 0.01, {
            "handoff.from": "Triage", "handoff.to": "Refunds", "agent.status": "skipped"},
            status="skipped"),
        _span(index, 5, 1, "guardrail", "guardrail.pii", t + timedelta(seconds=5 * s), 0.01, {
            "guardrail.name": "pii", "guardrail.triggered": True}),
        _span(index, 6, 1, "mcp_list_tools", "mcp.list_tools", t + timedelta(seconds=6 * s), 0.01, {
            "mcp.server": "files", "mcp.tools": ["read", "write"]}),
        _span(index, 7, 1, "response", "response.format", t + timedelta(seconds=7 * s), 0.01, {
            "response.format": "json", "response_id": "resp_1"}),
        _span(index, 8, 1, "speech_group", "speech_group.call", t + timedelta(seconds=8 * s), 0.05, {
            "speech_group.name": "call", "speech_group.input": "hello"}),
        _span(index, 9, 8, "speech", "speech.synthesis", t + timedelta(seconds=9 * s), 0.02, {
            "speech.model": "tts-1", "speech.input": "hello"}),
        _span(index, 10, 8, "transcription", "transcription", t + timedelta(seconds=10 * s), 0.02, {
            "transcription.model": "whisper-1", "transcription.output": "hi"}, status="cancelled"),
        _span(index, 11, 1, "custom", "custom.score", t + timedelta(seconds=11 * s), 0.01, {
            "custom.name": "score", "custom.data": {"score": 0.9}},
            events=[{"name": None, "timestamp": "2024-05-01T10:00:00Z", "attributes": {"k": 1}}]),
        _span(index, 12, 0, "internal", "db.query", t + timedelta(seconds=12 * s), 0.01, {"db.rows": 3}),
        _span(index, 13, 0, "pipeline", "pipeline.Refund", t + timedelta(seconds=13 * s), 0.3, {
            "pipeline.name": "Refund", "pipeline.flow_structure": "A >> B"}),
        _span(index, 14, 13, "job", "RefundJob", t + timedelta(seconds=14 * s), 0.2, {
            "job.queue": "default", "component.type": "job"}),
        _span(index, 15, 14, "runner", "Runner", t + timedelta(seconds=15 * s), 0.1, {"component.name": "Runner"}),
        _span(index, 16, 15, "component", "Helper", t + timedelta(seconds=16 * s), 0.05, {"component.name": "Helper"}),
    ]
    end = spans[0]["end_time"]
    trace = {"trace_id": trace_id(index), "workflow_name": "Support", "status": "failed",
             "started_at": t, "ended_at": end, "metadata": {"tenant": "acme"},
             "group_id": f"conv-{index}"}
    return RailsTrace(trace, spans)


def insert(conn: psycopg.Connection[Any], traces: list[RailsTrace], *, processor_columns: bool = True) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    for item in traces:
        trace = dict(item.trace)
        if not processor_columns:
            trace.pop("group_id")
        trace["metadata"] = json.dumps(trace["metadata"])
        _insert(conn, "raaf_tracing_traces", {**trace, "created_at": now, "updated_at": now})
    insert_spans(conn, traces, processor_columns=processor_columns)


def insert_spans(conn: psycopg.Connection[Any], traces: list[RailsTrace], *,
                 processor_columns: bool = True) -> None:
    """The spans alone (their trace rows written before), stamped now."""
    now = datetime.now(UTC).replace(tzinfo=None)
    for item in traces:
        for span in item.spans:
            row = {**span, "span_attributes": json.dumps(span["span_attributes"]),
                   "events": json.dumps(span["events"]), "created_at": now, "updated_at": now}
            if not processor_columns:
                for key in ("input_tokens", "output_tokens", "agent_model"):
                    row.pop(key)
            _insert(conn, "raaf_tracing_spans", row)


def _insert(conn: psycopg.Connection[Any], table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))


@contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    """A started cluster, ready for connections; stopped and removed after."""
    started = PostgresCluster().start()
    try:
        wait_ready(started)
        yield started
    finally:
        started.stop()


_databases = itertools.count(1)


def new_app_database(cluster: PostgresCluster, prefix: str = "app", *,
                     processor_columns: bool = True) -> str:
    """A fresh application database (with the processor's extra columns unless told); its name."""
    name = f"{prefix}{next(_databases)}"
    create_app_database(cluster, processor_columns=processor_columns, db=name)
    return name


def reader_url(cluster: PostgresCluster, name: str) -> str:
    """The URL of the database ``name`` for the role that may only SELECT."""
    return cluster.url(READER, READER_PASSWORD, name)


def expected_ids(indexes: range) -> set[str]:
    """The span ids (hex) the traces ``indexes`` arrive with: each one's workflow span (its
    trace-kind span) and a span of every other kind."""
    out = set()
    for index in indexes:
        out.add(workflow_span_id_for(trace_id(index)).hex())
        out.update(span_id_for(span_id(index, n)).hex() for n in range(1, len(KINDS) + 1))
    return out


def child_env(tmp_path: Path) -> dict[str, str]:
    """The environment of an ``agent-otlp`` child process: none of the ``OTEL_*``,
    ``AGENT_OTLP_*`` or ``PG*`` variables from outside, its data directory in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTLP_", "PG"))}
    return {**env, "XDG_DATA_HOME": str(tmp_path / "data"), "COLUMNS": "200"}


def open_rails(url: str, **options: str) -> OpenedSource:
    """``url`` opened by the source that takes it (the raaf-rails source), with ``options``."""
    return SourceManager().open(url, SourceContext(env={}, options=options))


def wait_ready(cluster: PostgresCluster, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with cluster.admin("postgres"):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
