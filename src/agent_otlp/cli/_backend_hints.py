"""``agent-otlp doctor`` hints for the typical misconfigurations of one backend's adapter.

Phoenix serves its UI, REST API and OTLP/HTTP on one port (6006), so most mistakes are a
port or a path; Langfuse's are its key pair (swapped keys answer 401) and its OTLP path.
:func:`backend_hint` returns ``None`` when it has nothing specific to say, and the general
hints apply.
"""

from __future__ import annotations

from agent_otlp.core.config.settings import Settings
from agent_otlp.core.wire.transport import NOT_OTLP, SendResult

__all__ = ["backend_hint"]

_REFUSED_CREDENTIALS = ("401", "403", "UNAUTHENTICATED", "PERMISSION_DENIED")


def _phoenix(result: SendResult, settings: Settings, text: str, where: str) -> str | None:
    grpc = settings.protocol == "grpc"
    if result.status in _REFUSED_CREDENTIALS:
        return (f"Phoenix has authentication on and refused the request ({result.status}): set "
                "PHOENIX_API_KEY to an API key from its Settings (sent as authorization: Bearer).")
    if grpc and ("http/2" in text or "http1" in text or "expected settings frame" in text):
        return (f"{where} is Phoenix's UI port, which takes OTLP over HTTP only: use its gRPC "
                "port (4317, PHOENIX_GRPC_PORT) or protocol http/protobuf.")
    if not grpc and (result.status in (NOT_OTLP, "404", "405")):
        return ("Phoenix's UI port is also its OTLP port, on the path /v1/traces only: use "
                "http://HOST:6006/v1/traces (or PHOENIX_COLLECTOR_ENDPOINT=http://HOST:6006).")
    if "refused" in text:
        port = "4317 (PHOENIX_GRPC_PORT)" if grpc else "6006, the UI port (PHOENIX_PORT)"
        return (f"nothing is listening on {where}: is `phoenix serve` running? Phoenix takes "
                f"OTLP on {port}, not 4318.")
    return None


def _langfuse(result: SendResult, settings: Settings, text: str, where: str) -> str | None:
    if result.status in _REFUSED_CREDENTIALS:
        return (f"Langfuse refused the key pair ({result.status}): LANGFUSE_PUBLIC_KEY takes the "
                "pk-lf-... key and LANGFUSE_SECRET_KEY the sk-lf-... one (swapped keys are the "
                "usual cause), both of one project, and LANGFUSE_HOST must be that project's "
                "region (https://cloud.langfuse.com EU, https://us.cloud.langfuse.com US).")
    if result.status in ("404", "405", NOT_OTLP):
        return ("Langfuse takes OTLP on {host}/api/public/otel/v1/traces: set LANGFUSE_HOST to "
                "the base URL only (e.g. https://cloud.langfuse.com).")
    return None


def backend_hint(result: SendResult, settings: Settings, text: str, where: str) -> str | None:
    """A hint specific to the destination's adapter, or ``None``."""
    if settings.adapter == "phoenix":
        return _phoenix(result, settings, text, where)
    if settings.adapter == "langfuse":
        return _langfuse(result, settings, text, where)
    return None
