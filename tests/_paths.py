"""Where the repository is, for tests at any depth of tests/ (their own ``__file__`` says
where the test sits, not where the checkout is)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ROOT", "TESTS"]

#: this folder, on ``sys.path`` for every test (``pythonpath`` in pyproject.toml), which is
#: how tests import the helpers kept here (``_reliability``, ``store_child``...)
TESTS = Path(__file__).resolve().parent
#: the checkout
ROOT = TESTS.parent
