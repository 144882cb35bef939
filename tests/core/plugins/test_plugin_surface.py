"""The adapters' stable surface, ``agent_otlp.core.plugins``: what it exports, that adapters
(built-in and the example third-party one) import nothing else, and that the docs list it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import agent_otlp.core.plugins as surface
from _paths import ROOT

ADAPTER_FILES = sorted((ROOT / "src" / "agent_otlp" / "adapters").glob("*.py")) + sorted(
    (ROOT / "examples" / "adapter-plugin" / "src").rglob("*.py")
)


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an ``import`` or ``from ... import`` names, at any depth of the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def _allowed(module: str) -> bool:
    if not module.startswith("agent_otlp.") and module != "agent_otlp":
        return True
    parts = module.split(".")
    if parts[:3] == ["agent_otlp", "core", "plugins"]:
        return len(parts) == 4 and parts[3] in surface.__all__  # names of the surface itself
    if parts[:2] == ["agent_otlp", "adapters"]:
        return True  # a built-in adapter's own helper modules
    return len(parts) == 2  # ``from agent_otlp import X``: the top-level public API


def test_every_name_of_the_surface_resolves() -> None:
    assert list(surface.__all__) == sorted(set(surface.__all__), key=surface.__all__.index)
    for name in surface.__all__:
        assert getattr(surface, name) is not None, name
    with pytest.raises(AttributeError, match="no_such_name"):
        surface.no_such_name  # noqa: B018


@pytest.mark.parametrize("path", ADAPTER_FILES, ids=lambda p: p.name)
def test_adapters_import_only_the_surface(path: Path) -> None:
    wrong = [f"line {line}: {module}" for line, module in _imported_modules(path) if not _allowed(module)]
    assert not wrong, f"{path.name} imports beyond agent_otlp.core.plugins: {wrong}"


def test_the_surface_loads_protobuf_only_when_asked() -> None:
    code = (
        "import sys, agent_otlp.core.plugins as p\n"
        "before = 'google.protobuf' in sys.modules\n"
        "p.request_to_json\n"
        "print(before, 'google.protobuf' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


def test_docs_list_the_surface() -> None:
    text = (ROOT / "docs" / "adapters.md").read_text(encoding="utf-8")
    section = text.split("### What an adapter imports", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    listed = {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert listed == set(surface.__all__)
