"""Fixtures of the sources' tests: a real PostgreSQL cluster per test module and a fresh
application database in it per test for the raaf-rails source (see ``tests/raaf_rails_db.py``);
Node.js with the JavaScript Agents SDK installed from ``tests/js/package-lock.json``."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from _paths import ROOT

if TYPE_CHECKING:
    from raaf_rails_db import PostgresCluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL server of the module's own, stopped after its last test."""
    import raaf_rails_db  # psycopg loads only for the modules that ask for a cluster

    with raaf_rails_db.running_cluster() as started:
        yield started


@pytest.fixture
def app_db(cluster: PostgresCluster) -> str:
    """A fresh application database with RAAF's tables and the processor's extra columns;
    its name."""
    import raaf_rails_db

    return raaf_rails_db.new_app_database(cluster)


JS_DIR = ROOT / "tests" / "js"
LOCK = JS_DIR / "package-lock.json"
STAMP = JS_DIR / "node_modules" / ".agent-otlp-lock.sha256"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH: the JavaScript SDK tests need Node.js and npm")
    return path


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, with ``tests/js/node_modules`` installed from the lock file
    (``npm ci``, skipped when the installed tree was made from this very lock file)."""
    node, npm = _tool("node"), _tool("npm")
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if not STAMP.is_file() or STAMP.read_text().strip() != digest:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=JS_DIR, capture_output=True, text=True, timeout=300, check=False,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        STAMP.write_text(digest + "\n")
    return node
