"""Who may talk to the ingest bridge, besides the bearer token.

* ``Host`` (DNS rebinding: a web page whose name resolves to 127.0.0.1 reads ``/metrics``):
  an IP address (a page cannot choose the address it was loaded from), a loopback name
  (``localhost``), the name the bridge is bound to, or a name given in ``allowed_hosts``
  (``*`` allows any). A request without ``Host`` (HTTP/1.0) is let through: browsers always
  send one.
* ``Origin`` (cross-site posts: any page the user opens can post to 127.0.0.1): browsers send
  it on cross-origin requests; the bridge's own clients (the SDK's exporter, RAAF) do not.
  Refused unless it is the bridge's own origin or its name is in ``allowed_hosts``.
* ``Content-Type`` of posts: ``application/json`` only (a web page can post ``text/plain``
  without asking the server first); the body may be gzip- or deflate-compressed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Final, Protocol
from urllib.parse import urlsplit

from agent_otlp.sources.bridge.body import RequestError

__all__ = ["AccessPolicy", "check_content_type", "is_loopback"]

_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost",
                                    "ip6-loopback"})


class Headers(Protocol):
    """Request headers (:class:`email.message.Message` or a mapping)."""

    def get(self, name: str, /) -> str | None: ...


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """True for a loopback address or name (``127.0.0.1``, ``::1``, ``localhost``)."""
    name = host.strip().lower().rstrip(".")
    address = _ip(name)
    if address is not None:
        return address.is_loopback
    return name in _LOOPBACK_NAMES or name.endswith(".localhost")


def _hostname(authority: str) -> str:
    """``name`` of ``name:port`` or ``[v6]:port``, lowercased, without a trailing dot."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0]
    name = authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority
    return name.rstrip(".")


class AccessPolicy:
    """Checks ``Host`` and ``Origin`` of each request (see the module docstring).

    :param bind_host: the address or name the bridge listens on.
    :param allowed_hosts: more names clients may use (``*``: any).
    """

    def __init__(self, bind_host: str, allowed_hosts: Iterable[str] = ()) -> None:
        names = {_hostname(n) for n in allowed_hosts if n.strip()}
        self.any_host = "*" in names
        self.names = frozenset(names - {"*"})
        bound = bind_host.strip().lower().rstrip(".")
        self._bound = bound if bound and _ip(bound) is None else ""

    def host_allowed(self, name: str) -> bool:
        return (self.any_host or _ip(name) is not None or is_loopback(name)
                or name == self._bound or name in self.names)

    def check(self, headers: Headers) -> None:
        """Raise :class:`RequestError` 403 for a foreign ``Host`` or ``Origin``."""
        host = headers.get("Host")
        if host is not None and not self.host_allowed(_hostname(host)):
            raise RequestError(403, f"Host {host[:100]!r} is not a name of this bridge "
                                    "(allow it with --allowed-host)")
        origin = headers.get("Origin")
        if origin is None:
            return
        if not self._origin_allowed(origin.strip(), host):
            raise RequestError(403, f"cross-origin request from Origin {origin[:100]!r} refused "
                                    "(allow its name with --allowed-host)")

    def _origin_allowed(self, origin: str, host: str | None) -> bool:
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (sandboxed pages, file: URLs) included
        if host is not None and parts.netloc.lower() == host.strip().lower():
            return True  # the bridge's own origin
        return self.any_host or _hostname(parts.netloc) in self.names


def check_content_type(headers: Headers) -> None:
    """Raise :class:`RequestError` 415 unless the body is declared ``application/json``."""
    declared = headers.get("Content-Type") or ""
    if declared.split(";", 1)[0].strip().lower() != "application/json":
        shown = repr(declared[:60]) if declared else "missing"
        raise RequestError(415, f"Content-Type must be application/json, not {shown} "
                                "(compressed bodies: Content-Encoding: gzip)")
