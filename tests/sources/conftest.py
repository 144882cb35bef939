"""Fixtures of the tests of the raaf-rails source: a real PostgreSQL cluster per test module
and a fresh application database in it per test (see ``tests/raaf_rails_db.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

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
