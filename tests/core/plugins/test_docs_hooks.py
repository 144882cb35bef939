"""docs/adapters.md documents every hook specification (one heading per hook)."""

from __future__ import annotations

import inspect
import re

from _paths import ROOT
from agent_otlp.core.plugins import hookspecs

DOC = ROOT / "docs" / "adapters.md"


def _specs() -> list[str]:
    return [
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("agent_otlp_") and hasattr(function, "agent_otlp_spec")
    ]


def test_every_hook_spec_has_a_heading() -> None:
    headings = {
        match.group(1).strip().strip("`")
        for match in re.finditer(r"^#{2,6}\s+(.+)$", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    }
    specs = _specs()
    assert len(specs) >= 7
    missing = [name for name in specs if name not in headings]
    assert not missing, f"hooks without a heading in docs/adapters.md: {missing}"


def test_every_builtin_adapter_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in ("jaeger", "tempo", "honeycomb", "collector", "phoenix", "langfuse"):
        assert re.search(rf"^### {name}$", text, re.MULTILINE), name
