"""The live state of a running ``agent-otlp serve``, published next to its span store.

``serve`` writes ``<store>.serve.json`` about every second (atomically: a temporary file
renamed over it) and removes it when it stops; ``status`` reads it to show the breaker state
and the in-memory queues of the process that delivers. A file whose process is gone, or that
was not updated for :data:`STALE_AFTER` seconds, is stale and only reported as such.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agent_otlp.sources.bridge import BridgeServer, pending_spans

__all__ = ["STALE_AFTER", "LiveState", "StatePublisher", "read_live_state", "state_path"]

#: Seconds after which a state file that was not rewritten is stale.
STALE_AFTER: Final = 10.0


def state_path(store_path: Path | str) -> Path:
    """Where ``serve`` publishes its state for the store at ``store_path``."""
    return Path(f"{store_path}.serve.json")


@dataclass(frozen=True, slots=True)
class LiveState:
    """What ``status`` knows of ``serve``: the published state, and whether it is current."""

    data: dict[str, Any]
    problem: str | None  # None: the process runs and the file is fresh

    def destination(self, name: str) -> dict[str, Any] | None:
        if self.problem is not None:
            return None
        found = self.data.get("destinations", {}).get(name)
        return found if isinstance(found, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def read_live_state(path: Path, now: float | None = None) -> LiveState | None:
    """The state published at ``path``; ``None`` when there is none (``serve`` not running)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return LiveState({}, f"unreadable state file {path}: {exc}")
    if not isinstance(data, dict):
        return LiveState({}, f"unreadable state file {path}")
    pid, updated = data.get("pid"), data.get("updated")
    now = time.time() if now is None else now
    if not isinstance(pid, int) or not _alive(pid):
        return LiveState(data, f"stale: process {pid!r} is gone")
    if not isinstance(updated, int | float) or now - updated > STALE_AFTER:
        age = f"{now - updated:.0f}s ago" if isinstance(updated, int | float) else "never"
        return LiveState(data, f"stale: last updated {age}")
    return LiveState(data, None)


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, path)


class StatePublisher:
    """Rewrites the state file of ``bridge`` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, path: Path, bridge: BridgeServer, interval: float = 1.0) -> None:
        self.path = path
        self.bridge = bridge
        self.interval = interval
        self._started = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agent-otlp-serve-state",
                                        daemon=True)

    def snapshot(self) -> dict[str, Any]:
        stats = self.bridge.exporter.stats.snapshot()
        return {
            "pid": os.getpid(),
            "address": self.bridge.address,
            "ingest_url": self.bridge.ingest_url,
            "started": self._started,
            "updated": time.time(),
            "pending": pending_spans(self.bridge.exporter),
            "destinations": {
                name: {"breaker": d["breaker"], "queue_depth": d["queue_depth"],
                       "exported": d["exported"]}
                for name, d in stats["destinations"].items()
            },
        }

    def publish(self) -> None:
        with contextlib.suppress(OSError):  # a full or read-only disk must not stop the bridge
            _write_atomic(self.path, self.snapshot())

    def start(self) -> StatePublisher:
        self.publish()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.publish()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        with contextlib.suppress(OSError):
            self.path.unlink()
