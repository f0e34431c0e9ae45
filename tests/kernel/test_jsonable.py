"""The one JSON cleaner: exact money, ISO dates, null for NaN and infinity, optional float rounding."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

from kernel.jsonable import to_jsonable


class Kind(enum.Enum):
    RETRO = "retroactive"


@dataclass
class Line:
    sku: str
    value: Decimal
    when: date
    quantiles: tuple[float, ...]


def test_values_become_json_types_and_money_stays_exact() -> None:
    line = Line("DJK-001", Decimal("1900000.10"), date(2026, 8, 31), (0.1, float("nan")))
    assert to_jsonable(line) == {
        "sku": "DJK-001", "value": "1900000.10", "when": "2026-08-31", "quantiles": [0.1, None]
    }
    stamp = datetime(2026, 8, 31, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    out = to_jsonable({1: stamp, "kind": Kind.RETRO, "n": np.int64(3), "a": np.array([1.5, np.inf]),
                       "s": {"b", "a"}, "none": None, "flag": True})
    assert out == {"1": "2026-08-31T09:30:00+08:00", "kind": "retroactive", "n": 3, "a": [1.5, None],
                   "s": ["a", "b"], "none": None, "flag": True}
    json.dumps(out, allow_nan=False)  # strict JSON: no NaN token anywhere


def test_floats_are_rounded_only_when_asked_and_nested_too() -> None:
    value = {"score": 0.123456789, "scores": {"ets": [1.0000004, -float("inf")]}}
    assert to_jsonable(value) == {"score": 0.123456789, "scores": {"ets": [1.0000004, None]}}
    assert to_jsonable(value, float_digits=6) == {"score": 0.123457, "scores": {"ets": [1.0, None]}}
    assert to_jsonable([]) == [] and to_jsonable({}) == {}
