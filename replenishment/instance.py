"""A validated, array-friendly view of a `Problem`: targets, eligible lines, agreements (pure).

Bad input never stops the proposal: a SKU, supplier item or agreement that fails
validation is left out with a message naming it and the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from kernel.errors import InvalidInput
from replenishment.demand import QUANTILE_LEVELS, DemandCurve, critical_ratio, demand_curve
from replenishment.problem import (
    SKU_MODES,
    Agreement,
    Exclusion,
    Problem,
    SkuProblem,
    SupplierItemTerms,
)
from replenishment.reasons import Reason, ReasonCode
from suppliers.rebates import AGREEMENT_KINDS, rebate_earned, tier_reached, validate_tiers

ABC_PRIORITY = {"A": 0, "B": 1, "C": 2}
# Most stock a line may bring a SKU to, as a multiple of the top of its window's demand
# curve (F = 1): beyond demand, stock only pays through a rebate tier.
OVERBUY_FACTOR = 2.0


@dataclass
class SkuData:
    """One SKU's demand curve, position (units) and per-unit economics (CNY).

    `carry_value`: what a unit left at the end of the window is worth (its cost for
    stock that sells on, the salvage value at season end); `holding`: holding cost
    of such a unit (held two windows when it sells on, the season when seasonal).
    `target`: order-up-to level at the service level
    (replenish) or the newsvendor stock at the critical ratio (seasonal).
    """

    sku: SkuProblem
    curve: DemandCurve
    chord_points: np.ndarray
    chord_values: np.ndarray
    position: int
    reference_cost: float
    carry_value: float
    holding: float
    target: float
    critical_ratio: float | None
    lines: list[int] = field(default_factory=list)

    @property
    def price(self) -> float:
        return float(self.sku.price)

    @property
    def need(self) -> float:
        """Units short of the target (0 when the position covers it)."""
        return max(0.0, self.target - self.position)

    @property
    def sales_weight(self) -> float:
        """Objective weight of one expected unit sold: price − carry value + holding (CNY)."""
        return self.price - self.carry_value + self.holding

    @property
    def stock_weight(self) -> float:
        """Objective weight of one unit of stock: carry value − holding (CNY)."""
        return self.carry_value - self.holding

    @property
    def daily_demand(self) -> float:
        return self.curve.mean / max(self.sku.window_days, 1)


@dataclass
class LineData:
    """One SKU × supplier option. `tier_needed`: 0 when the margin floor holds at list cost,
    t when it holds only once tier t of `agreement` is reached, -1 when never."""

    sku: int
    item: SupplierItemTerms
    cost: float
    case: int
    moq_cases: int
    max_cases: int
    agreement: int
    tier_needed: int
    margin_at_cost: float

    @property
    def supplier(self) -> str:
        return self.item.supplier

    @property
    def admissible(self) -> bool:
        return self.tier_needed >= 0 and self.max_cases > 0

    @property
    def case_value(self) -> float:
        return self.cost * self.case


@dataclass
class AgreementData:
    """An agreement with thresholds and base (purchases so far + expected further) in CNY."""

    agreement: Agreement
    thresholds: list[float]
    rates: list[float]
    base: float
    lines: list[int] = field(default_factory=list)

    def tier_of(self, total: float) -> int:
        return tier_reached(Decimal(str(total)), self.agreement.tiers)

    def rebate_gain(self, purchase: float) -> float:
        """Rebate (CNY) this proposal's purchase adds on top of what the base already earns."""
        kind = self.agreement.kind
        before = Decimal(str(self.base))
        after = before + Decimal(str(purchase))
        tiers = self.agreement.tiers
        return float(rebate_earned(after, tiers, kind) - rebate_earned(before, tiers, kind))


@dataclass
class Instance:
    """Everything the MILP, the greedy proposal and the evaluation share."""

    problem: Problem
    skus: list[SkuData]
    lines: list[LineData]
    agreements: list[AgreementData]
    min_order_value: dict[str, float]
    exclusions: list[Exclusion]
    messages: list[str]

    def lines_of_supplier(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for index, line in enumerate(self.lines):
            out.setdefault(line.supplier, []).append(index)
        return out


def prepare(problem: Problem) -> Instance:
    """Validate `problem` and derive targets and options; bad entries become exclusions."""
    if problem.budget is not None and problem.budget < 0:
        raise InvalidInput(f"budget: must be ≥ 0 CNY, got {problem.budget}")
    if not 0 <= problem.margin_floor < 1:
        raise InvalidInput(f"margin_floor: must be in [0, 1), got {problem.margin_floor}")
    exclusions = list(problem.exclusions)
    messages: list[str] = []
    floor = problem.margin_floor
    suppliers = {s.code: s for s in problem.suppliers}

    agreements: list[AgreementData] = []
    for ag in problem.agreements:
        try:
            if ag.kind not in AGREEMENT_KINDS:
                raise InvalidInput(
                    f"agreement {ag.code}: kind: expected one of {AGREEMENT_KINDS}, got {ag.kind!r}"
                )
            validate_tiers(ag.tiers, ag.code)
            if ag.supplier not in suppliers:
                raise InvalidInput(f"agreement {ag.code}: supplier: unknown supplier {ag.supplier!r}")
            if ag.purchases_to_date < 0:
                raise InvalidInput(
                    f"agreement {ag.code}: purchases_to_date: must be ≥ 0, got {ag.purchases_to_date}"
                )
        except InvalidInput as exc:
            messages.append(f"{exc}; agreement ignored (no rebate counted)")
            continue
        agreements.append(
            AgreementData(
                agreement=ag,
                thresholds=[float(t.threshold) for t in ag.tiers],
                rates=[float(t.rate) for t in ag.tiers],
                base=float(ag.purchases_to_date + ag.expected_further_purchases),
            )
        )

    items_by_sku: dict[str, list[SupplierItemTerms]] = {}
    for item in problem.items:
        items_by_sku.setdefault(item.sku, []).append(item)

    skus: list[SkuData] = []
    lines: list[LineData] = []
    for sku in problem.skus:
        invalid = _sku_problem(sku)
        if invalid:
            exclusions.append(Exclusion.of(sku.code, invalid))
            continue
        usable: list[SupplierItemTerms] = []
        for item in items_by_sku.get(sku.code, []):
            item_problem = _item_problem(item, suppliers)
            if item_problem:
                exclusions.append(Exclusion.of(sku.code, item_problem, supplier=item.supplier))
            else:
                usable.append(item)
        if not usable:
            exclusions.append(
                Exclusion.of(
                    sku.code,
                    Reason(
                        ReasonCode.INVALID_TERMS,
                        {"field": "supplier items", "problem": "no active supplier with valid terms"},
                    ),
                )
            )
            continue
        curve = demand_curve(sku.demand_quantiles)
        points, values = curve.chords()
        reference_cost = min(float(item.unit_cost) for item in usable)
        seasonal = sku.mode != "replenish"
        # A unit left over at the end of a replenishment window sells on in the next one, so
        # it is held about two windows; a seasonal leftover is held until the season ends.
        held_days = sku.window_days if seasonal else 2 * sku.window_days
        holding = reference_cost * problem.holding_cost_rate_per_year * held_days / 365.0
        carry = float(sku.salvage_rate) * reference_cost if seasonal else reference_cost
        ratio = None
        if seasonal:
            ratio = critical_ratio(float(sku.price), reference_cost, holding, carry)
            target = curve.quantile(ratio)
        else:
            target = curve.quantile(sku.service_level)
        data = SkuData(
            sku=sku,
            curve=curve,
            chord_points=points,
            chord_values=values,
            position=sku.position,
            reference_cost=reference_cost,
            carry_value=carry,
            holding=holding,
            target=target,
            critical_ratio=ratio,
        )
        sku_index = len(skus)
        skus.append(data)
        room = max(OVERBUY_FACTOR * curve.units[-1] - sku.position, data.need, 0.0)
        for item in usable:
            cost = float(item.unit_cost)
            moq_cases = max(1, math.ceil(item.moq / item.case_pack))
            max_cases = math.ceil(room / item.case_pack) if room > 0 else 0
            if max_cases > 0:
                max_cases = max(max_cases, moq_cases)
            agreement = _agreement_for(agreements, sku.code, item.supplier)
            price = float(sku.price)
            margin = (price - cost) / price
            tier_needed = 0
            if margin < floor - 1e-12:
                tier_needed = -1
                if agreement >= 0:
                    for number, rate in enumerate(agreements[agreement].rates, start=1):
                        if (price - cost * (1 - rate)) / price >= floor - 1e-12:
                            tier_needed = number
                            break
            line_index = len(lines)
            lines.append(
                LineData(
                    sku=sku_index,
                    item=item,
                    cost=cost,
                    case=item.case_pack,
                    moq_cases=moq_cases,
                    max_cases=max_cases,
                    agreement=agreement,
                    tier_needed=tier_needed,
                    margin_at_cost=margin,
                )
            )
            data.lines.append(line_index)
            if agreement >= 0:
                agreements[agreement].lines.append(line_index)
        if all(lines[i].tier_needed < 0 for i in data.lines):
            exclusions.append(Exclusion.of(sku.code, _below_floor(sku, data.lines, lines, agreements, floor)))
    min_order_value = {code: float(s.min_order_value) for code, s in suppliers.items()}
    return Instance(problem, skus, lines, agreements, min_order_value, exclusions, messages)


def _invalid(field: str, problem: str, code: ReasonCode = ReasonCode.INVALID_INPUT) -> Reason:
    return Reason(code, {"field": field, "problem": problem})


def _sku_problem(sku: SkuProblem) -> Reason | None:
    if sku.price <= 0:
        return _invalid("price", f"must be > 0 CNY, got {sku.price}")
    if sku.mode not in SKU_MODES:
        return _invalid("mode", f"expected one of {SKU_MODES}, got {sku.mode!r}")
    q = sku.demand_quantiles
    if len(q) != len(QUANTILE_LEVELS) or any(not math.isfinite(v) or v < 0 for v in q):
        return _invalid(
            "demand_quantiles",
            f"forecast missing or malformed for this SKU (expected {len(QUANTILE_LEVELS)} finite "
            f"values ≥ 0, got {list(q)})",
        )
    if not 0.5 <= sku.service_level < 1:
        return _invalid("service_level", f"must be in [0.5, 1), got {sku.service_level}")
    if sku.window_end < sku.window_start:
        return _invalid("window_end", f"{sku.window_end} is before window_start {sku.window_start}")
    return None


def _item_problem(item: SupplierItemTerms, suppliers: dict) -> Reason | None:  # type: ignore[type-arg]
    where = f"supplier {item.supplier}"
    code = ReasonCode.INVALID_TERMS
    if item.supplier not in suppliers:
        return _invalid(f"{where}: supplier", "no terms for this supplier", code)
    if item.unit_cost <= 0:
        return _invalid(f"{where}: unit_cost", f"must be > 0 CNY, got {item.unit_cost}", code)
    if item.case_pack < 1:
        return _invalid(f"{where}: case_pack", f"must be ≥ 1, got {item.case_pack}", code)
    if item.moq < 1:
        return _invalid(f"{where}: moq", f"must be ≥ 1, got {item.moq}", code)
    if item.lead_time_days < 0:
        return _invalid(f"{where}: lead_time_days", f"must be ≥ 0, got {item.lead_time_days}", code)
    return None


def _below_floor(
    sku: SkuProblem,
    line_indexes: list[int],
    lines: list[LineData],
    agreements: list[AgreementData],
    floor: float,
) -> Reason:
    """Below the margin floor whatever tier is reached: the best margin any supplier offers, at
    its agreement's top rate (exact CNY: unit cost × (1 − top rate))."""
    best_cost: Decimal | None = None
    for index in line_indexes:
        line = lines[index]
        top = agreements[line.agreement].agreement.tiers[-1].rate if line.agreement >= 0 else Decimal(0)
        cost = line.item.unit_cost * (1 - top)
        best_cost = cost if best_cost is None or cost < best_cost else best_cost
    assert best_cost is not None
    margin = (sku.price - best_cost) / sku.price * 100
    return Reason(
        ReasonCode.BELOW_MARGIN_FLOOR,
        {
            "floor_pct": f"{Decimal(repr(floor * 100)).quantize(Decimal('0.1'))}",
            "margin_pct": f"{margin.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}",
            "price": f"{sku.price.quantize(Decimal('0.01'))}",
            "best_cost": f"{best_cost.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}",
        },
    )


def _agreement_for(agreements: list[AgreementData], sku: str, supplier: str) -> int:
    # One agreement per line: the first (by code) whose scope covers the SKU.
    candidates = [
        (a.agreement.code, index)
        for index, a in enumerate(agreements)
        if a.agreement.supplier == supplier and (a.agreement.skus is None or sku in a.agreement.skus)
    ]
    return min(candidates)[1] if candidates else -1
