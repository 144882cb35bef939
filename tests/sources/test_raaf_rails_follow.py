"""``agent-otlp follow`` on RAAF's Rails tables against a real PostgreSQL: writers whose
transactions commit out of order, late spans, the server restarted under the follower, and
SIGTERM; every span arrives once at the in-process OTLP receiver."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import raaf_rails_db as db
from _reliability import record
from agent_otlp.following import Follower
from agent_otlp.historical import HistoricalExport, resolve_target
from agent_otlp.sources.plugins.manager import OpenedSource
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver
from follow_cli import sigterm, start_follow
from raaf_rails_db import child_env, expected_ids, open_rails, reader_url


def exporter(tmp_path: Path, receiver: OTLPReceiver) -> HistoricalExport:
    target = resolve_target("otlp", env={}, endpoint=receiver.endpoint, retry_deadline=5)
    return HistoricalExport(target, SpanStore(tmp_path / "jobs.db"))


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


@contextmanager
def following(job: HistoricalExport, source: OpenedSource) -> Iterator[Follower]:
    """A follower running in a thread; stopped, and its thread ended, on leaving."""
    follower = Follower(job, source, poll=0.1)
    runner = threading.Thread(target=follower.run, daemon=True)
    runner.start()
    try:
        yield follower
    finally:
        follower.stop()
        runner.join(10)
    assert not runner.is_alive()


def test_writers_committing_out_of_order_nothing_missed_nothing_twice(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    job = exporter(tmp_path, otlp_receiver)
    with open_rails(reader_url(cluster, app_db), settle="0") as source, \
            following(job, source) as follower:
        writers = [threading.Thread(target=write_slowly, args=(cluster, app_db, list(range(w, 41, 4)), w))
                   for w in range(1, 5)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(60)
        wanted = expected_ids(range(1, 41))
        assert otlp_receiver.wait_for_spans(len(wanted), timeout=30)
        time.sleep(1.0)  # several more looks over the same window: nothing comes twice
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
    with open_rails(reader_url(cluster, app_db), settle="0") as source, \
            following(job, source) as follower:
        write_slowly(cluster, app_db, [1, 2, 3], seed=1)
        assert otlp_receiver.wait_for_spans(len(expected_ids(range(1, 4))), timeout=30)
        cluster.restart(down_s=1.5)
        db.wait_ready(cluster)
        write_slowly(cluster, app_db, [4, 5, 6, 8], seed=2)
        wanted = expected_ids(range(1, 7)) | expected_ids(range(8, 9))
        assert otlp_receiver.wait_for_spans(len(wanted), timeout=60)
        time.sleep(0.5)
    assert follower.stats.outages >= 1
    assert db.READER_PASSWORD not in follower.stats.last_error
    assert_each_once(otlp_receiver, wanted)
    record("follow.pg_restart", fault="PostgreSQL stopped (fast) for 1.5 s under a running follower, "
           "then written to again", cases=1, outcome="the follower logged each failed look (password "
           "masked), reconnected with backoff and sent what came after; every span of the 7 traces "
           "arrived once", lost=0, method="pg_ctl stop -m fast, then start, under a Follower thread.")


def test_cli_follow_stops_cleanly_on_sigterm_and_resumes_without_repeats(
    cluster: db.PostgresCluster, app_db: str, tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    env = child_env(tmp_path)
    url = reader_url(cluster, app_db)
    child = start_follow(url, otlp_receiver, env, "--source-option", "settle=0")
    try:
        time.sleep(2.0)  # the follower starts from now: write once it is up
        write_slowly(cluster, app_db, [1, 2], seed=3)
        arrived = otlp_receiver.wait_for_spans(len(expected_ids(range(1, 3))), timeout=30)
        out, err = sigterm(child)
    finally:
        child.kill()
    assert arrived, err
    assert child.returncode == 0, err
    assert "stopped following" in out and db.READER_PASSWORD not in out + err
    write_slowly(cluster, app_db, [3], seed=4)  # written while no follower runs
    again = start_follow(url, otlp_receiver, env, "--source-option", "settle=0")
    try:
        arrived = otlp_receiver.wait_for_spans(len(expected_ids(range(1, 4))), timeout=30)
        time.sleep(1.0)
        out, err = sigterm(again)
    finally:
        again.kill()
    assert arrived and again.returncode == 0, err
    assert_each_once(otlp_receiver, expected_ids(range(1, 4)))
