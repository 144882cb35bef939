"""A small real file system for the store tests: a tmpfs of a given size, mounted by the test
(which needs root: we and CI run as root). Without root the test is skipped locally, and
fails in CI (``CI=true``) saying why, so that it never goes quietly missing there."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _unavailable(why: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"cannot set up the small file system this test needs: {why}")
    pytest.skip(f"cannot set up a small file system: {why}")


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=False)


@contextlib.contextmanager
def small_filesystem(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``2m``) mounted at ``where`` for the duration."""
    if os.geteuid() != 0:
        _unavailable("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    mounted = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where))
    if mounted.returncode != 0:
        _unavailable(f"mount -t tmpfs failed: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))


def remount_read_only(where: Path) -> None:
    done = _run("mount", "-o", "remount,ro", str(where))
    assert done.returncode == 0, done.stderr


def fill(path: Path, keep_free: int) -> None:
    """Write ``path`` until only about ``keep_free`` bytes are left on its file system."""
    stat = os.statvfs(path.parent)
    free = stat.f_bavail * stat.f_frsize
    path.write_bytes(b"\0" * max(free - keep_free, 0))
