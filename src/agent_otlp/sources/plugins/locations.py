"""Locations as they may be shown: a URL's password replaced by the mask."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from agent_otlp.core.config.errors import MASK

__all__ = ["masked_location"]


def masked_location(location: str) -> str:
    """``location`` with the password of a URL (``scheme://user:secret@host``) masked; other
    text unchanged."""
    if "://" not in location or "@" not in location:
        return location
    try:
        parts = urlsplit(location)
        password = parts.password
    except ValueError:  # a port that is not a number, say: mask the whole user part
        scheme, _, rest = location.partition("://")
        return f"{scheme}://{MASK}@{rest.rpartition('@')[2]}"
    if password is None:
        return location
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}:{MASK}@{host}", parts.path, parts.query, parts.fragment))
