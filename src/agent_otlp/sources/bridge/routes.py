"""Which request paths the ingest bridge answers as the ingest endpoint.

Producers build the URL they post to in different ways:

* the OpenAI Agents SDK (Python) and the JavaScript Agents SDK take the whole URL
  (``http://127.0.0.1:4319/v1/traces/ingest``);
* RAAF appends ``/v1/traces/ingest`` to its ``base_url``: a base given with ``/v1`` gives
  ``/v1/v1/traces/ingest``, one with a trailing ``/`` gives ``//v1/traces/ingest``;
* a base URL that already ends in ``/v1`` plus ``/traces/ingest`` gives ``/traces/ingest``.

So the ingest endpoint is ``/traces/ingest`` behind at most two ``/v1``, with repeated and
trailing slashes ignored, the query ignored, and a request target in absolute form
(``POST http://host:4319/v1/traces/ingest``, as sent through a proxy) read for its path.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

__all__ = ["INGEST_PATHS", "is_ingest", "request_path"]

#: The ingest paths, as the banner and the 404 answer list them.
INGEST_PATHS: Final = ("/v1/traces/ingest", "/traces/ingest")
_INGEST: Final = re.compile(r"(?:/v1){0,2}/traces/ingest")
_SLASHES: Final = re.compile(r"/{2,}")


def request_path(target: str) -> str:
    """The path of a request target: query dropped, absolute form read, repeated and
    trailing slashes removed (``/`` for an empty path)."""
    if target.startswith(("http://", "https://")):
        try:
            target = urlsplit(target).path
        except ValueError:
            return target
    path = target.split("?", 1)[0].split("#", 1)[0]
    return _SLASHES.sub("/", path).rstrip("/") or "/"


def is_ingest(path: str) -> bool:
    """Whether ``path`` (as :func:`request_path` gives it) is the ingest endpoint."""
    return _INGEST.fullmatch(path) is not None
