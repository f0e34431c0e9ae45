"""Imports point one way (docs/architecture.md): kernel ← domain ← shell; the test walks every module's ast.

`RULES` is the one table of who may import whom. Every top-level package of the repository needs a
row, so a new package (a replay or web package, say) fails here until it declares its place. An
entry in `packages` allows the whole package; an entry in `modules` allows exactly that module
(`"forecasting"` is forecasting's public API, its `__init__`, and none of its submodules).
Imports inside functions and under `if TYPE_CHECKING:` count: they are arrows too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Rule:
    """What one package may import from the project, besides itself."""

    packages: frozenset[str] = frozenset()
    modules: frozenset[str] = frozenset()
    why: str = ""


DOMAIN = frozenset({"forecasting", "suppliers", "replenishment"})
EVERYTHING = "*"

RULES: dict[str, Rule | str] = {
    "kernel": Rule(why="the shared kernel imports no other package of the project"),
    "forecasting": Rule(frozenset({"kernel"}), why="a domain package: the kernel only"),
    "suppliers": Rule(frozenset({"kernel"}), why="a domain package: the kernel only"),
    "replenishment": Rule(
        frozenset({"kernel", "suppliers"}),
        frozenset({"forecasting"}),
        why="reads demand through forecasting's public API only; uses suppliers' terms and tier math",
    ),
    # Policy replay (issue 16): a domain package above the others; only the shell imports it.
    "simulation": Rule(
        DOMAIN | {"kernel"},
        why="replays past weeks through forecasting and the optimizer; never the shell",
    ),
    "scheduler": Rule(
        DOMAIN | {"kernel"},
        frozenset(
            {"restock.db", "restock.settings", "restock.inbox", "restock.backup", "restock.cli.export"}
        ),
        why="orchestration: calls the domain; of the shell its database and settings helpers, the "
        "import-inbox and backup services it schedules, and the export's per-supplier file style",
    ),
    "restock": EVERYTHING,  # the shell: settings, database, CLI, import, demo
    "bench": EVERYTHING,  # measurements drive every layer
    "tests": EVERYTHING,
}


@dataclass(frozen=True)
class Arrow:
    source: str  # module path relative to the root, e.g. forecasting/services.py
    line: int
    target: str  # imported module, e.g. restock.settings


@dataclass
class Violation:
    arrow: Arrow
    rule: str = field(default="")

    def __str__(self) -> str:
        return f"{self.arrow.source}:{self.arrow.line}: imports {self.arrow.target} ({self.rule})"


def project_packages(root: Path = ROOT) -> set[str]:
    """Top-level directories of the repository that are Python packages."""
    return {p.parent.name for p in root.glob("*/__init__.py")}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str, root: Path) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path, root: Path = ROOT) -> list[Arrow]:
    """Every project module `path` imports (at any depth of the tree), one arrow per module.

    `from pkg import name` points at `pkg.name` when that is a module of the project, else at `pkg`.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    source = str(path.relative_to(root))
    here = module_name(path, root).split(".")
    is_package = path.name == "__init__.py"
    arrows: list[Arrow] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            arrows += [Arrow(source, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                anchor = here if is_package else here[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = ".".join(part for part in (base, alias.name) if part)
                target = candidate if _is_module(candidate, root) else base
                arrows.append(Arrow(source, node.lineno, target))
    packages = project_packages(root)
    return [a for a in arrows if a.target.split(".")[0] in packages]


def check(root: Path = ROOT, rules: dict[str, Rule | str] = RULES) -> list[Violation]:
    """Every arrow against the rules, and every package without a rule."""
    violations: list[Violation] = []
    for package in sorted(project_packages(root)):
        rule = rules.get(package)
        if rule is None:
            violations.append(Violation(Arrow(f"{package}/__init__.py", 1, package),
                                        "a package without a row in RULES: declare what it may import"))
            continue
        if rule == EVERYTHING:
            continue
        assert isinstance(rule, Rule)
        for path in sorted((root / package).rglob("*.py")):
            for arrow in imports_of(path, root):
                top = arrow.target.split(".")[0]
                allowed = (
                    top == package
                    or top in rule.packages
                    or arrow.target in rule.modules
                )
                if not allowed:
                    violations.append(Violation(arrow, f"{package} may import only "
                                                f"{sorted(rule.packages | rule.modules) or 'itself'}"))
    return violations


def test_every_import_points_the_allowed_way() -> None:
    violations = check()
    assert not violations, "imports against the direction in docs/architecture.md:\n" + "\n".join(
        map(str, violations)
    )


def test_the_kernel_and_the_domain_never_import_the_shell() -> None:
    # Stated separately so that widening a rule by accident cannot let the shell back in.
    for package in ("kernel", *sorted(DOMAIN)):
        rule = RULES[package]
        assert isinstance(rule, Rule)
        assert "restock" not in rule.packages
        assert not any(m.split(".")[0] == "restock" for m in rule.modules)
    assert RULES["kernel"] == Rule(why=RULES["kernel"].why)  # type: ignore[union-attr]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"forecasting/services.py": "from restock.settings import Settings\n"},
         ["forecasting/services.py:1: imports restock.settings"]),
        ({"kernel/clock.py": "def f():\n    import forecasting.calendar\n"},
         ["kernel/clock.py:2: imports forecasting.calendar"]),
        ({"replenishment/services.py": "from forecasting.services import latest_run\n"},
         ["replenishment/services.py:1: imports forecasting.services"]),
        ({"replenishment/services.py": "from forecasting import services\n"},
         ["replenishment/services.py:1: imports forecasting.services"]),
        ({"suppliers/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                            "    from replenishment.plan import Plan\n"},
         ["suppliers/x.py:3: imports replenishment.plan"]),
        ({"replay/__init__.py": ""}, ["replay/__init__.py:1: imports replay"]),
        ({"replenishment/services.py": "from forecasting import total_demand\nimport suppliers.rebates\n"
                                       "from kernel.orm import Base\nimport pandas\n"}, []),
        ({"scheduler/jobs.py": "from restock.db import get_engine\nfrom replenishment import plan\n"}, []),
        ({"scheduler/jobs.py": "from restock.cli.main import app\n"},
         ["scheduler/jobs.py:1: imports restock.cli.main"]),
    ],
)
def test_the_walk_catches_each_kind_of_arrow(
    tmp_path: Path, files: dict[str, str], expected: list[str]
) -> None:
    base = {f"{p}/__init__.py": "" for p in ("kernel", "forecasting", "suppliers", "replenishment",
                                              "scheduler", "restock")}
    _write(tmp_path, {**base, "restock/settings.py": "", "restock/db.py": "", "restock/cli/__init__.py": "",
                      "restock/cli/main.py": "", "forecasting/services.py": "", "forecasting/calendar.py": "",
                      "replenishment/plan.py": "", "suppliers/rebates.py": "", "kernel/orm.py": "", **files})
    found = [str(v).split(" (")[0] for v in check(tmp_path)]
    assert found == expected


def test_relative_imports_resolve_to_the_module_they_name(tmp_path: Path) -> None:
    _write(tmp_path, {"forecasting/__init__.py": "", "forecasting/services.py": "",
                      "forecasting/sub/__init__.py": "from . import m\n",
                      "forecasting/sub/m.py": "from ..services import run\nfrom .. import services\n"})
    targets = [a.target for a in imports_of(tmp_path / "forecasting/sub/m.py", tmp_path)]
    assert targets == ["forecasting.services", "forecasting.services"]
    assert [a.target for a in imports_of(tmp_path / "forecasting/sub/__init__.py", tmp_path)] == [
        "forecasting.sub.m"
    ]
