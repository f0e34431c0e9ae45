"""docs/exit-codes.md lists every exit code restock ends with, and each named error class under its
code (issue 10 item 8); "internal error" (70) is left for what no class names."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from kernel.errors import RestockError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kernel", "forecasting", "replenishment", "suppliers", "restock", "scheduler", "simulation")


def _documented() -> dict[int, str]:
    """Exit code -> the text of its table row."""
    rows: dict[int, str] = {}
    for line in (ROOT / "docs" / "exit-codes.md").read_text(encoding="utf-8").splitlines():
        found = re.match(r"^\|\s*(\d+)\s*\|(.*)$", line)
        if found:
            rows[int(found.group(1))] = found.group(2)
    return rows


def _error_classes() -> list[type[RestockError]]:
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if ".migrations." in info.name:
                continue
            importlib.import_module(info.name)
    seen: list[type[RestockError]] = []
    todo = [RestockError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in seen if c.__module__.split(".")[0] in PACKAGES]


def test_every_error_class_is_listed_under_its_exit_code() -> None:
    rows = _documented()
    missing = [
        f"{cls.__module__}.{cls.__name__} (exit {cls.exit_code})"
        for cls in _error_classes()
        if f"`{cls.__name__}`" not in rows.get(cls.exit_code, "")
    ]
    assert missing == []
    assert {0, 1, 2, 70} <= set(rows)


def test_internal_error_is_the_one_code_no_class_has() -> None:
    assert 70 not in {cls.exit_code for cls in _error_classes()}
    assert "a bug in restock" in _documented()[70]
