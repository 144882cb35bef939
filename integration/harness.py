"""Real tracing backends for integration tests.

One interface, :class:`Backend`, with two families of implementations:

* native processes built from pinned Go modules by ``integration/backends/build.py``:
  :class:`NativeJaeger` (Jaeger v2, in-memory or badger storage) and :class:`NativeCollector`
  (a minimal OpenTelemetry Collector writing spans to a JSON-lines file);
* containers via testcontainers, used only when a Docker engine answers:
  :class:`ContainerJaeger`, :class:`ContainerCollector`, :class:`ContainerTempo`.

Every backend listens on ``127.0.0.1`` only. Ports are picked once, on the
first :meth:`Backend.start`, and kept for the backend's lifetime: ``stop()``
followed by ``start()`` (or ``restart()``) comes back on the same ports, so an
exporter configured with the old endpoint reconnects after an outage.

Readers: :class:`JaegerQuery` (Jaeger ``/api/v3``), :class:`TempoQuery` and
:meth:`NativeCollector.read_spans`; all return spans flattened by
:mod:`integration.otlp_json`.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from integration import configs
from integration.backends import build as _build
from integration.otlp_json import flatten_traces

LOOPBACK = "127.0.0.1"
START_TIMEOUT = float(os.environ.get("AGENT_OTLP_BACKEND_START_TIMEOUT", "60"))

JAEGER_IMAGE = os.environ.get("AGENT_OTLP_JAEGER_IMAGE", "jaegertracing/jaeger:2.13.0")
COLLECTOR_IMAGE = os.environ.get(
    "AGENT_OTLP_COLLECTOR_IMAGE", "otel/opentelemetry-collector-contrib:0.140.0"
)
TEMPO_IMAGE = os.environ.get("AGENT_OTLP_TEMPO_IMAGE", "grafana/tempo:2.8.1")


class BackendError(RuntimeError):
    """A backend failed to start or answer; the message carries the tail of its log."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now (bind to port 0, read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        return requests.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def normalize_trace_id(trace_id: int | str) -> str:
    """Trace id as 32 lower-case hex characters."""
    if isinstance(trace_id, int):
        return format(trace_id, "032x")
    return trace_id.lower().removeprefix("0x").rjust(32, "0")


# ---------------------------------------------------------------------------
# Interface


class Backend(abc.ABC):
    """A running (or runnable) tracing backend.

    Attributes available after :meth:`start`:

    * ``otlp_http`` - OTLP/HTTP base URL, e.g. ``http://127.0.0.1:43181``
      (traces go to ``otlp_http + "/v1/traces"``, see :attr:`otlp_http_traces`);
    * ``otlp_grpc`` - OTLP/gRPC ``host:port``, e.g. ``127.0.0.1:43171`` (plaintext);
    * ``query_url`` - base URL of the backend's query API, or ``None``.
    """

    name: str = "backend"
    kind: str = "native"  # or "container"

    def __init__(self) -> None:
        self.otlp_http: str = ""
        self.otlp_grpc: str = ""
        self.query_url: str | None = None
        self._started = False

    @property
    def otlp_http_traces(self) -> str:
        """Full OTLP/HTTP traces URL (``.../v1/traces``)."""
        return self.otlp_http + "/v1/traces"

    @property
    def running(self) -> bool:
        return self._started

    @abc.abstractmethod
    def start(self) -> Backend:
        """Start and wait until ready; return ``self``. Raises :class:`BackendError`."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop; idempotent. A later :meth:`start` reuses the same ports."""

    @abc.abstractmethod
    def logs(self) -> str:
        """Everything the backend logged so far (across restarts)."""

    def restart(self, downtime: float = 0.0) -> None:
        """Stop, stay down for ``downtime`` seconds, start again on the same ports."""
        self.stop()
        if downtime > 0:
            time.sleep(downtime)
        self.start()

    def close(self) -> None:
        """Stop and release everything (temp files, containers)."""
        self.stop()

    def __enter__(self) -> Backend:
        if not self._started:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} otlp_http={self.otlp_http!r} otlp_grpc={self.otlp_grpc!r} "
            f"query_url={self.query_url!r} running={self._started}>"
        )


# ---------------------------------------------------------------------------
# Native processes

_live_processes: set[subprocess.Popen[bytes]] = set()

# The backends' own tracing is off: Jaeger traces its query service to
# localhost:4317 by default, and a graceful stop then waits 10 s for that export.
_BACKEND_ENV = {"OTEL_TRACES_SAMPLER": "always_off"}


@atexit.register
def _kill_leftovers() -> None:
    """Never leave a backend running when the interpreter exits without close()."""
    for proc in list(_live_processes):
        if proc.poll() is None:
            proc.kill()


class NativeBackend(Backend):
    """A backend binary run as a child process with a generated config file."""

    kind = "native"
    port_names: tuple[str, ...] = ()

    def __init__(self, binary: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self._binary = Path(binary) if binary else None
        self._workdir = Path(tempfile.mkdtemp(prefix=f"agent-otlp-{self.name}-"))
        self._log_path = self._workdir / "backend.log"
        self._config_path = self._workdir / "config.yaml"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh: Any = None
        self.ports: dict[str, int] = {}
        self._ports_fixed = False
        self._runs = 0

    # -- hooks -------------------------------------------------------------
    @abc.abstractmethod
    def _config(self) -> str: ...

    @abc.abstractmethod
    def _is_ready(self) -> bool: ...

    def _set_endpoints(self) -> None:
        self.otlp_http = f"http://{LOOPBACK}:{self.ports['otlp_http']}"
        self.otlp_grpc = f"{LOOPBACK}:{self.ports['otlp_grpc']}"

    #: Seconds :meth:`start` waits for readiness (a Python server starts slower).
    start_timeout: float = START_TIMEOUT

    def _command(self) -> list[str]:
        """The command line that runs the backend (its binary with the config file)."""
        return [str(self.binary), "--config", str(self._config_path)]

    def _environment(self) -> dict[str, str]:
        """Variables added to the backend's environment."""
        return dict(_BACKEND_ENV)

    # -- lifecycle ---------------------------------------------------------
    @property
    def binary(self) -> Path:
        if self._binary is None:
            self._binary = _build.ensure_built(self.build_name)
        return self._binary

    build_name: str = ""

    @property
    def workdir(self) -> Path:
        return self._workdir

    def start(self) -> NativeBackend:
        if self._started:
            return self
        attempts = 1 if self._ports_fixed else 3
        last: BackendError | None = None
        for _ in range(attempts):
            if not self._ports_fixed:
                self.ports = dict(
                    zip(self.port_names, _free_ports(len(self.port_names)), strict=True)
                )
            self._set_endpoints()
            try:
                self._launch()
            except BackendError as exc:
                last = exc
                if "address already in use" not in str(exc).lower():
                    break
                continue
            self._ports_fixed = True
            self._started = True
            return self
        assert last is not None
        raise last

    def _launch(self) -> None:
        self._config_path.write_text(self._config())
        self._runs += 1
        self._log_fh = open(self._log_path, "ab")  # noqa: SIM115 - closed in _terminate
        self._log_fh.write(f"\n=== {self.name} run {self._runs} ===\n".encode())
        self._log_fh.flush()
        self._proc = subprocess.Popen(
            self._command(),
            cwd=self._workdir,
            env={**os.environ, **self._environment()},
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _live_processes.add(self._proc)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._terminate()
                raise BackendError(
                    f"{self.name} exited with code {code} during startup; log tail:\n"
                    f"{_tail(self.logs())}"
                )
            if self._is_ready():
                return
            time.sleep(0.1)
        self._terminate()
        raise BackendError(
            f"{self.name} not ready after {self.start_timeout:.0f}s; log tail:\n{_tail(self.logs())}"
        )

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _live_processes.discard(proc)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def stop(self) -> None:
        self._terminate()
        self._started = False

    def kill(self) -> None:
        """Crash the process (SIGKILL) instead of a graceful stop."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self.stop()

    def close(self) -> None:
        self.stop()
        keep = os.environ.get("AGENT_OTLP_KEEP_BACKEND_FILES")
        if not keep:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def logs(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None


class _JaegerApi:
    """Readiness and the query API of Jaeger (both Jaeger backends)."""

    ports: dict[str, int]
    query_url: str | None

    def _is_ready(self) -> bool:
        return _http_ok(f"http://{LOOPBACK}:{self.ports['health']}/status") and _http_ok(
            f"{self.query_url}/api/v3/services"
        )

    @property
    def query(self) -> JaegerQuery:
        assert self.query_url, "start() the backend first"
        return JaegerQuery(self.query_url)


class NativeJaeger(_JaegerApi, NativeBackend):
    """Jaeger v2 (all-in-one style) with the query API.

    ``query_url`` is the query HTTP base (UI and ``/api/v3``); :attr:`query` is a
    ready :class:`JaegerQuery`. ``storage="memory"`` (default) is lost on restart;
    ``storage="badger"`` keeps traces on disk in the backend's temp dir, across
    ``stop()``/``start()``.
    """

    name = "jaeger"
    build_name = "jaeger"
    port_names = ("otlp_grpc", "otlp_http", "query_http", "query_grpc", "health")

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        *,
        max_traces: int = 100_000,
        storage: str = "memory",
    ) -> None:
        super().__init__(binary)
        self.max_traces = max_traces
        self.storage = storage

    def _set_endpoints(self) -> None:
        super()._set_endpoints()
        self.query_url = f"http://{LOOPBACK}:{self.ports['query_http']}"

    def _config(self) -> str:
        return configs.jaeger_config(
            host=LOOPBACK,
            otlp_grpc_port=self.ports["otlp_grpc"],
            otlp_http_port=self.ports["otlp_http"],
            query_http_port=self.ports["query_http"],
            query_grpc_port=self.ports["query_grpc"],
            health_port=self.ports["health"],
            max_traces=self.max_traces,
            storage=self.storage,
            badger_dir=str(self._workdir / "badger"),
        )


class _SpanFile:
    """Reading a collector's file exporter output (both collector backends)."""

    name: str
    output_path: Path
    _skip_lines: int

    def read_spans(self) -> list[dict[str, Any]]:
        return _read_span_file(self.output_path, self._skip_lines)

    def wait_for_spans(
        self,
        predicate: Callable[[list[dict[str, Any]]], bool] | int = 1,
        timeout: float = 15.0,
    ) -> list[dict[str, Any]]:
        return _wait_for_spans(self.read_spans, predicate, timeout, self.name)

    def clear(self) -> None:
        """Forget spans received so far (later reads only see newer ones)."""
        self._skip_lines = _count_lines(self.output_path)


class NativeCollector(_SpanFile, NativeBackend):
    """Minimal OpenTelemetry Collector that records received spans to a file.

    Request headers listed in :data:`integration.configs.FORWARDED_HEADERS`
    arrive as span attributes named ``http.request.header.<header>`` (see
    :func:`integration.configs.header_attribute`). :meth:`read_spans` returns
    everything exported so far; :meth:`clear` forgets it.
    """

    name = "otelcol"
    build_name = "otelcol"
    port_names = ("otlp_grpc", "otlp_http", "health")

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        *,
        headers: tuple[str, ...] = configs.FORWARDED_HEADERS,
        traces_url_path: str = "/v1/traces",
    ) -> None:
        super().__init__(binary)
        self.headers = headers
        self.traces_url_path = traces_url_path
        self.output_path = self._workdir / "spans.jsonl"
        self._skip_lines = 0

    @property
    def otlp_http_traces(self) -> str:
        return self.otlp_http + self.traces_url_path

    def _config(self) -> str:
        return configs.collector_config(
            output_path=str(self.output_path),
            host=LOOPBACK,
            otlp_grpc_port=self.ports["otlp_grpc"],
            otlp_http_port=self.ports["otlp_http"],
            health_port=self.ports["health"],
            headers=self.headers,
            traces_url_path=self.traces_url_path,
        )

    def _is_ready(self) -> bool:
        return _http_ok(f"http://{LOOPBACK}:{self.ports['health']}/status")



def _count_lines(path: Path) -> int:
    """Lines :func:`_read_span_file` would read now (for :meth:`clear`).

    The file exporter may have written a complete JSON document whose newline is
    still buffered; :func:`_read_span_file` already returns its spans, so it counts
    here too (its line index does not change when the newline follows).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    lines = data.split(b"\n")
    count = len(lines) - 1
    tail = lines[-1]
    if tail.strip():
        try:
            json.loads(tail)
        except json.JSONDecodeError:
            pass  # still being written: not read yet, not skipped
        else:
            count += 1
    return count


def _read_span_file(path: Path, skip_lines: int = 0) -> list[dict[str, Any]]:
    """Parse a file-exporter JSON-lines file; a partly written last line is ignored."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    spans: list[dict[str, Any]] = []
    for i, line in enumerate(data.split(b"\n")):
        if i < skip_lines or not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue  # still being written
        spans.extend(flatten_traces(doc))
    return spans


def _wait_for_spans(
    read: Callable[[], list[dict[str, Any]]],
    predicate: Callable[[list[dict[str, Any]]], bool] | int,
    timeout: float,
    what: str,
) -> list[dict[str, Any]]:
    check: Callable[[list[dict[str, Any]]], bool]
    if isinstance(predicate, int):
        count = predicate

        def check(spans: list[dict[str, Any]]) -> bool:
            return len(spans) >= count

    else:
        check = predicate
    deadline = time.monotonic() + timeout
    spans = read()
    while not check(spans):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: condition not met after {timeout}s ({len(spans)} spans)")
        time.sleep(0.1)
        spans = read()
    return spans


# ---------------------------------------------------------------------------
# Query clients


class JaegerQuery:
    """Client for the Jaeger query HTTP API v3 (``/api/v3``)."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()

    def fetch_trace(self, trace_id: int | str, *, raw: bool = False) -> list[dict[str, Any]] | None:
        """The trace's spans now, or ``None`` if Jaeger does not know the trace (yet).

        ``raw=True`` asks for the trace as stored (``raw_traces=true``): without the
        query service's adjusters, which among other things drop repeated span ids.
        """
        url = f"{self.base_url}/api/v3/traces/{normalize_trace_id(trace_id)}"
        params = {"raw_traces": "true"} if raw else None
        resp = self.session.get(url, params=params, timeout=5)
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        spans = flatten_traces(resp.json())
        return spans or None

    def get_trace(
        self,
        trace_id: int | str,
        timeout: float = 15.0,
        *,
        min_spans: int = 1,
        poll_interval: float = 0.2,
    ) -> list[dict[str, Any]]:
        """Poll until the trace has at least ``min_spans`` spans; return them.

        Raises :class:`TimeoutError` if it does not within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        spans: list[dict[str, Any]] | None = None
        while True:
            with contextlib.suppress(requests.RequestException):
                spans = self.fetch_trace(trace_id)
            if spans is not None and len(spans) >= min_spans:
                return spans
            if time.monotonic() > deadline:
                got = len(spans) if spans else 0
                raise TimeoutError(
                    f"trace {normalize_trace_id(trace_id)}: {got} span(s) in Jaeger after "
                    f"{timeout}s, wanted >= {min_spans}"
                )
            time.sleep(poll_interval)

    def span_counts(self, trace_ids: Iterable[int | str]) -> dict[str, int]:
        """Number of spans Jaeger holds right now for each trace id (0 if unknown)."""
        counts: dict[str, int] = {}
        for tid in trace_ids:
            spans = self.fetch_trace(tid)
            counts[normalize_trace_id(tid)] = len(spans) if spans else 0
        return counts

    def count_spans(
        self, trace_ids: Iterable[int | str], *, expected: int | None = None, timeout: float = 0.0
    ) -> int:
        """Total spans over ``trace_ids``; with ``expected``, poll up to ``timeout`` for it."""
        ids = list(trace_ids)
        deadline = time.monotonic() + timeout
        while True:
            total = sum(self.span_counts(ids).values())
            if expected is None or total >= expected or time.monotonic() > deadline:
                return total
            time.sleep(0.2)

    def services(self) -> list[str]:
        resp = self.session.get(f"{self.base_url}/api/v3/services", timeout=5)
        resp.raise_for_status()
        return list(resp.json().get("services") or [])


class TempoQuery:
    """Client for Tempo's trace-by-id API. ``tenant`` sets ``X-Scope-OrgID``."""

    def __init__(self, base_url: str, tenant: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.tenant = tenant
        self.session = requests.Session()

    def fetch_trace(self, trace_id: int | str) -> list[dict[str, Any]] | None:
        headers = {"Accept": "application/json"}
        if self.tenant:
            headers["X-Scope-OrgID"] = self.tenant
        url = f"{self.base_url}/api/traces/{normalize_trace_id(trace_id)}"
        resp = self.session.get(url, headers=headers, timeout=5)
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        return flatten_traces(resp.json()) or None

    def get_trace(
        self, trace_id: int | str, timeout: float = 30.0, *, min_spans: int = 1
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        spans: list[dict[str, Any]] | None = None
        while True:
            with contextlib.suppress(requests.RequestException):
                spans = self.fetch_trace(trace_id)
            if spans is not None and len(spans) >= min_spans:
                return spans
            if time.monotonic() > deadline:
                raise TimeoutError(f"trace {normalize_trace_id(trace_id)} not in Tempo")
            time.sleep(0.5)


# ---------------------------------------------------------------------------
# Containers (only when a Docker engine answers)

_docker_state: tuple[bool, str] | None = None


def docker_available() -> tuple[bool, str]:
    """``(True, "")`` when a Docker engine answers, else ``(False, reason)``; cached."""
    global _docker_state
    if _docker_state is None:
        try:
            import docker  # provided by testcontainers

            client = docker.from_env(timeout=5)
            client.ping()
            client.close()
            _docker_state = (True, "")
        except ImportError:
            _docker_state = (False, "testcontainers/docker Python packages not installed")
        except Exception as exc:
            _docker_state = (False, f"no Docker engine answers ({type(exc).__name__})")
    return _docker_state


class ContainerBackend(Backend):
    """A backend in a container with host ports bound to 127.0.0.1 (kept across restarts)."""

    kind = "container"
    image: str = ""
    # container port -> name
    container_ports: dict[int, str] = {}

    def __init__(self, image: str | None = None) -> None:
        super().__init__()
        if image:
            self.image = image
        self._workdir = Path(tempfile.mkdtemp(prefix=f"agent-otlp-{self.name}-ctr-"))
        self._workdir.chmod(0o777)  # images run as an unprivileged user
        self._container: Any = None
        self._old_logs: list[str] = []
        self.ports: dict[str, int] = {}

    @abc.abstractmethod
    def _prepare(self, container: Any) -> Any:
        """Add volumes / command to the testcontainers ``DockerContainer``."""

    @abc.abstractmethod
    def _is_ready(self) -> bool: ...

    def _set_endpoints(self) -> None:
        self.otlp_http = f"http://{LOOPBACK}:{self.ports['otlp_http']}"
        self.otlp_grpc = f"{LOOPBACK}:{self.ports['otlp_grpc']}"

    def start(self) -> ContainerBackend:
        if self._started:
            return self
        ok, reason = docker_available()
        if not ok:
            raise BackendError(reason)
        from testcontainers.core.container import DockerContainer

        if not self.ports:
            names = list(self.container_ports.values())
            self.ports = dict(zip(names, _free_ports(len(names)), strict=True))
        self._set_endpoints()
        container = DockerContainer(self.image)
        for cport, pname in self.container_ports.items():
            # docker-py accepts (host_ip, host_port): publish on loopback only.
            container.ports[f"{cport}/tcp"] = (LOOPBACK, self.ports[pname])
        container = self._prepare(container)
        container.start()
        self._container = container
        deadline = time.monotonic() + max(START_TIMEOUT, 90)
        while time.monotonic() < deadline:
            if self._is_ready():
                self._started = True
                return self
            time.sleep(0.5)
        logs = self.logs()
        self.stop()
        raise BackendError(f"{self.name} container not ready; log tail:\n{_tail(logs)}")

    def stop(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            self._old_logs.append(self._container_logs(container))
            with contextlib.suppress(Exception):
                container.stop()
        self._started = False

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)

    @staticmethod
    def _container_logs(container: Any) -> str:
        try:
            out, err = container.get_logs()
        except Exception as exc:
            return f"<logs unavailable: {exc}>"
        return (out or b"").decode(errors="replace") + (err or b"").decode(errors="replace")

    def logs(self) -> str:
        parts = list(self._old_logs)
        if self._container is not None:
            parts.append(self._container_logs(self._container))
        return "\n".join(parts)


class ContainerJaeger(_JaegerApi, ContainerBackend):
    """Jaeger v2 image with the same generated config as :class:`NativeJaeger`."""

    name = "jaeger"
    image = JAEGER_IMAGE
    container_ports = {4317: "otlp_grpc", 4318: "otlp_http", 16686: "query_http", 13133: "health"}

    def __init__(self, image: str | None = None, *, storage: str = "memory") -> None:
        super().__init__(image)
        self.storage = storage

    def _set_endpoints(self) -> None:
        super()._set_endpoints()
        self.query_url = f"http://{LOOPBACK}:{self.ports['query_http']}"

    def _prepare(self, container: Any) -> Any:
        cfg = configs.jaeger_config(
            host="0.0.0.0", storage=self.storage, badger_dir="/etc/agent-otlp/badger"
        )
        (self._workdir / "config.yaml").write_text(cfg)
        mode = "rw" if self.storage == "badger" else "ro"
        for key, value in _BACKEND_ENV.items():
            container = container.with_env(key, value)
        return container.with_volume_mapping(
            str(self._workdir), "/etc/agent-otlp", mode
        ).with_command("--config /etc/agent-otlp/config.yaml")


class ContainerCollector(_SpanFile, ContainerBackend):
    """Collector-contrib image with the same pipeline as :class:`NativeCollector`."""

    name = "otelcol"
    image = COLLECTOR_IMAGE
    container_ports = {4317: "otlp_grpc", 4318: "otlp_http", 13133: "health"}

    def __init__(
        self, image: str | None = None, *, headers: tuple[str, ...] = configs.FORWARDED_HEADERS
    ) -> None:
        super().__init__(image)
        self.headers = headers
        self.output_path = self._workdir / "spans.jsonl"
        self._skip_lines = 0

    def _prepare(self, container: Any) -> Any:
        cfg = configs.collector_config(
            output_path="/agent-otlp/spans.jsonl",
            host="0.0.0.0",
            headers=self.headers,
            health_extension="health_check",
        )
        (self._workdir / "config.yaml").write_text(cfg)
        return container.with_volume_mapping(str(self._workdir), "/agent-otlp", "rw").with_command(
            "--config=/agent-otlp/config.yaml"
        )

    def _is_ready(self) -> bool:
        return _http_ok(f"http://{LOOPBACK}:{self.ports['health']}/")



class ContainerTempo(ContainerBackend):
    """Grafana Tempo (container only). ``query_url`` is Tempo's HTTP API."""

    name = "tempo"
    image = TEMPO_IMAGE
    container_ports = {4317: "otlp_grpc", 4318: "otlp_http", 3200: "query_http"}

    def __init__(self, image: str | None = None, *, multitenancy: bool = False) -> None:
        super().__init__(image)
        self.multitenancy = multitenancy

    def _set_endpoints(self) -> None:
        super()._set_endpoints()
        self.query_url = f"http://{LOOPBACK}:{self.ports['query_http']}"

    def _prepare(self, container: Any) -> Any:
        cfg = configs.tempo_config(storage_dir="/tmp/tempo", multitenancy=self.multitenancy)
        (self._workdir / "tempo.yaml").write_text(cfg)
        return container.with_volume_mapping(
            str(self._workdir), "/etc/agent-otlp", "ro"
        ).with_command("-config.file=/etc/agent-otlp/tempo.yaml")

    def _is_ready(self) -> bool:
        return _http_ok(f"{self.query_url}/ready")

    def query(self, tenant: str | None = None) -> TempoQuery:
        assert self.query_url, "start() the backend first"
        return TempoQuery(self.query_url, tenant=tenant)
