"""A problem survives the JSON file round trip; a malformed file names the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel.errors import InvalidInput
from replenishment import load_problem, optimize, problem_from_json, problem_to_json, save_problem
from tests.replenishment.builders import agreement, item, problem, sku


def sample():  # type: ignore[no-untyped-def]
    return problem(
        [sku("TEE", 200, 800), sku("JACKET", 800, (10.0, 20, 30, 35, 40, 50), mode="prebuild")],
        [item("TEE", "A", 100, case=100), item("JACKET", "A", 300, case=5, lead=30)],
        [agreement("A", [(1_000_000, 0.02), (2_000_000, 0.035)], 1_900_000, skus=("TEE",))],
        budget=150_000,
    )


def test_round_trip_gives_the_same_problem_and_the_same_plan(tmp_path: Path) -> None:
    original = sample()
    path = tmp_path / "problem.json"
    save_problem(original, path)
    raw = json.loads(path.read_text())
    assert raw["version"] == 1 and raw["budget"] == "150000"
    assert raw["agreements"][0]["tiers"][1] == {"tier": 2, "threshold": "2000000", "rate": "0.035"}
    loaded = load_problem(path)
    assert loaded == original
    assert optimize(loaded).to_dict() | {"solve_s": 0, "build_s": 0} == optimize(original).to_dict() | {
        "solve_s": 0,
        "build_s": 0,
    }


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(version=7), r"version: expected 1, got 7"),
        (lambda d: d["skus"][1].update(price="cheap"), r"skus\[1\]\.price: expected a decimal string"),
        (lambda d: d["items"][0].pop("case_pack"), r"items\[0\]\.case_pack: missing"),
        (lambda d: d["agreements"][0]["tiers"][0].update(rate=None), r"agreements\[0\]\.tiers\[0\]\.rate"),
        (lambda d: d.update(week="next monday"), r"problem\.week: expected an ISO date"),
        (lambda d: d["skus"][0].update(colour="red"), r"skus\[0\]\.colour: unknown field"),
    ],
)
def test_malformed_file_names_the_field(edit, message) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(problem_to_json(sample()))
    edit(data)
    with pytest.raises(InvalidInput, match=message):
        problem_from_json(json.dumps(data))


def test_not_json_at_all() -> None:
    with pytest.raises(InvalidInput, match="not valid JSON"):
        problem_from_json("{oops")
