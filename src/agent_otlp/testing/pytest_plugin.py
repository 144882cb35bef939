"""pytest fixtures providing in-process OTLP receivers (registered as a ``pytest11`` plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal, Protocol

import pytest

if TYPE_CHECKING:  # imported lazily so that loading the plugin stays cheap for every test run
    from .receiver import OTLPReceiver, TLSConfig

__all__ = [
    "ReceiverFactory",
    "otlp_grpc_receiver",
    "otlp_receiver",
    "otlp_receiver_factory",
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
