"""``agent-otlp follow`` on RAAF's Rails tables against a real PostgreSQL: writers whose
transactions commit out of order, late spans, the server restarted under the follower, and
SIGTERM; every span arrives once at the in-process OTLP receiver."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import raaf_rails_db as db
from _reliability import record
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.following import Follower
from agent_otlp.historical import HistoricalExport, resolve_target
from agent_otlp.sources.plugins.manager import OpenedSource, SourceManager
from agent_otlp.sources.plugins.types import SourceContext
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver

SPANS_PER_TRACE = len(db.KINDS)
_names = itertools.count(1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[db.PostgresCluster]:
    started = db.PostgresCluster().start()
    db.wait_ready(started)
    yield started
    started.stop()


@pytest.fixture
def app_db(cluster: db.PostgresCluster) -> str:
    name = f"follow{next(_names)}"
    db.create_app_database(cluster, processor_columns=True, db=name)
    return name


def reader_url(cluster: db.PostgresCluster, name: str) -> str:
    return cluster.url(db.READER, db.READER_PASSWORD, name)


def open_rails(url: str, **options: str) -> OpenedSource:
    return SourceManager().open(url, SourceContext(env={}, options=options))


def exporter(tmp_path: Path, receiver: OTLPReceiver) -> HistoricalExport:
    target = resolve_target("otlp", env={}, endpoint=receiver.endpoint, retry_deadline=5)
    return HistoricalExport(target, SpanStore(tmp_path / "jobs.db"))


def expected_ids(indexes: range) -> set[str]:
    out = set()
    for index in indexes:
        out.add(workflow_span_id_for(db.trace_id(index)).hex())
        out.update(span_id_for(db.span_id(index, n)).hex() for n in range(1, SPANS_PER_TRACE + 1))
    return out


def fresh_trace(index: int) -> db.RailsTrace:
    return db.rails_trace(index, start=db.T0 + timedelta(days=index))


def write_slowly(cluster: db.PostgresCluster, name: str, indexes: list[int], seed: int) -> None:
    """Each trace in a transaction of its own that stays open a random while, so traces stamped
    earlier commit after traces stamped later. Every fourth trace comes in two transactions:
    its spans, then (committed first) its trace span, so some spans come after their trace."""
    rand = random.Random(seed)
    with cluster.admin(name) as conn:
        for index in indexes:
            trace = fresh_trace(index)
            if index % 4:
                with conn.transaction():
                    db.insert(conn, [trace])
                    time.sleep(rand.uniform(0, 0.8))
                continue
            root, rest = trace.spans[0], trace.spans[1:]
            with conn.transaction():
                db.insert(conn, [db.RailsTrace(trace.trace, [root])])
            time.sleep(rand.uniform(0.2, 0.6))
            late = db.RailsTrace(trace.trace, rest)
            with conn.transaction():
                db.insert_spans(conn, [late])
                time.sleep(rand.uniform(0, 0.5))


def assert_each_once(receiver: OTLPReceiver, wanted: set[str]) -> None:
    seen = Counter(s.span_id for s in receiver.spans())
    assert {k for k, n in seen.items() if n > 1} == set()
    assert set(seen) == wanted, f"missing {len(wanted - set(seen))}, unexpected {len(set(seen) - wanted)}"


def follow_in_thread(job: HistoricalExport, source: OpenedSource) -> tuple[Follower, threading.Thread]:
    follower = Follower(job, source, poll=0.1)
    runner = threading.Thread(target=follower.run, daemon=True)
    runner.start()
    return follower, runner


def test_writers_committing_out_of_order_nothing_missed_nothing_twice(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    job = exporter(tmp_path, otlp_receiver)
    with open_rails(reader_url(cluster, app_db), settle="0") as source:
        follower, runner = follow_in_thread(job, source)
        try:
            writers = [threading.Thread(target=write_slowly, args=(cluster, app_db, list(range(w, 41, 4)), w))
                       for w in range(1, 5)]
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join(60)
            wanted = expected_ids(range(1, 41))
            assert otlp_receiver.wait_for_spans(len(wanted), timeout=30)
            time.sleep(1.0)  # several more looks over the same window: nothing comes twice
        finally:
            follower.stop()
            runner.join(10)
    assert not runner.is_alive()
    assert_each_once(otlp_receiver, wanted)
    assert follower.stats.items == len(wanted)
    record("follow.out_of_order", fault="agent-otlp follow on RAAF's Rails tables (a real PostgreSQL) "
           "while 4 writers commit 40 traces in transactions held open 0-0.8 s, a quarter of them "
           "with their spans committed after their trace span", cases=len(wanted),
           outcome="every span and workflow span arrived once; without the lookback window traces "
           "were missed, without the delivered-keys table spans came twice", lost=0,
           method="Follower threads on an in-process OTLP receiver; span ids counted at the receiver.")


def test_follow_goes_on_after_postgresql_restarts(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    job = exporter(tmp_path, otlp_receiver)
    with open_rails(reader_url(cluster, app_db), settle="0") as source:
        follower, runner = follow_in_thread(job, source)
        try:
            write_slowly(cluster, app_db, [1, 2, 3], seed=1)
            assert otlp_receiver.wait_for_spans(len(expected_ids(range(1, 4))), timeout=30)
            cluster.restart(down_s=1.5)
            db.wait_ready(cluster)
            write_slowly(cluster, app_db, [4, 5, 6, 8], seed=2)
            wanted = expected_ids(range(1, 7)) | expected_ids(range(8, 9))
            assert otlp_receiver.wait_for_spans(len(wanted), timeout=60)
            time.sleep(0.5)
        finally:
            follower.stop()
            runner.join(10)
    assert not runner.is_alive()
    assert follower.stats.outages >= 1
    assert db.READER_PASSWORD not in follower.stats.last_error
    assert_each_once(otlp_receiver, wanted)
    record("follow.pg_restart", fault="PostgreSQL stopped (fast) for 1.5 s under a running follower, "
           "then written to again", cases=1, outcome="the follower logged each failed look (password "
           "masked), reconnected with backoff and sent what came after; every span of the 7 traces "
           "arrived once", lost=0, method="pg_ctl stop -m fast, then start, under a Follower thread.")


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTLP_", "PG"))}
    return {**env, "XDG_DATA_HOME": str(tmp_path / "data"), "COLUMNS": "200"}


def _follow_cli(url: str, receiver: OTLPReceiver, env: dict[str, str]) -> subprocess.Popen[str]:
    code = "import sys; from agent_otlp.cli import main; sys.argv[0] = 'agent-otlp'; main()"
    args = ["follow", "--from", url, "--to", "otlp", "--endpoint", receiver.endpoint,
            "--poll", "0.2", "--source-option", "settle=0"]
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_cli_follow_stops_cleanly_on_sigterm_and_resumes_without_repeats(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    env = _clean_env(tmp_path)
    url = reader_url(cluster, app_db)
    child = _follow_cli(url, otlp_receiver, env)
    try:
        time.sleep(2.0)  # the follower starts from now: write once it is up
        write_slowly(cluster, app_db, [1, 2], seed=3)
        arrived = otlp_receiver.wait_for_spans(len(expected_ids(range(1, 3))), timeout=30)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert arrived, err
    assert child.returncode == 0, err
    assert "stopped following" in out and db.READER_PASSWORD not in out + err
    write_slowly(cluster, app_db, [3], seed=4)  # written while no follower runs
    again = _follow_cli(url, otlp_receiver, env)
    try:
        arrived = otlp_receiver.wait_for_spans(len(expected_ids(range(1, 4))), timeout=30)
        time.sleep(1.0)
        again.send_signal(signal.SIGTERM)
        out, err = again.communicate(timeout=30)
    finally:
        again.kill()
    assert arrived and again.returncode == 0, err
    assert_each_once(otlp_receiver, expected_ids(range(1, 4)))
