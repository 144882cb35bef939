"""Fixtures for integration tests against real tracing backends.

Everything under ``integration/`` is marked ``integration`` automatically
(select with ``-m integration``, deselect with ``-m "not integration"``).

Session-scoped fixtures (one backend per test session, shared by all tests):

``jaeger`` -> :class:`integration.harness.NativeJaeger`
    Jaeger v2 built from source (``integration/backends/jaeger``), in-memory
    storage. Attributes/methods:

    * ``jaeger.otlp_http``  - ``"http://127.0.0.1:<port>"`` (OTLP/HTTP base URL;
      ``jaeger.otlp_http_traces`` is the ``/v1/traces`` URL)
    * ``jaeger.otlp_grpc``  - ``"127.0.0.1:<port>"`` (OTLP/gRPC, plaintext)
    * ``jaeger.query_url``  - ``"http://127.0.0.1:<port>"`` (UI and ``/api/v3``)
    * ``jaeger.query``      - :class:`integration.harness.JaegerQuery`:
      ``get_trace(trace_id, timeout=15.0, min_spans=1) -> list[span dict]``
      (polls until present, raises ``TimeoutError``), ``fetch_trace(trace_id, raw=False)``
      (one try, ``None`` if unknown), ``span_counts(trace_ids) -> {hex_id: n}``,
      ``count_spans(trace_ids, expected=None, timeout=0.0) -> int``, ``services()``
    * ``jaeger.stop()`` / ``jaeger.start()`` / ``jaeger.restart(downtime=0.0)`` -
      same ports after coming back (for outage/recovery tests; memory storage is
      lost, see ``jaeger_badger``).
      A test that stops the backend must start it again before it ends.
    * ``jaeger.logs() -> str``

``otel_collector`` -> :class:`integration.harness.NativeCollector`
    A minimal OpenTelemetry Collector built from source
    (``integration/backends/otelcol``): OTLP gRPC + HTTP receivers with
    ``include_metadata``, an attributes processor copying request headers into
    span attributes ``http.request.header.<name>`` for x-scope-orgid,
    x-honeycomb-team, x-honeycomb-dataset, authorization, content-encoding
    and user-agent (``integration.configs.header_attribute(name)``
    gives the key), and a file exporter writing OTLP JSON lines.

    * ``otel_collector.otlp_http`` / ``.otlp_grpc`` / ``.otlp_http_traces`` as above
    * ``otel_collector.read_spans() -> list[span dict]`` - everything exported so far
    * ``otel_collector.wait_for_spans(n_or_predicate=1, timeout=15.0)``
    * ``otel_collector.clear()`` - forget spans received so far
    * ``stop()`` / ``start()`` / ``restart(downtime)`` / ``logs()`` as above

``collector_spans`` (function scope) - ``otel_collector`` after ``clear()``, so a
    test only sees its own spans.

``jaeger_badger`` (function scope) -> a fresh :class:`integration.harness.NativeJaeger`
    (``ContainerJaeger`` in container mode) with badger storage in its temp dir:
    traces survive ``stop()``/``start()``, for outage/recovery tests. Slower to
    start than the session ``jaeger``; use it only where a restart must keep data.

``otelcol_binary`` / ``jaeger_binary`` -> the built binary's :class:`pathlib.Path`, for
    tests that run it themselves (``validate``; the fleet's Collector tiers).

``sdk_processors`` (function scope, from ``agent_otlp.testing.pytest_plugin``) - clears
    the OpenAI Agents SDK's trace processors for the test and restores them afterwards.

``phoenix`` -> :class:`integration.phoenix_server.NativePhoenix`
    Arize Phoenix (``phoenix serve``) from its own pinned virtual environment
    (``integration/backends/build.py phoenix``), SQLite in its temp dir, telemetry off.
    ``phoenix.otlp_http`` (UI port: ``/v1/traces``), ``phoenix.otlp_grpc``,
    ``phoenix.query.wait_for_trace(project, trace_id, count)`` reads spans back through
    ``GET /v1/projects/{project}/spans``.

``langfuse_collector`` (function scope) - a private collector like ``otel_collector`` whose
    OTLP/HTTP receiver takes traces on Langfuse's path ``/api/public/otel/v1/traces`` only.

``tempo`` -> :class:`integration.harness.ContainerTempo`
    Grafana Tempo in a container; skipped (also in CI) when no Docker engine
    answers. ``tempo.query()`` returns a :class:`integration.harness.TempoQuery`.

A span dict (see ``integration/otlp_json.py``) has keys ``trace_id``,
``span_id``, ``parent_span_id`` (lower hex, ``""`` for roots), ``name``,
``kind`` (``"INTERNAL"``, ``"SERVER"``, ...), ``status_code`` (``"UNSET"``,
``"OK"``, ``"ERROR"``), ``status_message``, ``start_time_unix_nano``,
``end_time_unix_nano``, ``attributes`` (dict), ``dropped_attributes_count``, ``resource`` (dict),
``scope_name``, ``scope_version``, ``events`` (list of ``{"name",
"time_unix_nano", "attributes"}``) and ``links``.

Backend selection: ``AGENT_OTLP_BACKENDS=native`` (default) builds and runs the
Go binaries; ``AGENT_OTLP_BACKENDS=container`` uses the Docker images instead
(``ContainerJaeger``/``ContainerCollector``) when a Docker engine answers.

Availability rules: with ``CI=true`` the native backends must work - a missing
Go toolchain or a failed build fails the session with the reason. Elsewhere a
backend that cannot be provided skips the tests that need it, with a one-line
reason. When a test fails, the logs of the backends it used are attached to
its report.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.backends.build import BuildError, binary_path, ensure_built
from integration.harness import (
    Backend,
    BackendError,
    ContainerCollector,
    ContainerJaeger,
    ContainerTempo,
    NativeCollector,
    NativeJaeger,
    docker_available,
)
from integration.phoenix_server import NativePhoenix

_HERE = Path(__file__).resolve().parent
_LOG_TAIL_CHARS = 20_000


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _mode() -> str:
    return os.environ.get("AGENT_OTLP_BACKENDS", "native").strip().lower()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


# backend build name -> fixtures that need its binary
_BUILD_NEEDS = {
    "jaeger": {"jaeger", "jaeger_badger", "jaeger_binary"},
    "otelcol": {"otel_collector", "collector_spans", "langfuse_collector", "otelcol_binary"},
    "phoenix": {"phoenix"},
}
_build_errors: dict[str, str] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the native binaries the selected tests need, before any test runs.

    Done here rather than in the fixtures so a cold build (minutes) does not
    count against a test's timeout. Failures are reported by the fixtures.
    """
    if _mode() == "container" or session.config.option.collectonly:
        return
    wanted: set[str] = set()
    for item in session.items:
        names = set(getattr(item, "fixturenames", ()))
        wanted.update(b for b, fixtures in _BUILD_NEEDS.items() if names & fixtures)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for name in sorted(wanted):
        if reporter is not None and not binary_path(name).exists():
            reporter.write_line(f"building integration backend {name} (a cold build takes minutes)")
        try:
            path = ensure_built(name, log=False)
        except BuildError as exc:
            _build_errors[name] = str(exc)
            continue
        if reporter is not None:
            reporter.write_line(f"integration backend {name}: {path}")


def _unavailable(what: str, reason: str) -> None:
    """Fail (in CI) or skip (elsewhere) because backend ``what`` cannot be provided."""
    lines = [line.strip() for line in reason.strip().splitlines() if line.strip()]
    summary = lines[0].rstrip(":;") if lines else "unknown reason"
    if len(lines) > 1:
        summary += f" | {lines[-1]}"
    if _in_ci():
        pytest.fail(f"{what} backend unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"{what} backend unavailable: {summary[:400]}")


def _start(what: str, backend: Backend) -> Backend:
    try:
        return backend.start()
    except (BuildError, BackendError) as exc:
        backend.close()
        _unavailable(what, str(exc))
        raise  # unreachable: _unavailable raises


# fixture name -> running session backend, for attaching logs to failed reports
_active: dict[str, Backend] = {}


def _provide(
    fixture: str, build: str, container: Callable[[], Backend], native: Callable[[], Backend]
) -> Iterator[Any]:
    """Start the backend (container or native, by mode), register its logs, stop it after."""
    if _mode() == "container":
        ok, reason = docker_available()
        if not ok:
            _unavailable(f"{build} container", reason)
        backend = container()
    else:
        if build in _build_errors:
            _unavailable(build, _build_errors[build])
        backend = native()
    _start(build, backend)
    _active[fixture] = backend
    yield backend
    _active.pop(fixture, None)
    backend.close()


@pytest.fixture(scope="session")
def jaeger() -> Iterator[Any]:
    yield from _provide("jaeger", "jaeger", ContainerJaeger, NativeJaeger)


@pytest.fixture
def jaeger_badger() -> Iterator[Any]:
    """A private Jaeger whose badger storage survives restarts."""
    yield from _provide(
        "jaeger_badger",
        "jaeger",
        lambda: ContainerJaeger(storage="badger"),
        lambda: NativeJaeger(storage="badger"),
    )


@pytest.fixture(scope="session")
def otelcol_binary() -> Path:
    """The built Collector's binary (``integration/backends/otelcol``), for tests that run
    it themselves (``validate``, the fleet's tiers)."""
    return _built_binary("otelcol")


@pytest.fixture(scope="session")
def jaeger_binary() -> Path:
    """The built Jaeger binary, for tests that run it themselves (``validate``)."""
    return _built_binary("jaeger")


def _built_binary(name: str) -> Path:
    if name in _build_errors:
        _unavailable(name, _build_errors[name])
    try:
        return ensure_built(name, log=False)
    except BuildError as exc:
        _unavailable(name, str(exc))
        raise  # unreachable: _unavailable raises


@pytest.fixture(scope="session")
def otel_collector() -> Iterator[Any]:
    yield from _provide("otel_collector", "otelcol", ContainerCollector, NativeCollector)


@pytest.fixture
def collector_spans(otel_collector: Any) -> Any:
    """The session collector with earlier spans cleared."""
    if not otel_collector.running:
        otel_collector.start()
    otel_collector.clear()
    return otel_collector


@pytest.fixture(scope="session")
def phoenix() -> Iterator[Any]:
    """Arize Phoenix from its own virtual environment (no container image is used)."""
    if _mode() == "container":
        pytest.skip("phoenix runs natively only (its pinned venv)")
    if "phoenix" in _build_errors:
        _unavailable("phoenix", _build_errors["phoenix"])
    backend = NativePhoenix()
    _start("phoenix", backend)
    _active["phoenix"] = backend
    yield backend
    _active.pop("phoenix", None)
    backend.close()


@pytest.fixture
def langfuse_collector() -> Iterator[Any]:
    """A private Collector whose OTLP/HTTP receiver takes traces on Langfuse's path."""
    if "otelcol" in _build_errors:
        _unavailable("otelcol", _build_errors["otelcol"])
    backend = NativeCollector(traces_url_path="/api/public/otel/v1/traces")
    _start("otelcol", backend)
    _active["langfuse_collector"] = backend
    yield backend
    _active.pop("langfuse_collector", None)
    backend.close()


@pytest.fixture(scope="session")
def tempo() -> Iterator[ContainerTempo]:
    ok, reason = docker_available()
    if not ok:
        # Tempo is container-only (never built here): skip even in CI.
        pytest.skip(f"tempo needs a Docker engine: {reason}")
    backend = ContainerTempo()
    try:
        backend.start()
    except BackendError as exc:
        backend.close()
        _unavailable("tempo", str(exc))
    _active["tempo"] = backend
    yield backend
    _active.pop("tempo", None)
    backend.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed:
        return
    # fixturenames is the transitive closure, so fixtures built on top of
    # ``jaeger``/``otel_collector`` also get the backend logs attached.
    names = set(getattr(item, "fixturenames", ()))
    used = [b for name, b in _active.items() if name in names]
    for backend in used:
        text = backend.logs()
        if len(text) > _LOG_TAIL_CHARS:
            text = "...\n" + text[-_LOG_TAIL_CHARS:]
        report.sections.append((f"{backend.name} ({backend.kind}) log", text))
