"""TLS for the ingest bridge: a server context from a certificate and key (TLS 1.2 at least),
or a local certificate authority and a server certificate made for this machine.

RAAF's exporter always speaks TLS (``use_ssl = true``), so a bridge it posts to must serve
HTTPS. :func:`self_signed` writes, in a directory of the user's choosing:

* ``ca.pem`` (the local authority's certificate: what clients trust, through
  ``SSL_CERT_FILE`` for Ruby and Python or ``NODE_EXTRA_CA_CERTS`` for Node) and
  ``ca-key.pem``;
* ``server.pem`` (for ``localhost``, ``127.0.0.1`` and ``::1``, signed by that authority) and
  ``server-key.pem``.

Key files are written with mode 0600, the directory is created with 0700. Files already in
the directory are used again on the next start (the server certificate is made anew, with
the same authority, when it expires within :data:`RENEW_BEFORE`), so clients keep trusting the
same ``ca.pem``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agent_otlp.core.config.errors import ConfigError

__all__ = ["RENEW_BEFORE", "SelfSigned", "self_signed", "server_context"]

#: A server certificate expiring sooner than this is made anew at start.
RENEW_BEFORE: Final = datetime.timedelta(days=30)
_CA_DAYS: Final = 3650
_SERVER_DAYS: Final = 397  # what browsers and Apple's clients accept for a server certificate
_NAMES: Final = ("localhost",)
_ADDRESSES: Final = ("127.0.0.1", "::1")


def server_context(cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str], *,
                   cert_setting: str = "--tls-cert", key_setting: str = "--tls-key") -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or newer) serving ``cert_file`` with ``key_file``.

    :raises ConfigError: a file is missing or unreadable, or the key does not match,
        naming the setting and the file.
    """
    for setting, path in ((cert_setting, cert_file), (key_setting, key_file)):
        if not Path(path).is_file():
            raise ConfigError(setting, str(path), "no such file (a PEM file)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_file), str(key_file))
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(
            cert_setting, str(cert_file),
            f"cannot serve it with {key_setting}={str(key_file)!r}: {reason} "
            "(a PEM certificate, and the PEM private key that goes with it)",
        ) from None
    return context


@dataclass(frozen=True, slots=True)
class SelfSigned:
    """The files :func:`self_signed` made or found, and whether it made new ones."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    created: bool

    def context(self) -> ssl.SSLContext:
        return server_context(self.cert_file, self.key_file, cert_setting="--tls-self-signed",
                              key_setting="--tls-self-signed")


def self_signed(directory: str | os.PathLike[str]) -> SelfSigned:
    """A local authority and a server certificate for this machine in ``directory`` (see the
    module doc): the ones already there, else new ones.

    :raises ConfigError: the directory cannot be written, or holds unreadable files.
    """
    base = Path(directory).expanduser()
    ca_file, ca_key = base / "ca.pem", base / "ca-key.pem"
    cert_file, key_file = base / "server.pem", base / "server-key.pem"
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        created = False
        if not (ca_file.is_file() and ca_key.is_file()):
            _write_authority(ca_file, ca_key)
            created = True
        if created or not (cert_file.is_file() and key_file.is_file()) or _expiring(cert_file):
            _write_server(ca_file, ca_key, cert_file, key_file)
            created = True
    except (OSError, ValueError) as exc:
        raise ConfigError("--tls-self-signed", str(base), f"cannot make or read its certificates: {exc}") from None
    return SelfSigned(ca_file, cert_file, key_file, created)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_private(path: Path, data: bytes) -> None:
    """``data`` to ``path``, readable by its owner only (0600), replacing what was there."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def _write_public(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _write_authority(ca_file: Path, ca_key: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agent-otlp local bridge CA")])
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(ca_key, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _write_public(ca_file, certificate.public_bytes(serialization.Encoding.PEM))


def _write_server(ca_file: Path, ca_key: Path, cert_file: Path, key_file: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    authority = x509.load_pem_x509_certificate(ca_file.read_bytes())
    signer = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    if not isinstance(signer, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca_key} is not the EC key agent-otlp writes")
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in _NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in _ADDRESSES]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(authority.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                       critical=False)
        .sign(signer, hashes.SHA256())
    )
    _write_private(key_file, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _write_public(cert_file, certificate.public_bytes(serialization.Encoding.PEM))


def _expiring(cert_file: Path) -> bool:
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    return certificate.not_valid_after_utc - _now() < RENEW_BEFORE
