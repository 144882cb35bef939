"""docs/reliability.md cannot drift: each row of its table names a test of this suite that
records that row, and each row the tests record is in the table."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from _paths import ROOT, TESTS

REPO = ROOT
DOC = REPO / "docs" / "reliability.md"
ROW = re.compile(r"^\| `(?P<row>[^`]+)` \|.*\| `(?P<test>[^`]+)` \|$")


def doc_rows() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- reliability-table:start")
    end = text.index("<!-- reliability-table:end -->")
    rows = {}
    for line in text[start:end].splitlines():
        match = ROW.match(line)
        if match:
            rows[match["row"]] = match["test"]
    return rows


def _pattern(node: ast.expr) -> re.Pattern[str] | None:
    """The row ids a ``record(...)`` first argument can produce."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.compile(re.escape(node.value) + r"\Z")
    if isinstance(node, ast.JoinedStr):
        parts = [re.escape(v.value) if isinstance(v, ast.Constant) else r"[\w.-]+" for v in node.values]
        return re.compile("".join(parts) + r"\Z")
    return None


def recorders(path: Path) -> dict[str, list[re.Pattern[str]]]:
    """Test function name -> patterns of the rows it records."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, list[re.Pattern[str]]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            patterns = found.setdefault(node.name, [])
            for call in ast.walk(node):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                        and call.func.id == "record" and call.args):
                    pattern = _pattern(call.args[0])
                    assert pattern is not None, f"{path.name}:{call.lineno}: row id must be literal"
                    patterns.append(pattern)
    return found


def test_every_row_has_a_recording_test() -> None:
    rows = doc_rows()
    assert len(rows) >= 10
    for row, test_id in rows.items():
        file_part, _, name = test_id.partition("::")
        path = REPO / file_part
        assert path.is_file(), f"{row}: {file_part} does not exist"
        function = name.split("[", 1)[0]
        patterns = recorders(path).get(function)
        assert patterns is not None, f"{row}: no test {function} in {file_part}"
        assert any(p.match(row) for p in patterns), f"{row}: {test_id} does not record it"


def test_every_recorded_row_is_in_the_document() -> None:
    rows = doc_rows()
    for path in sorted((TESTS / "hardening").glob("test_hardening_*.py")):
        for function, patterns in recorders(path).items():
            for pattern in patterns:
                assert any(pattern.match(row) for row in rows), (
                    f"{path.name}::{function} records {pattern.pattern!r}, missing from "
                    f"{DOC.relative_to(REPO)}: run the hardening tests, then "
                    "scripts/reliability_table.py --write docs/reliability.md"
                )


def test_table_script_renders_recordings(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import reliability_table
    finally:
        sys.path.remove(str(REPO / "scripts"))
    source = tmp_path / "r.jsonl"
    source.write_text(
        '{"row": "input.x", "fault": "a|b", "cases": 1200, "outcome": "ok", "lost": 0, '
        '"method": "m.", "test": "tests/t.py::test_x"}\n'
        '{"row": "input.x", "fault": "a|b", "cases": 1300, "outcome": "ok", "lost": 0, '
        '"method": "m.", "test": "tests/t.py::test_x"}\n', encoding="utf-8")
    doc = tmp_path / "doc.md"
    doc.write_text(f"# T\n\nintro\n\n{reliability_table.START}\nold\n{reliability_table.END}\n\nend\n")
    assert reliability_table.main(["--input", str(source), "--write", str(doc)]) == 0
    text = doc.read_text()
    assert "intro" in text and text.rstrip().endswith("end") and "old" not in text
    assert "| `input.x` | a\\|b | 1,300 | ok | 0 | `tests/t.py::test_x` |" in text
