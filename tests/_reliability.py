"""A small recorder for the figures of docs/reliability.md.

Tests of robustness call :func:`record` with what they tried and what happened; each call
appends one JSON line to ``$AGENT_OTLP_RELIABILITY_OUT`` (default
``build/reliability.jsonl`` under the repository). ``scripts/reliability_table.py`` turns
that file into the table of docs/reliability.md, and ``tests/hardening/test_hardening_doc.py``
checks that every row of the document still has a test recording it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["Counter", "output_path", "record"]

REPO = Path(__file__).resolve().parent.parent
ENV = "AGENT_OTLP_RELIABILITY_OUT"
_LOCK = threading.Lock()
# read once, at import: tests that clear AGENT_OTLP_* variables must not move the output
_OUT = os.environ.get(ENV)


def output_path() -> Path:
    return Path(_OUT) if _OUT else REPO / "build" / "reliability.jsonl"


def _current_test() -> str:
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    return current.rsplit(" (", 1)[0]


def record(
    row: str,
    *,
    fault: str,
    cases: int,
    outcome: str,
    lost: int | str,
    method: str,
    **figures: Any,
) -> dict[str, Any]:
    """Append one row: ``row`` is a stable id (``input.converter``), ``fault`` what was
    tried, ``cases`` how many cases ran, ``outcome`` what happened, ``lost`` how many valid
    spans were lost (a number, or text such as ``"412 (queue_full, counted)"``), ``method``
    one sentence on how the row is produced. ``figures`` are extra measurements kept in the
    JSON line (shown by the table script under the outcome when asked)."""
    entry: dict[str, Any] = {
        "row": row,
        "fault": fault,
        "cases": int(cases),
        "outcome": outcome,
        "lost": lost,
        "method": method,
        "test": _current_test(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **figures,
    }
    path = output_path()
    with _LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
    return entry


class Counter:
    """Counts runs of a hypothesis property (``max_examples`` is a ceiling, not a count)."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def __call__(self, n: int = 1) -> None:
        with self._lock:
            self.value += n
