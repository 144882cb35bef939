"""10,000 spans a RAAF application on Rails kept in PostgreSQL, exported historically by the
raaf-rails source into a real Jaeger and read back, every trace whole, from Jaeger's query API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import raaf_rails_db as db
from agent_otlp.core.convert.ids import span_id_for, trace_id_for, workflow_span_id_for
from agent_otlp.historical import HistoricalExport, resolve_target
from agent_otlp.sources.plugins.manager import SourceManager
from agent_otlp.sources.plugins.types import SourceContext, TimeRange
from agent_otlp.store.sqlite import SpanStore

SPANS_PER_TRACE = len(db.KINDS)  # 16 spans and the workflow span
TRACES = 10_000 // SPANS_PER_TRACE  # 625 traces: 10,000 spans


@pytest.fixture(scope="module")
def rails_db() -> Iterator[str]:
    """A reader's URL of a database holding TRACES traces as ActiveRecordProcessor writes them."""
    cluster = db.PostgresCluster().start()
    try:
        db.wait_ready(cluster)
        db.create_app_database(cluster, processor_columns=True, db="app")
        with cluster.admin("app") as conn, conn.transaction():
            db.insert(conn, [db.rails_trace(i) for i in range(1, TRACES + 1)])
        yield cluster.url(db.READER, db.READER_PASSWORD, "app")
    finally:
        cluster.stop()


def test_ten_thousand_rails_spans_read_back_whole_from_jaeger(
    rails_db: str, jaeger: Any, tmp_path: Path
) -> None:
    target = resolve_target("jaeger", env={}, endpoint=jaeger.otlp_http)
    engine = HistoricalExport(target, SpanStore(tmp_path / "jobs.db"))
    try:
        with SourceManager().open(rails_db, SourceContext(env={})) as source:
            assert source.inventory(TimeRange()).spans == 10_000
            result = engine.from_source(source)
    finally:
        engine.close()
    assert (result.sent, result.failed, result.invalid) == (10_000 + TRACES, 0, 0)
    assert result.batches == -(-(10_000 + TRACES) // 100)
    for index in range(1, TRACES + 1):
        workflow = workflow_span_id_for(db.trace_id(index)).hex()
        spans = jaeger.query.get_trace(trace_id_for(db.trace_id(index)).hex(), timeout=30,
                                       min_spans=SPANS_PER_TRACE + 1)
        by_id = {s["span_id"]: s for s in spans}
        assert len(by_id) == len(spans) == SPANS_PER_TRACE + 1, index
        wanted = {workflow} | {span_id_for(db.span_id(index, n)).hex() for n in range(1, SPANS_PER_TRACE + 1)}
        assert set(by_id) == wanted, index
        assert by_id[workflow]["parent_span_id"] == ""
        for sid, span in by_id.items():  # one tree: every parent is in the trace
            assert sid == workflow or span["parent_span_id"] in wanted, (index, span["name"])
