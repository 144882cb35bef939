"""The package's shape, as docs/architecture.md states it: modules and classes small enough to
read, the import rules (import-linter contracts in pyproject.toml) kept, no import cycle."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "agent_otlp"
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_module_over_500_lines() -> None:
    long = {str(p.relative_to(SRC)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_class_over_300_lines() -> None:
    big = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    big[f"{path.relative_to(SRC)}::{node.name}"] = size
    assert not big, f"classes over {MAX_CLASS_LINES} lines: {big}"


def test_every_room_is_in_the_layers() -> None:
    """A top-level module or package left out of the rooms contract would be checked by no
    layer rule: each one is named there (private modules, ``_name``, excepted)."""
    project = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    [rooms] = [c for c in project["tool"]["importlinter"]["contracts"] if c["id"] == "rooms"]
    named = {part.strip() for layer in rooms["layers"] for part in layer.split("|")}
    present = {f"agent_otlp.{p.stem}" for p in SRC.glob("*.py") if not p.stem.startswith("_")}
    present |= {f"agent_otlp.{p.parent.name}" for p in SRC.glob("*/__init__.py")
                if not p.parent.name.startswith("_")}
    assert present - named == set(), f"not in any layer of the rooms contract: {sorted(present - named)}"


def test_import_contracts_are_kept() -> None:
    """`lint-imports` with the contracts of pyproject.toml (also run by scripts/test)."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[test]'")
    result = subprocess.run([command, "--no-cache"], capture_output=True, text=True,
                            cwd=SRC.parents[1], timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_public_api_imports() -> None:
    """Every documented top-level name is importable from ``agent_otlp``."""
    import agent_otlp

    for name in agent_otlp.__all__:
        assert getattr(agent_otlp, name) is not None, name
    for name in ("AgentExporter", "FlushReport", "Settings", "SpanRecord", "AgentSpan",
                 "AgentTrace", "EventRecord", "ConfigError", "InputError", "AgentOTLPError",
                 "hookimpl", "hookspec"):
        assert hasattr(__import__("agent_otlp.core", fromlist=[name]), name), name
