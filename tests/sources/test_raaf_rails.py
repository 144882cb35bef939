"""The raaf-rails source against a real PostgreSQL: RAAF's tables as its migrations create them,
rows as ActiveRecordProcessor writes them, read by a role that may only SELECT, exported
through the in-process OTLP receiver."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

import raaf_rails_db as db
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.convert.attributes import GUARDRAIL_TRIGGERED
from agent_otlp.core.convert.ids import trace_id_for
from agent_otlp.historical import ExportInterrupted, HistoricalExport, parse_time, resolve_target
from agent_otlp.sources.plugins.manager import SourceManager
from agent_otlp.sources.plugins.types import SourceContext, TimeRange
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver, ReceivedSpan
from raaf_rails_db import child_env, expected_ids, open_rails, reader_url

SPANS_PER_TRACE = len(db.KINDS)  # the trace's own trace-kind span becomes its workflow span
ITEMS_PER_TRACE = SPANS_PER_TRACE + 1


def fill(cluster: db.PostgresCluster, name: str, indexes: range, **kwargs: Any) -> None:
    """Traces written whole, in one transaction (a reader never sees half of one)."""
    with cluster.admin(name) as conn, conn.transaction():
        db.insert(conn, [db.rails_trace(i) for i in indexes], **kwargs)


def engine(tmp_path: Path, receiver: OTLPReceiver, **kwargs: Any) -> HistoricalExport:
    jobs = SpanStore(tmp_path / "jobs.db")
    target = resolve_target("otlp", env={}, endpoint=receiver.endpoint, retry_deadline=0.3,
                            capture_content=True)
    return HistoricalExport(target, jobs, **kwargs)


def by_kind(spans: list[ReceivedSpan], trace: int) -> dict[str, ReceivedSpan]:
    wanted = trace_id_for(db.trace_id(trace)).hex()
    return {str(s.attributes.get("openai_agents.metadata.raaf.kind", "trace")): s
            for s in spans if s.trace_id == wanted}


def test_export_sends_whole_trees_mapping_every_kind(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    fill(cluster, app_db, range(1, 6))
    since, until = parse_time("2024-05-01T10:00:02Z"), parse_time("2024-05-01T10:00:04Z")
    with open_rails(reader_url(cluster, app_db)) as source:
        assert source.inventory(TimeRange(since, until)).items == 2 * ITEMS_PER_TRACE
        result = engine(tmp_path, otlp_receiver, batch_size=7).from_source(source, since, until)
    assert (result.sent, result.failed, result.invalid) == (2 * ITEMS_PER_TRACE, 0, 0)
    spans = otlp_receiver.spans()
    # traces 2 and 3 end at 10:00:02.9 and 10:00:03.9; 1 and 4 are out of the range
    assert {s.span_id for s in spans} == expected_ids(range(2, 4))
    ids = {s.span_id for s in spans}
    assert all(s.parent_span_id in ids for s in spans if s.parent_span_id)  # whole trees
    kinds = by_kind(spans, 2)
    assert set(kinds) == {"trace", *db.KINDS}
    root = kinds["trace"]
    assert root.name == "invoke_workflow Support" and not root.parent_span_id
    assert root.attributes["gen_ai.conversation.id"] == "conv-2"
    assert root.attributes["openai_agents.metadata.tenant"] == "acme"
    assert root.attributes["openai_agents.metadata.raaf.status"] == "failed"
    assert root.start_ns == parse_time("2024-05-01T10:00:02Z")
    assert root.end_ns == parse_time("2024-05-01T10:00:02.9Z")
    # children of the trace-kind span hang under the workflow span
    for kind in ("agent", "internal", "pipeline"):
        assert kinds[kind].parent_span_id == root.span_id
    assert kinds["llm"].parent_span_id == kinds["agent"].span_id
    assert kinds["component"].parent_span_id == kinds["runner"].span_id
    agent, llm, tool = kinds["agent"], kinds["llm"], kinds["tool"]
    assert agent.name == "invoke_agent Triage"
    assert agent.attributes["openai_agents.metadata.agent.model"] == "gpt-4o"
    assert agent.attributes["openai_agents.metadata.input_tokens"] == 120
    assert llm.name == "chat gpt-4o" and llm.kind == 3
    assert llm.attributes["gen_ai.usage.input_tokens"] == 100
    assert llm.attributes["gen_ai.usage.output_tokens"] == 20
    assert llm.attributes["gen_ai.usage.cache_read.input_tokens"] == 40
    assert llm.attributes["gen_ai.request.temperature"] == 0.2
    assert llm.attributes["openai_agents.metadata.llm.cost.total_cents"] == "3"
    assert "refund please" in llm.attributes["gen_ai.input.messages"]
    assert "Sure." in llm.attributes["gen_ai.output.messages"]
    assert tool.name == "execute_tool lookup_order" and tool.status_code == 2
    assert tool.status_message == "order 42 not found"
    assert tool.attributes["error.type"] == "NotFound"
    assert [e.name for e in tool.events] == ["exception"]
    assert tool.attributes["gen_ai.tool.call.arguments"] == '{"order": 42}'
    assert kinds["handoff"].name == "handoff Refunds"
    assert kinds["handoff"].attributes["openai_agents.metadata.raaf.status"] == "skipped"
    assert kinds["guardrail"].attributes[GUARDRAIL_TRIGGERED] is True
    assert kinds["mcp_list_tools"].attributes["openai_agents.span_data.server"] == "files"
    assert kinds["response"].attributes["gen_ai.response.id"] == "resp_1"
    assert kinds["speech"].attributes["gen_ai.request.model"] == "tts-1"
    assert kinds["transcription"].attributes["openai_agents.metadata.raaf.status"] == "cancelled"
    custom = kinds["custom"]
    assert json.loads(custom.attributes["openai_agents.metadata.raaf.events"])[0]["name"] is None
    assert custom.attributes["openai_agents.metadata.custom.data.score"] == 0.9
    for kind in ("pipeline", "job", "runner", "component", "internal"):
        assert kinds[kind].attributes["openai_agents.span_type"] == "custom"
    assert kinds["job"].name == "RefundJob"
    assert kinds["agent"].end_ns - kinds["agent"].start_ns == 800_000_000


def test_tables_as_the_migrations_alone_create_them(
    cluster: db.PostgresCluster, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    name = db.new_app_database(cluster, "bare", processor_columns=False)
    fill(cluster, name, range(1, 3), processor_columns=False)
    with open_rails(reader_url(cluster, name)) as source:
        result = engine(tmp_path, otlp_receiver).from_source(source)
    assert result.sent == 2 * ITEMS_PER_TRACE
    kinds = by_kind(otlp_receiver.spans(), 1)
    # no group_id column: the trace span's trace.group_id stands in
    assert kinds["trace"].attributes["gen_ai.conversation.id"] == "conv-1"
    assert kinds["llm"].attributes["gen_ai.usage.input_tokens"] == 100


def test_export_resumes_after_an_interruption(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    fill(cluster, app_db, range(1, 11))
    total = 10 * ITEMS_PER_TRACE
    with open_rails(reader_url(cluster, app_db)) as source, pytest.raises(ExportInterrupted):
        engine(tmp_path, otlp_receiver, batch_size=25, stop_after=3).from_source(source)
    assert otlp_receiver.span_count() == 75
    with open_rails(reader_url(cluster, app_db)) as source:  # a new process, say
        result = engine(tmp_path, otlp_receiver, batch_size=25).from_source(source)
    assert result.resumed_from == 75 and result.sent == total
    spans = otlp_receiver.spans()
    assert len(spans) == total and {s.span_id for s in spans} == expected_ids(range(1, 11))
    with open_rails(reader_url(cluster, app_db)) as source:
        assert engine(tmp_path, otlp_receiver).from_source(source).already_done


def test_rows_stream_through_a_server_side_cursor(cluster: db.PostgresCluster, app_db: str) -> None:
    fill(cluster, app_db, range(1, 4))
    with open_rails(reader_url(cluster, app_db)) as source:
        pages = source.read(TimeRange(), None, 5)
        first = next(pages)
        open_cursors = source.handle.conn.execute("SELECT name FROM pg_cursors").fetchall()
        rest = list(pages)
    assert ("agent_otlp_export",) in open_cursors  # rows are fetched 5 at a time, not all at once
    assert len(first.items) == 5 and sum(len(p.items) for p in rest) == 3 * ITEMS_PER_TRACE - 5


def test_the_reader_role_may_only_select(cluster: db.PostgresCluster, app_db: str) -> None:
    fill(cluster, app_db, range(1, 2))
    with psycopg.connect(reader_url(cluster, app_db)) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM raaf_tracing_spans")
    with open_rails(reader_url(cluster, app_db)) as source:
        assert source.inventory(TimeRange()).items == ITEMS_PER_TRACE
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # even a writer could not write
            source.handle.conn.execute("CREATE TEMP TABLE t (x int)")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys; from agent_otlp.cli import main; sys.argv[0] = 'agent-otlp'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_cli_dry_run_export_and_password_never_printed(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    fill(cluster, app_db, range(1, 4))
    env = child_env(tmp_path)
    url = reader_url(cluster, app_db)
    common = ["--from", url, "--to", "otlp", "--endpoint", otlp_receiver.endpoint]
    dry = _cli("export", *common, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"{3 * ITEMS_PER_TRACE} items (3 traces, {3 * SPANS_PER_TRACE} spans)" in dry.stdout
    assert otlp_receiver.span_count() == 0
    sent = _cli("export", *common, env=env)
    assert sent.returncode == 0, sent.stderr
    assert otlp_receiver.span_count() == 3 * ITEMS_PER_TRACE
    listed = _cli("sources", "--from", url, env=env)
    assert listed.returncode == 0 and "3 traces" in listed.stdout
    wrong = _cli("export", *common, "--from", url.replace(db.READER_PASSWORD, "nope-Wrong-1"), env=env)
    assert wrong.returncode == 2 and "cannot connect" in wrong.stderr
    by_env = _cli("sources", "--from", cluster.url(db.READER, None, app_db),
                  env={**env, "PGPASSWORD": db.READER_PASSWORD})
    assert by_env.returncode == 0 and "3 traces" in by_env.stdout
    for done in (dry, sent, listed, wrong, by_env):
        output = done.stdout + done.stderr
        assert db.READER_PASSWORD not in output and "nope-Wrong-1" not in output
    assert f"{db.READER}@127.0.0.1:{cluster.port}/{app_db}" in dry.stdout
    with open_rails(url) as source:
        assert db.READER_PASSWORD not in repr(source.handle) + source.key


def test_pgpass_gives_the_password(cluster: db.PostgresCluster, app_db: str, tmp_path: Path) -> None:
    fill(cluster, app_db, range(1, 2))
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{cluster.port}:{app_db}:{db.READER}:{db.READER_PASSWORD}\n")
    passfile.chmod(0o600)
    context = SourceContext(env={"PGPASSFILE": str(passfile)})
    with SourceManager().open(cluster.url(db.READER, None, app_db), context) as source:
        assert source.inventory(TimeRange()).traces == 1


def test_follow_sends_traces_as_they_are_written(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    fill(cluster, app_db, range(1, 2))
    job = engine(tmp_path, otlp_receiver)
    with open_rails(reader_url(cluster, app_db), settle="0") as source:
        runner = threading.Thread(target=job.from_source, args=(source,), kwargs={"follow": 0.2})
        runner.start()
        try:
            assert otlp_receiver.wait_for_spans(ITEMS_PER_TRACE, timeout=20)
            later = db.rails_trace(2, start=db.T0 + timedelta(hours=1))
            with cluster.admin(app_db) as conn, conn.transaction():
                db.insert(conn, [later])
            assert otlp_receiver.wait_for_spans(2 * ITEMS_PER_TRACE, timeout=20)
        finally:
            job.stop()
            runner.join(10)
    assert not runner.is_alive()
    assert {s.span_id for s in otlp_receiver.spans()} == expected_ids(range(1, 3))


def test_unknown_location_and_bad_url_are_usage_errors(cluster: db.PostgresCluster) -> None:
    with pytest.raises(ConfigError, match="no installed source takes it"):
        SourceManager().open("ftp://x/y", SourceContext(env={}))
    with pytest.raises(ConfigError, match="cannot connect") as refused:
        SourceManager().open(f"postgresql://nobody:hunter2-Secret@127.0.0.1:{cluster.port}/none",
                             SourceContext(env={}))
    assert "hunter2-Secret" not in str(refused.value)


def test_cli_follow_ends_cleanly_on_ctrl_c(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    fill(cluster, app_db, range(1, 3))
    code = "import sys; from agent_otlp.cli import main; sys.argv[0] = 'agent-otlp'; main()"
    args = ["export", "--from", reader_url(cluster, app_db), "--to", "otlp", "--endpoint",
            otlp_receiver.endpoint, "--follow", "--poll", "0.2", "--source-option", "settle=0"]
    child = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=child_env(tmp_path))
    try:
        arrived = otlp_receiver.wait_for_spans(2 * ITEMS_PER_TRACE, timeout=30)
        if arrived:
            fill(cluster, app_db, range(3, 4))
            arrived = otlp_receiver.wait_for_spans(3 * ITEMS_PER_TRACE, timeout=30)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert arrived, out + err
    assert child.returncode == 0, err
    assert "stopped following" in err and db.READER_PASSWORD not in out + err
    assert {s.span_id for s in otlp_receiver.spans()} == expected_ids(range(1, 4))


def test_an_open_ended_export_waits_for_traces_to_settle(cluster: db.PostgresCluster, app_db: str) -> None:
    whole = db.rails_trace(1)
    rootless = db.rails_trace(2)
    rootless.spans = rootless.spans[1:]  # its trace span not written yet: still running
    with cluster.admin(app_db) as conn, conn.transaction():
        db.insert(conn, [whole, rootless])  # both written just now
    url = reader_url(cluster, app_db)
    with open_rails(url) as source:  # settle 30 s: the rootless trace waits
        assert source.inventory(TimeRange()).traces == 1
        assert source.inventory(TimeRange(until_ns=parse_time("2025-01-01"))).traces == 2
    with open_rails(url, settle="0") as source:
        assert source.inventory(TimeRange()).traces == 2


@pytest.mark.parametrize("process_from", [None, 1], ids=["in-process", "conversion-process"])
def test_losing_the_database_mid_export_interrupts_it_resumably(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver,
    process_from: int | None,
) -> None:
    fill(cluster, app_db, range(1, 31))  # more pages than are read ahead of the first sent

    def cut(done: int, total: int) -> None:
        if done:  # after the first delivered batch, the server ends the reader's session
            with cluster.admin(app_db) as conn:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE usename = %s", (db.READER,))

    with open_rails(reader_url(cluster, app_db), fetch_rows="10") as source, \
            pytest.raises(ExportInterrupted) as stopped:
        engine(tmp_path, otlp_receiver, batch_size=10, progress=cut,
               process_from=process_from).from_source(source)
    assert "source raaf-rails failed" in stopped.value.reason
    assert db.READER_PASSWORD not in stopped.value.reason
    with open_rails(reader_url(cluster, app_db)) as source:
        result = engine(tmp_path, otlp_receiver, batch_size=10, process_from=process_from).from_source(source)
    assert result.resumed_from > 0
    assert {s.span_id for s in otlp_receiver.spans()} == expected_ids(range(1, 31))


def test_the_conversion_process_sends_what_in_process_conversion_sends(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver_factory: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fill(cluster, app_db, range(1, 9))
    caplog.set_level("DEBUG", "agent_otlp.historical")
    shapes = []
    for run, process_from in enumerate((None, 1)):
        receiver, jobs = otlp_receiver_factory(), tmp_path / str(run)
        jobs.mkdir()
        with open_rails(reader_url(cluster, app_db)) as source:
            result = engine(jobs, receiver, batch_size=5, process_from=process_from).from_source(source)
        assert (result.sent, result.failed, result.invalid) == (8 * ITEMS_PER_TRACE, 0, 0)
        assert ("conversion process" in caplog.text) == (process_from is not None)
        shapes.append({(s.span_id, s.parent_span_id, s.name, s.start_ns, s.end_ns, s.status_code,
                        json.dumps(s.attributes, sort_keys=True, default=str)) for s in receiver.spans()})
    assert shapes[0] == shapes[1] and {s[0] for s in shapes[0]} == expected_ids(range(1, 9))


def test_rows_saved_from_span_hashes_keep_durations_errors_and_servers(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    """Rows ActiveRecordProcessor saved from span hashes (whole-second times, the duration
    worked out from them; ``Span#finish``'s own in the attributes), an ``error`` attribute on a
    span whose status is ``ok``, a generation's ``llm.request.base_url``."""
    trace = db.rails_trace(1)
    spans = {span["kind"]: span for span in trace.spans}
    llm = spans["llm"]
    llm["start_time"] = llm["start_time"].replace(microsecond=0)
    llm["end_time"] = llm["start_time"] + timedelta(seconds=1)
    llm["duration_ms"] = 1000.0
    llm["span_attributes"].update({"duration_ms": 1442.0, "llm.request.base_url": "http://litellm.internal:4000/v1"})
    spans["internal"]["span_attributes"]["error"] = "connection reset"
    with cluster.admin(app_db) as conn, conn.transaction():
        db.insert(conn, [trace])
    with open_rails(reader_url(cluster, app_db)) as source:
        assert engine(tmp_path, otlp_receiver).from_source(source).sent == ITEMS_PER_TRACE
    kinds = by_kind(otlp_receiver.spans(), 1)
    generation = kinds["llm"]
    assert generation.end_ns - generation.start_ns == 1_442_000_000
    assert (generation.attributes["server.address"], generation.attributes["server.port"]) == ("litellm.internal", 4000)
    assert "openai_agents.metadata.duration_ms" not in generation.attributes
    assert (kinds["internal"].status_code, kinds["internal"].status_message) == (2, "connection reset")
