"""The one way restock turns its values into JSON-ready data (stored JSON columns, files, `--json`).

Dataclasses become objects, `Decimal` a string (money stays exact), dates and datetimes ISO 8601,
an enum its value, tuples and sets lists, numpy scalars and arrays Python numbers and lists, mapping
keys strings, anything else its `str`; a float that is NaN or infinite becomes null (JSON has
no such number) and, when `float_digits` is given, floats are rounded to that many decimals.
"""

from __future__ import annotations

import enum
import math
from dataclasses import fields, is_dataclass
from datetime import date
from decimal import Decimal
from typing import Any


def to_jsonable(value: Any, *, float_digits: int | None = None) -> Any:
    """`value` made of dicts, lists, strings, numbers, booleans and None only (recursively)."""
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, float_digits=float_digits)
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, float_digits) if float_digits is not None else value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), float_digits=float_digits) for f in fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, float_digits=float_digits) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v, float_digits=float_digits) for v in items]
    if callable(getattr(value, "tolist", None)):  # numpy scalars and arrays
        return to_jsonable(value.tolist(), float_digits=float_digits)
    return str(value)
