"""Docstrings cite only what is in the repository: every `*.md` file they name exists, with the
section (`#anchor`) they point at."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kernel", "forecasting", "suppliers", "replenishment", "scheduler", "restock", "bench", "tests")
CITATION = re.compile(r"((?:[\w.-]+/)*[\w.-]+\.md)(?:#([\w-]+))?")


def _anchors(markdown: Path) -> set[str]:
    """GitHub's anchors of the file's headings: lower case, punctuation dropped, spaces → hyphens."""
    anchors = set()
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors


def cited_files(root: Path = ROOT) -> list[tuple[Path, str, str | None]]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                    for match in CITATION.finditer(ast.get_docstring(node) or ""):
                        found.append((path, match.group(1), match.group(2)))
    return found


def broken_citations(root: Path = ROOT) -> list[str]:
    broken = []
    for path, cited, anchor in cited_files(root):
        target = next((base / cited for base in (root, path.parent) if (base / cited).is_file()), None)
        where = path.relative_to(root)
        if target is None:
            broken.append(f"{where}: cites {cited}, which is not in the repository")
        elif anchor and anchor not in _anchors(target):
            broken.append(f"{where}: cites {cited}#{anchor}, which has no such section")
    return broken


def test_docstrings_cite_only_files_and_sections_in_the_repository() -> None:
    assert cited_files(), "the scan found no citation at all: the pattern is broken"
    assert broken_citations() == []


def test_a_citation_of_a_missing_file_or_section_is_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.md").write_text("# Notes\n\n## Libraries\n", encoding="utf-8")
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "a.py").write_text(
        '"""See docs/notes.md#libraries and shared/PRODUCT.md."""\n\n'
        'def f():\n    """As docs/notes.md#solvers says."""\n', encoding="utf-8")
    assert broken_citations(tmp_path) == [
        "kernel/a.py: cites shared/PRODUCT.md, which is not in the repository",
        "kernel/a.py: cites docs/notes.md#solvers, which has no such section",
    ]
