"""One export child process, as the agent process sees it: started (the same Python, with
:mod:`subprocess`, never forked), handed its configuration over the pipe, its answers read
by a reader thread. What the child runs is :mod:`agent_otlp.offload.child`; this module
never imports it (the child imports the factory, which imports offload mode).

POSIX only (the reply pipe is passed as an inherited descriptor).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_otlp.core.config.errors import ConfigError
from agent_otlp.offload.frames import OffloadConfig, pack_frame, read_frame

__all__ = ["ChildProcess", "ChildUnavailable", "child_env", "widen_pipe"]

logger = logging.getLogger("agent_otlp.offload")

_CHILD_CODE = "import sys; from agent_otlp.offload.child import main; main(sys.argv[1:])"
_F_SETPIPE_SZ = 1031


class ChildUnavailable(Exception):
    """The child could not be started or did not answer (logged): export in-process."""


class ChildProcess:
    """A started child that answered ``ready``.

    :param build: ``module:function`` building the child's exporter from ``config``
        (:func:`~agent_otlp.offload.frames.importable_name`).
    :param on_end: ``on_end(self)``, called on the reader thread when the reply pipe ends
        while the end is not :attr:`expected`: the child died.
    Raises :class:`ChildUnavailable`, or :class:`ConfigError` when the child reported that
    it cannot build its exporter.
    """

    def __init__(
        self, config: OffloadConfig, build: str, on_end: Callable[[ChildProcess], None],
        timeout: float,
    ) -> None:
        self._on_end = on_end
        #: Set before the child is asked to stop: its end is not a loss.
        self.expected = False
        self._replies: dict[int, Any] = {}
        self._reply_done = threading.Condition()
        self._eof = False
        read_fd, write_fd = os.pipe()
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE, str(write_fd), build],
                stdin=subprocess.PIPE, pass_fds=(write_fd,), env=child_env(), close_fds=True,
            )
        except OSError as exc:
            os.close(read_fd)
            logger.warning("agent-otlp: cannot start the export process (%s); exporting "
                           "in-process", exc)
            raise ChildUnavailable from None
        finally:
            os.close(write_fd)
        self.pid: int = self.popen.pid
        assert self.popen.stdin is not None
        self._fd = self.popen.stdin.fileno()
        widen_pipe(self._fd)
        self._replies_in = os.fdopen(read_fd, "rb")
        self._reader = threading.Thread(target=self._read_loop, name="agent-otlp-offload-reader",
                                        daemon=True)
        self._reader.start()
        self._handshake(config, timeout)

    def _handshake(self, config: OffloadConfig, timeout: float) -> None:
        with contextlib.suppress(OSError):  # the reader reports the child's end
            self.write(pack_frame(pickle.dumps(config)))
        answer = self.wait_reply(0, time.monotonic() + timeout)
        if isinstance(answer, tuple) and answer[0] == "ready":
            return
        self.expected = True
        self.stop()
        if isinstance(answer, tuple) and answer[0] == "error":
            raise ConfigError("offload", True, f"the export process could not start: {answer[1]}")
        logger.warning("agent-otlp: the export process did not start; exporting in-process")
        raise ChildUnavailable

    def write(self, data: bytes) -> None:
        """All of ``data`` to the child's stdin (raises :class:`OSError`: the child died)."""
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def wait_reply(self, ticket: int, deadline: float) -> Any:
        """The answer to ``ticket``; ``None`` at ``deadline`` or once the child is gone."""
        with self._reply_done:
            self._reply_done.wait_for(
                lambda: ticket in self._replies or self._eof,
                max(0.0, deadline - time.monotonic()),
            )
            return self._replies.pop(ticket, None)

    def exit_code(self) -> int | None:
        return self.popen.poll()

    def stop(self) -> None:
        """Close its stdin (the child flushes and exits), reap it; killed after 2 s."""
        child = self.popen
        with contextlib.suppress(OSError):
            if child.stdin is not None:
                child.stdin.close()
        try:
            child.wait(2.0)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(2.0)
        self._reader.join(1.0)

    def _read_loop(self) -> None:
        stream = self._replies_in
        while True:
            try:
                frame = read_frame(stream)
                if frame is None:
                    break
                ticket, payload = pickle.loads(frame)  # noqa: S301 - from our child
            except Exception:  # a broken reply pipe counts as the child's end
                break
            with self._reply_done:
                self._replies[ticket] = payload
                self._reply_done.notify_all()
        if not self.expected:
            self._on_end(self)
        self.mark_ended()

    def mark_ended(self) -> None:
        """No more answers: waiters return ``None`` at once."""
        with self._reply_done:
            self._eof = True
            self._reply_done.notify_all()


def widen_pipe(fd: int) -> None:
    """A 1 MB buffer for the pipe ``fd`` (Linux; elsewhere the system's own): a frame of
    tens of kB then rarely waits for the other side to read."""
    with contextlib.suppress(OSError, ImportError):
        import fcntl

        fcntl.fcntl(fd, _F_SETPIPE_SZ, 1 << 20)


def child_env() -> dict[str, str]:
    """This process's environment, with this package importable in a child process."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env
