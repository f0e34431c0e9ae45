"""The optimizer's input (`Problem`) as plain dataclasses, and its JSON file format (version 1).

JSON format: one object with `version` (1), `week` (ISO date, the Monday of the
proposal), `settings` fields (margin_floor, holding_cost_rate_per_year,
obsolescence_rate_per_year, max_cover_days, review_period_days, budget,
category_budgets, capacity_units, fixed_order_cost (CNY per purchase order, i.e.
per supplier ordered from), solver, time_limit_s, mip_gap; the optional ones take
their defaults when absent), `forecast_run_id`, and the lists `skus`,
`suppliers`, `items`, `agreements` (with `tiers`) and `exclusions`, each entry an
object whose keys are the dataclass fields below. Money is CNY as a decimal
string ("1900000.00"); dates are ISO strings; demand quantiles are units over the
SKU's window at `forecasting.QUANTILE_LEVELS` (0.1 … 0.99).
"""

from __future__ import annotations

import enum
import json
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from kernel.errors import InvalidInput
from kernel.jsonable import to_jsonable
from replenishment.reasons import Reason, ReasonCode, render
from suppliers.rebates import Tier

PROBLEM_VERSION = 1
SKU_MODES = ("replenish", "prebuild", "in_season")


@dataclass
class SkuProblem:
    """One SKU to decide: price (CNY), stock position parts (units) and demand over its window.

    `mode` replenish: cover the protection interval [window_start, window_end]
    (lead time + review period) to the service level; prebuild / in_season: a
    one-shot seasonal buy covering the season's demand, leftover sold at
    `salvage_rate` × unit cost at season end.
    """

    code: str
    name: str
    category: str
    price: Decimal
    abc_class: str
    service_level: float
    on_hand: int
    committed: int
    on_order: int
    window_start: date
    window_end: date
    demand_quantiles: tuple[float, ...]
    mode: str = "replenish"
    season: str | None = None
    order_by: date | None = None
    salvage_rate: Decimal = Decimal("0.5")
    season_start: date | None = None
    prebuild_days: int | None = None
    # the open purchase orders `on_order` is made of (when known), each named in the reasons
    open_orders: tuple[OpenOrder, ...] = ()

    @property
    def position(self) -> int:
        """Inventory position: on hand + open POs arriving within the window − committed."""
        return self.on_hand + self.on_order - self.committed

    @property
    def window_days(self) -> int:
        return (self.window_end - self.window_start).days + 1


@dataclass(frozen=True)
class OpenOrder:
    """One purchase order's units of a SKU still to arrive inside the SKU's window: they are
    part of `SkuProblem.on_order`, and the reasons name the PO. `proposal_id`: the approved
    proposal that raised it (None for a PO imported from outside restock)."""

    po_number: str
    supplier: str
    units: int
    expected_date: date
    proposal_id: int | None = None


@dataclass
class SupplierTerms:
    """A supplier; an order to it must reach `min_order_value` CNY or not be placed."""

    code: str
    name: str
    min_order_value: Decimal = Decimal("0")


@dataclass
class SupplierItemTerms:
    """What `supplier` charges for `sku` (CNY per unit) and how it must be ordered."""

    sku: str
    supplier: str
    unit_cost: Decimal
    moq: int
    case_pack: int
    lead_time_days: int


@dataclass
class Agreement:
    """A volume-rebate agreement: tiers, kind, purchases so far this period (CNY).

    `skus` lists the SKUs whose purchases count; None means every item of the supplier.
    Where scopes of one supplier's agreements overlap, a purchase counts toward one
    agreement only: the most specific (a SKU list beats supplier-wide; then the lowest
    code) — `replenishment.instance` says so in the plan's messages.
    `expected_further_purchases` (CNY) are purchases expected later in the period
    besides this proposal; they count toward the tier.
    """

    code: str
    supplier: str
    kind: str
    tiers: tuple[Tier, ...]
    purchases_to_date: Decimal
    expected_further_purchases: Decimal = Decimal("0")
    skus: tuple[str, ...] | None = None


@dataclass
class Exclusion:
    """A SKU (optionally one supplier's terms for it) left out of the proposal, and why.

    `code` and `params` are the reason (see `replenishment.reasons`); `reason` is its words.
    """

    sku: str
    code: ReasonCode
    params: dict[str, Any] = field(default_factory=dict)
    supplier: str | None = None

    @classmethod
    def of(cls, sku: str, reason: Reason, supplier: str | None = None) -> Exclusion:
        return cls(sku, reason.code, dict(reason.params), supplier)

    @property
    def as_reason(self) -> Reason:
        return Reason(self.code, self.params)

    @property
    def reason(self) -> str:
        return render(self.as_reason)


@dataclass
class Problem:
    """Everything `optimize` needs for one weekly proposal; no database, no clock."""

    week: date
    skus: list[SkuProblem]
    suppliers: list[SupplierTerms]
    items: list[SupplierItemTerms]
    agreements: list[Agreement] = field(default_factory=list)
    budget: Decimal | None = None
    category_budgets: dict[str, Decimal] = field(default_factory=dict)
    capacity_units: int | None = None
    margin_floor: float = 0.30
    holding_cost_rate_per_year: float = 0.25
    obsolescence_rate_per_year: float = 0.10
    max_cover_days: int = 120
    review_period_days: int = 7
    fixed_order_cost: Decimal = Decimal("0")
    solver: str = "highs"
    time_limit_s: float = 60.0
    mip_gap: float = 0.01
    forecast_run_id: str | None = None
    exclusions: list[Exclusion] = field(default_factory=list)
    version: int = PROBLEM_VERSION


# --- JSON ----------------------------------------------------------------------------------


def problem_to_json(problem: Problem) -> str:
    """The problem as the documented JSON text (version 1)."""
    return json.dumps(to_jsonable(problem), indent=1, ensure_ascii=False)


def save_problem(problem: Problem, path: Path | str) -> None:
    """Write the problem file (UTF-8 JSON)."""
    Path(path).write_text(problem_to_json(problem) + "\n", encoding="utf-8")


def problem_from_json(text: str, source: str = "problem") -> Problem:
    """Parse a problem file; a malformed one raises `InvalidInput` naming the field path."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{source}: not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInput(f"{source}: expected a JSON object at the top level")
    version = raw.get("version")
    if version != PROBLEM_VERSION:
        raise InvalidInput(f"{source}: version: expected {PROBLEM_VERSION}, got {version!r}")
    return _parse(Problem, raw, source)


def load_problem(path: Path | str) -> Problem:
    """Read a problem file written by `save_problem` (or by hand, same format)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{p}: cannot read problem file: {exc}") from exc
    return problem_from_json(text, source=str(p))


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _parse(cls: type, raw: Any, path: str) -> Any:
    if not isinstance(raw, dict):
        raise InvalidInput(f"{path}: expected an object, got {type(raw).__name__}")
    hints = _hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InvalidInput(f"{path}.{unknown[0]}: unknown field")
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        where = f"{path}.{f.name}"
        if f.name not in raw:
            if f.default is MISSING and f.default_factory is MISSING:
                raise InvalidInput(f"{where}: missing")
            continue
        kwargs[f.name] = _convert(hints[f.name], raw[f.name], where)
    return cls(**kwargs)


def _convert(hint: Any, value: Any, where: str) -> Any:
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if hint is Decimal:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidInput(f"{where}: expected a decimal string, got {value!r}")
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise InvalidInput(f"{where}: expected a decimal string, got {value!r}") from exc
        if not number.is_finite():
            raise InvalidInput(f"{where}: expected a finite number, got {value!r}")
        return number
    if hint is date:
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"{where}: expected an ISO date YYYY-MM-DD, got {value!r}") from exc
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise InvalidInput(f"{where}: expected a string, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise InvalidInput(f"{where}: expected a list, got {type(value).__name__}")
        item_hint = args[0]
        items = [_convert(item_hint, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidInput(f"{where}: expected an object, got {type(value).__name__}")
        return {k: _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError as exc:
            raise InvalidInput(f"{where}: unknown value {value!r}") from exc
    if is_dataclass(hint):
        return _parse(hint, value, where)
    raise InvalidInput(f"{where}: unsupported field type {hint!r}")  # pragma: no cover
