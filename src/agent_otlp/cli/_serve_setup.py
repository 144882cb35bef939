"""What ``agent-otlp serve`` sets up before it listens: TLS (a certificate given, or a local
CA made for this machine) and the producer tokens, from options, environment variables or
the config file's ``[serve]`` table (:mod:`agent_otlp.core.config.serve`)."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.secrets import Secret
from agent_otlp.core.config.serve import ServeOption
from agent_otlp.sources.bridge.producers import ProducerEntry, load_tokens
from agent_otlp.sources.bridge.tls import self_signed, server_context

__all__ = ["ServeTLS", "auth_summary", "serve_producers", "serve_tls"]


@dataclass(frozen=True, slots=True)
class ServeTLS:
    """The bridge's TLS: its server context, and the local CA clients trust when it made one."""

    context: ssl.SSLContext
    ca_file: Path | None = None
    created: bool = False

    def banner(self) -> list[str]:
        """What the banner says of TLS: with a local CA, how clients come to trust it."""
        if self.ca_file is None:
            return ["  TLS: the certificate given (TLS 1.2 or newer)"]
        made = "made now" if self.created else "reused"
        return [
            f"  TLS: local CA {self.ca_file} ({made}); clients trust it with",
            f"SSL_CERT_FILE={self.ca_file}",
            f"  (Ruby Net::HTTP, Python), or NODE_EXTRA_CA_CERTS={self.ca_file} (Node)",
        ]


def serve_tls(cert: ServeOption, key: ServeOption, local: ServeOption) -> ServeTLS | None:
    """The TLS to serve with: ``cert`` and ``key`` given, or a local CA in directory
    ``local``, or none (plain HTTP)."""
    (cert_file, cert_setting), (key_file, key_setting), (directory, local_setting) = cert, key, local
    if directory is not None and (cert_file or key_file):
        raise ConfigError(local_setting, directory, "either a local CA (--tls-self-signed) or "
                                                   "--tls-cert with --tls-key, not both")
    if directory is not None:
        made = self_signed(directory)
        return ServeTLS(made.context(), made.ca_file, made.created)
    if cert_file is None and key_file is None:
        return None
    if cert_file is None or key_file is None:
        setting, value = (key_setting, key_file) if cert_file is None else (cert_setting, cert_file)
        missing = "--tls-cert" if cert_file is None else "--tls-key"
        raise ConfigError(setting, value, f"needs {missing} too (a certificate and its key)")
    return ServeTLS(server_context(cert_file, key_file, cert_setting=cert_setting, key_setting=key_setting))


def serve_producers(tokens: ServeOption, destinations: Iterable[str]) -> dict[Secret, ProducerEntry]:
    """The producer tokens of the tokens file, if one is given (checked against the
    bridge's ``destinations``)."""
    path, setting = tokens
    if path is None:
        return {}
    return load_tokens(path, setting, destinations)


def auth_summary(token: bool, producers: int) -> str:
    """What the banner says of tokens."""
    if not token and not producers:
        return "no token required"
    if not producers:
        return "bearer token required"
    tokens = f"{producers} producer token{'s' if producers != 1 else ''}"
    return f"bearer token required: the bridge's or {tokens}" if token else f"bearer token required: {tokens}"
