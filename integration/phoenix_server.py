"""Arize Phoenix as an integration-test backend, and a reader of its REST API.

:class:`NativePhoenix` runs ``phoenix serve`` from the virtual environment
``integration/backends/build.py phoenix`` installs, on free loopback ports, with its own
working directory (SQLite database inside), telemetry and external resources off.
:class:`PhoenixQuery` reads spans back through the versioned REST API
(``GET /v1/projects/{project}/spans``) and filters on the client side: older servers ignore
query filters they do not know.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import requests

from integration.harness import LOOPBACK, NativeBackend, _http_ok, normalize_trace_id


class NativePhoenix(NativeBackend):
    """``phoenix serve``: UI, REST API and OTLP/HTTP on one port, OTLP/gRPC on another.

    ``otlp_http`` is the UI port's base URL (traces go to ``/v1/traces``), ``otlp_grpc`` the
    gRPC ``host:port``; ``query_url`` is the REST API base and :attr:`query` reads it.
    """

    name = "phoenix"
    build_name = "phoenix"
    port_names = ("http", "grpc")
    start_timeout = 180.0  # a cold start migrates its SQLite database

    def _set_endpoints(self) -> None:
        self.otlp_http = f"http://{LOOPBACK}:{self.ports['http']}"
        self.otlp_grpc = f"{LOOPBACK}:{self.ports['grpc']}"
        self.query_url = self.otlp_http

    def _config(self) -> str:
        return "# phoenix is configured through its environment\n"

    def _command(self) -> list[str]:
        return [str(self.binary), "serve"]

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        env.update({
            "PHOENIX_WORKING_DIR": str(self.workdir / "phoenix"),
            "PHOENIX_HOST": LOOPBACK,
            "PHOENIX_PORT": str(self.ports["http"]),
            "PHOENIX_GRPC_PORT": str(self.ports["grpc"]),
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        })
        return env

    def _is_ready(self) -> bool:
        return _http_ok(f"{self.query_url}/healthz") and _http_ok(f"{self.query_url}/v1/projects")

    @property
    def query(self) -> PhoenixQuery:
        assert self.query_url, "start() the backend first"
        return PhoenixQuery(self.query_url)


class PhoenixQuery:
    """Spans of one project, as Phoenix's REST API returns them (OpenInference view)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def project_spans(self, project: str) -> list[dict[str, Any]]:
        """Every span of ``project`` (``[]`` while the project does not exist)."""
        spans: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            resp = self.session.get(f"{self.base_url}/v1/projects/{project}/spans",
                                    params=params, timeout=10)
            if resp.status_code == 404:
                return []
            resp.raise_for_status()
            body = resp.json()
            spans.extend(body.get("data") or [])
            cursor = body.get("next_cursor")
            if not cursor:
                return spans

    def trace_spans(self, project: str, trace_id: int | str) -> list[dict[str, Any]]:
        wanted = normalize_trace_id(trace_id)
        return [s for s in self.project_spans(project)
                if (s.get("context") or {}).get("trace_id") == wanted]

    def wait_for_trace(
        self, project: str, trace_id: int | str, count: int, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Poll until ``count`` spans of the trace are in ``project``; raise ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        spans: list[dict[str, Any]] = []
        while True:
            with contextlib.suppress(requests.RequestException):
                spans = self.trace_spans(project, trace_id)
            if len(spans) >= count:
                return spans
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"trace {normalize_trace_id(trace_id)}: {len(spans)} span(s) in Phoenix "
                    f"project {project!r} after {timeout}s, wanted {count}"
                )
            time.sleep(0.3)
