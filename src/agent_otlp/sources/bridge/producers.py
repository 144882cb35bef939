"""Who may post to the ingest bridge, and as whom: the bearer tokens.

One bridge can serve several applications apart. A tokens file (``agent-otlp serve --tokens
FILE``) maps each token to the producer it stands for: resource attributes
(``service.name`` at least) and, optionally, the destinations its spans go to. TOML::

    ["tok-checkout-3c9f1e7a"]
    resource = { "service.name" = "checkout", "deployment.environment.name" = "prod" }
    destinations = ["jaeger"]

    ["tok-support-88d2b0c4"]
    resource = { "service.name" = "support-agent" }

or the same as JSON (``{"tok-...": {"resource": {...}, "destinations": [...]}}``). Items
posted with a producer's token are exported under that producer's resource, with the
request's ``User-Agent`` as :data:`USER_AGENT_ATTRIBUTE`, and only to its destinations when
it names some. The single token (``--token``) stays valid beside them: its items go out under
the bridge's own resource, to every destination. Tokens are :class:`Secret` from the moment
they are read: never in logs, errors or reprs.
"""

from __future__ import annotations

import hmac
import json
import math
import re
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agent_otlp.core.config.errors import ConfigError, mask_value
from agent_otlp.core.config.secrets import Secret
from agent_otlp.core.convert.producer import Producer, ResourceValue
from agent_otlp.sources.bridge.access import Headers

__all__ = ["USER_AGENT_ATTRIBUTE", "Identity", "ProducerEntry", "Tokens", "load_tokens"]

#: Resource attribute holding the ``User-Agent`` a producer's request carried.
USER_AGENT_ATTRIBUTE: Final = "agent_otlp.producer.user_agent"
#: Longest ``User-Agent`` kept (characters); longer ones are cut.
_USER_AGENT_MAX: Final = 256
#: Producers (entry and user agent) remembered; the memory is emptied when full.
_KNOWN_MAX: Final = 1024
_ENTRY_KEYS: Final = frozenset({"resource", "destinations"})
_WHERE: Final = re.compile(r"line \d+,? column \d+")


@dataclass(frozen=True, slots=True)
class ProducerEntry:
    """One token's producer as the tokens file gives it."""

    resource: tuple[tuple[str, ResourceValue], ...]
    destinations: tuple[str, ...] | None = None

    def producer(self, user_agent: str | None) -> Producer:
        resource = self.resource
        if user_agent:
            resource = (*[p for p in resource if p[0] != USER_AGENT_ATTRIBUTE],
                        (USER_AGENT_ATTRIBUTE, user_agent))
        return Producer(resource, self.destinations)


@dataclass(frozen=True, slots=True)
class Identity:
    """What a request's token says: whether it may post, and whose items they are
    (``None``: the bridge's own)."""

    allowed: bool
    producer: Producer | None = None


class Tokens:
    """The bearer tokens a bridge accepts: the single ``token`` and the producers' tokens.
    With none of them, every request is accepted (as the bridge's own)."""

    def __init__(self, token: Secret | None = None,
                 producers: Mapping[Secret, ProducerEntry] | None = None) -> None:
        self._token = token if token else None
        self._producers = [(secret.reveal().encode("utf-8"), entry)
                           for secret, entry in (producers or {}).items()]
        self._known: dict[tuple[ProducerEntry, str | None], Producer] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Tokens(token={'set' if self._token else 'none'}, producers={len(self._producers)})"

    def __bool__(self) -> bool:
        """Whether any token is required."""
        return self._token is not None or bool(self._producers)

    def destinations(self) -> set[str]:
        """Every destination a producer names."""
        return {n for _, entry in self._producers for n in entry.destinations or ()}

    def identify(self, headers: Headers) -> Identity:
        """Who sent a request with these headers (``Authorization: Bearer <token>``)."""
        if not self:
            return Identity(True)
        given = _bearer(headers.get("Authorization") or "")
        allowed = self._token is not None and hmac.compare_digest(given, self._token.reveal().encode("utf-8"))
        found: ProducerEntry | None = None
        for secret, entry in self._producers:  # every one compared: no early answer to time
            if hmac.compare_digest(given, secret) and found is None:
                found = entry
        if found is None:
            return Identity(allowed)
        return Identity(True, self._producer(found, _user_agent(headers.get("User-Agent"))))

    def _producer(self, entry: ProducerEntry, user_agent: str | None) -> Producer:
        key = (entry, user_agent)
        with self._lock:
            producer = self._known.get(key)
            if producer is None:
                if len(self._known) >= _KNOWN_MAX:
                    self._known.clear()
                producer = self._known[key] = entry.producer(user_agent)
        return producer


def _bearer(header: str) -> bytes:
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return b""
    return given.strip().encode("utf-8", "surrogateescape")


def _user_agent(value: str | None) -> str | None:
    """The ``User-Agent`` as a resource attribute: printable ASCII, at most
    :data:`_USER_AGENT_MAX` characters (others replaced by ``?``); ``None`` when absent."""
    if not value or not value.strip():
        return None
    text = "".join(c if " " <= c <= "~" else "?" for c in value.strip()[:_USER_AGENT_MAX])
    return text


def load_tokens(path: str | Path, setting: str = "--tokens",
                destinations: Iterable[str] | None = None) -> dict[Secret, ProducerEntry]:
    """The producers of a tokens file (see the module doc), by token.

    ``destinations``: the names the bridge exports to; an entry naming another one is an
    error.

    :raises ConfigError: the file is missing, unreadable or malformed, naming ``setting``,
        the file and the entry (its token masked).
    """
    file = Path(path).expanduser()
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ConfigError(setting, str(file), f"cannot read it: {exc.strerror or exc}") from None
    try:
        data = _parse(file, text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(setting, str(file), f"neither JSON nor TOML: {_position(str(exc))}") from None
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(setting, str(file), 'expected a table of tokens: {"<token>": {"resource": '
                                              '{"service.name": "..."}}}')
    known = set(destinations) if destinations is not None else None
    entries: dict[Secret, ProducerEntry] = {}
    for token, value in data.items():
        secret = Secret(token)
        where = f"entry {mask_value(secret)}"
        _check_token(token, setting, file, where)
        entries[secret] = _entry(value, setting, file, where, known)
    return entries


def _parse(file: Path, text: bytes) -> Any:
    if file.suffix.lower() == ".json" or text.lstrip()[:1] == b"{":
        return json.loads(text)
    return tomllib.loads(text.decode("utf-8"))


def _position(message: str) -> str:
    """Where a parser's message says the file is wrong (the rest may quote the file)."""
    found = _WHERE.search(message)
    if found:
        return f"syntax error at {found.group(0)}"
    return "syntax error at the end" if "end of document" in message else "syntax error"


def _check_token(token: str, setting: str, file: Path, where: str) -> None:
    if not token or any(not "!" <= c <= "~" for c in token):
        raise ConfigError(setting, str(file), f"{where}: a token is printable ASCII without spaces")


def _entry(value: object, setting: str, file: Path, where: str, known: set[str] | None) -> ProducerEntry:
    if not isinstance(value, Mapping):
        raise ConfigError(setting, str(file), f'{where}: expected {{"resource": {{"service.name": ...}}}}')
    unknown = sorted(set(value) - _ENTRY_KEYS)
    if unknown:
        raise ConfigError(setting, str(file), f"{where}: unknown key {unknown[0]!r}; expected resource, destinations")
    resource = value.get("resource")
    if not isinstance(resource, Mapping) or not isinstance(resource.get("service.name"), str) \
            or not resource["service.name"].strip():
        raise ConfigError(setting, str(file), f"{where}: resource needs a 'service.name' (text)")
    pairs = tuple(_attribute(k, v, setting, file, where) for k, v in resource.items())
    names = value.get("destinations")
    if names is None:
        return ProducerEntry(pairs)
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(setting, str(file), f"{where}: destinations is a list of destination names")
    for name in names:
        if known is not None and name not in known:
            raise ConfigError(setting, str(file), f"{where}: destination {name!r} is not one of this "
                                                  f"bridge's ({', '.join(sorted(known)) or 'none'})")
    return ProducerEntry(pairs, tuple(dict.fromkeys(names)))


def _attribute(key: object, value: object, setting: str, file: Path, where: str) -> tuple[str, ResourceValue]:
    if not isinstance(key, str) or not _utf8(key):
        raise ConfigError(setting, str(file), f"{where}: resource attribute names are text")
    if isinstance(value, str):
        if _utf8(value):
            return key, value
    elif isinstance(value, bool):
        return key, value
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return key, value
    elif isinstance(value, float) and math.isfinite(value):
        return key, value
    raise ConfigError(setting, str(file), f"{where}: resource attribute {key!r} must be text, a number "
                                          "or true/false")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
