"""pytest fixtures providing in-process OTLP receivers, and the OpenAI Agents SDK's trace
processors restored after each test (registered as a ``pytest11`` plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pytest

if TYPE_CHECKING:  # imported lazily so that loading the plugin stays cheap for every test run
    from .receiver import OTLPReceiver, TLSConfig

__all__ = [
    "ReceiverFactory",
    "otlp_grpc_receiver",
    "otlp_receiver",
    "otlp_receiver_factory",
    "sdk_processors",
]


class ReceiverFactory(Protocol):
    def __call__(
        self,
        protocol: Literal["http", "grpc"] = "http",
        tls: TLSConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> OTLPReceiver: ...


@pytest.fixture
def otlp_receiver_factory() -> Iterator[ReceiverFactory]:
    """Start receivers on demand; all of them are stopped at teardown."""
    from .receiver import OTLPReceiver

    created: list[OTLPReceiver] = []

    def make(
        protocol: Literal["http", "grpc"] = "http",
        tls: TLSConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> OTLPReceiver:
        receiver = OTLPReceiver(protocol=protocol, host=host, port=port, tls=tls)
        created.append(receiver)
        return receiver.start()

    yield make
    for receiver in reversed(created):
        receiver.stop()


@pytest.fixture
def otlp_receiver(otlp_receiver_factory: ReceiverFactory) -> OTLPReceiver:
    """A running OTLP/HTTP receiver; export to ``otlp_receiver.traces_url``."""
    return otlp_receiver_factory("http")


@pytest.fixture
def otlp_grpc_receiver(otlp_receiver_factory: ReceiverFactory) -> OTLPReceiver:
    """A running OTLP/gRPC receiver; export to ``otlp_grpc_receiver.endpoint``."""
    return otlp_receiver_factory("grpc")


@pytest.fixture
def sdk_processors() -> Iterator[list[Any]]:
    """The OpenAI Agents SDK's trace processors before the test: cleared for the test and
    restored afterwards (skips when the SDK is not installed)."""
    tracing = pytest.importorskip("agents.tracing")
    multi = tracing.get_trace_provider()._multi_processor
    before = list(multi._processors)
    tracing.set_trace_processors([])
    try:
        yield before
    finally:
        tracing.set_trace_processors(before)
