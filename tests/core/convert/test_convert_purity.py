"""``core.convert`` is pure data: it imports nothing of the package but itself and
``core.config.errors``, and that module imports nothing of the package at all, so the
compiled per-span modules never pull in configuration, secrets, the wire or plugins."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from _paths import ROOT

SRC = ROOT / "src" / "agent_otlp"
CONVERT = sorted((SRC / "core" / "convert").glob("*.py"))


def _package_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("agent_otlp"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("agent_otlp"):
            found.add(str(node.module))
    return found


@pytest.mark.parametrize("path", CONVERT, ids=lambda p: p.name)
def test_convert_imports_only_itself_and_errors(path: Path) -> None:
    wrong = {m for m in _package_imports(path)
             if not m.startswith("agent_otlp.core.convert") and m != "agent_otlp.core.config.errors"}
    assert not wrong


def test_errors_import_nothing_of_the_package() -> None:
    assert _package_imports(SRC / "core" / "config" / "errors.py") == set()


def test_convert_loads_no_other_module_of_the_package() -> None:
    """Importing the conversion modules loads only them, ``core.config.errors`` and the
    package ``__init__`` files on the way."""
    code = (
        "import sys\n"
        "sys.modules['agent_otlp'] = type(sys)('agent_otlp')\n"  # skip the public API's imports
        f"sys.modules['agent_otlp'].__path__ = [{str(SRC)!r}]\n"
        "for name in ('core', 'core.config', 'core.convert'):\n"
        "    module = type(sys)('agent_otlp.' + name)\n"
        f"    module.__path__ = [{str(SRC)!r} + '/' + name.replace('.', '/')]\n"
        "    sys.modules['agent_otlp.' + name] = module\n"
        "import importlib\n"
        f"for path in {[p.stem for p in CONVERT if p.stem != '__init__']!r}:\n"
        "    importlib.import_module('agent_otlp.core.convert.' + path)\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('agent_otlp.'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split()) - {"agent_otlp.core", "agent_otlp.core.config", "agent_otlp.core.convert"}
    assert {m for m in loaded if not m.startswith("agent_otlp.core.convert.")} == {"agent_otlp.core.config.errors"}
