"""TLS settings of a destination, as the transports use them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TLSOptions"]


@dataclass(frozen=True, slots=True)
class TLSOptions:
    """TLS material: a CA bundle to trust, and a client certificate and key for mTLS."""

    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    verify: bool = True
