"""A validated, array-friendly view of a `Problem`: targets, eligible lines, agreements (pure).

Bad input never stops the proposal: a SKU, supplier item or agreement that fails
validation is left out with a message naming it and the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import timedelta
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
from replenishment.value import StockValue
from suppliers.rebates import AGREEMENT_KINDS, rebate_earned, tier_reached, validate_tiers

ABC_PRIORITY = {"A": 0, "B": 1, "C": 2}
# Most stock a seasonal buy may reach, as a multiple of the top of its season's demand
# curve (F = 1): beyond demand, stock only pays through a rebate tier. Replenishment stock
# is capped in days of cover instead (`Problem.max_cover_days`).
OVERBUY_FACTOR = 2.0
# Breakpoints of a SKU's piecewise-linear value: every whole-case stock level when there
# are at most `EXACT_LEVELS`, else levels chosen until the chords are nowhere more than
# `CHORD_TOLERANCE` CNY below Φ (or `MAX_BREAKPOINTS` is reached; replenishment.value).
EXACT_LEVELS = 96
MAX_BREAKPOINTS = 64
MEASURED_LEVELS = 600
CHORD_TOLERANCE = 1.0
# Instances with more SKUs than this get at most `LARGE_BREAKPOINTS` breakpoints per SKU
# (chosen by deviation on `LARGE_MEASURED_LEVELS` levels): the LP held at a tier vector
# stays small enough for 10k SKUs; the chords' remaining error enters the proven gap (32
# breakpoints: ¥78k on the 10k-SKU bench, 0.12 % of the increment; 20 left ¥207k) and the
# final plan is polished on the exact Φ. Small instances keep every whole-case level.
LARGE_INSTANCE_SKUS = 2_000
LARGE_BREAKPOINTS = 32
LARGE_MEASURED_LEVELS = 300
# Objective cost of a committed customer unit left uncovered, per unit: this many times
# (price + the SKU's dearest smallest order) + one fixed order cost — more than covering
# it can ever cost, so every plan covers committed orders whenever the limits allow.
SHORTFALL_PENALTY_PER_PRICE = 10.0


@dataclass
class SkuData:
    """One SKU's demand curve, position (units), per-unit economics (CNY) and stock value.

    `carry_value`: what a unit left at the end of the window is worth (its cost for
    stock that sells on, the salvage value at season end); `holding`: holding cost
    of such a unit (held two windows when it sells on, the season when seasonal);
    leftovers held longer than that age (`replenishment.value`). `target`: order-up-to
    level at the service level (replenish) or the newsvendor stock at the critical
    ratio (seasonal). `value_points` / `value_values`: the whole-case stock levels and
    Φ at them — the MILP's concave chords.
    """

    sku: SkuProblem
    curve: DemandCurve
    stock_value: StockValue
    position: int
    reference_cost: float
    carry_value: float
    holding: float
    target: float
    critical_ratio: float | None
    max_stock: float
    value_points: np.ndarray = field(default_factory=lambda: np.zeros(1))
    value_values: np.ndarray = field(default_factory=lambda: np.zeros(1))
    chord_error: float = 0.0
    shortfall_penalty: float = 0.0
    value_at_position: float = 0.0
    chord_at_position: float = 0.0
    sales_at_position: float = 0.0
    mean_demand: float = 0.0
    lines: list[int] = field(default_factory=list)
    # rule 7: the SKU's own (fastest) window keeps `alternative_of` None and lists in
    # `alternatives` the indexes of the same SKU in slower options' longer windows
    alternative_of: int | None = None
    alternatives: list[int] = field(default_factory=list)
    extra_lead_days: int = 0

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
        return self.mean_demand / max(self.sku.window_days, 1)

    def value(self, stock: float) -> float:
        """Φ(stock), exact (CNY)."""
        if stock == self.position:
            return self.value_at_position
        return self.stock_value.value(stock)

    def value_chord(self, stock: float) -> float:
        """Φ by its chords (the MILP's value); linear at the price below the first point."""
        points, values = self.value_points, self.value_values
        if stock < points[0]:
            return float(values[0] + self.price * (stock - points[0]))
        return float(np.interp(stock, points, values))


@dataclass
class LineData:
    """One SKU × supplier option. `tier_needed`: 0 when the margin floor holds at list cost,
    t when it holds only once tier t of `agreement` is reached, -1 when never;
    `needed_rate`: the least rebate rate on this purchase that clears the floor (0 when
    none is needed). Under an incremental agreement reaching tier t is not enough: the
    rate the proposal's purchase actually earns must reach `needed_rate` (rule 5)."""

    sku: int
    item: SupplierItemTerms
    cost: float
    case: int
    moq_cases: int
    max_cases: int
    agreement: int
    tier_needed: int
    margin_at_cost: float
    needed_rate: Decimal = Decimal(0)

    @property
    def supplier(self) -> str:
        return self.item.supplier

    @property
    def admissible(self) -> bool:
        return self.tier_needed >= 0 and self.max_cases > 0

    @property
    def case_value(self) -> float:
        return self.cost * self.case

    @property
    def case_value_exact(self) -> Decimal:
        """One case at the unit cost, exact (CNY): tiers are judged on these."""
        return self.item.unit_cost * self.case


@dataclass
class AgreementData:
    """An agreement with thresholds and base (purchases so far + expected further) in CNY.

    Floats (`thresholds`, `rates`, `base`) feed the MILP; tiers and rebates are judged on
    exact decimals (`base_exact` + an exact purchase total), never through a float.
    """

    agreement: Agreement
    thresholds: list[float]
    rates: list[float]
    base: float
    base_exact: Decimal = Decimal(0)
    lines: list[int] = field(default_factory=list)

    def tier_of(self, total: Decimal) -> int:
        """Tier reached by a period total (CNY, exact)."""
        return tier_reached(_exact(total), self.agreement.tiers)

    def tier_after(self, purchase: Decimal) -> int:
        """Tier the period reaches with this proposal's purchase (CNY, exact) on top of the base."""
        return self.tier_of(self.base_exact + _exact(purchase))

    def rebate_gain_exact(self, purchase: Decimal) -> Decimal:
        """Rebate (CNY) this proposal's purchase adds on top of what the base already earns
        (retroactive: including the uplift on the period's earlier purchases)."""
        kind = self.agreement.kind
        after = self.base_exact + _exact(purchase)
        tiers = self.agreement.tiers
        return rebate_earned(after, tiers, kind) - rebate_earned(self.base_exact, tiers, kind)

    def rebate_gain(self, purchase: Decimal) -> float:
        return float(self.rebate_gain_exact(purchase))

    def effective_rate(self, purchase: Decimal) -> Decimal:
        """The rebate rate this proposal's own purchase earns (issue 12, rule 5).

        Retroactive: the rate of the tier the period reaches (the uplift on earlier
        purchases is a gain of the period, not a discount on these goods). Incremental: the
        rebate the purchase adds ÷ the purchase — a purchase that lands exactly on a
        threshold earns the lower tiers' rates only.
        """
        purchase = _exact(purchase)
        if purchase <= 0:
            return Decimal(0)
        if self.agreement.kind == "incremental":
            return self.rebate_gain_exact(purchase) / purchase
        reached = self.tier_after(purchase)
        return self.agreement.tiers[reached - 1].rate if reached else Decimal(0)


def _exact(amount: Decimal | float | int) -> Decimal:
    if isinstance(amount, Decimal):
        return amount
    if isinstance(amount, int):
        return Decimal(amount)
    raise TypeError(f"money must be exact (Decimal or int), got {type(amount).__name__} {amount!r}")


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
                base_exact=ag.purchases_to_date + ag.expected_further_purchases,
            )
        )

    items_by_sku: dict[str, list[SupplierItemTerms]] = {}
    for item in problem.items:
        items_by_sku.setdefault(item.sku, []).append(item)

    skus: list[SkuData] = []
    lines: list[LineData] = []
    limits: tuple[int | None, ...] = (None, None, None)
    if len(problem.skus) > LARGE_INSTANCE_SKUS:
        limits = (LARGE_BREAKPOINTS, LARGE_BREAKPOINTS, LARGE_MEASURED_LEVELS)
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
        # Rule 7 (issue 12): each supplier option covers its own protection window. The SKU's
        # window is its fastest options' (lead time + review period); an option L days slower
        # covers a window L days longer, so it gets its own demand curve and value Φ (an
        # alternative `SkuData` of the same SKU) and its own stockout risk. A proposal buys a
        # SKU within one window (`alternatives`: at most one is bought).
        variants = _window_variants(sku, usable)
        primary: int | None = None
        for sku, usable in variants:  # each variant: the SKU in one option's window
            curve = demand_curve(sku.demand_quantiles)
            reference_cost = min(float(item.unit_cost) for item in usable)
            seasonal = sku.mode != "replenish"
            # A unit left over at the end of a replenishment window sells on in the next one, so
            # it is held about two windows (longer ones age: replenishment.value); a seasonal
            # leftover is held until the season ends and sold at its salvage value.
            held_days = sku.window_days if seasonal else 2 * sku.window_days
            holding = reference_cost * problem.holding_cost_rate_per_year * held_days / 365.0
            carry = float(sku.salvage_rate) * reference_cost if seasonal else reference_cost
            ratio = None
            daily = curve.mean / max(sku.window_days, 1)
            if seasonal:
                ratio = critical_ratio(float(sku.price), reference_cost, holding, carry)
                target = curve.quantile(ratio)
                cap_stock = OVERBUY_FACTOR * float(curve.units[-1])
                aging_start, aging_slope = math.inf, 0.0
            else:
                target = curve.quantile(sku.service_level)
                cap_stock = daily * problem.max_cover_days
                aging_start = daily * held_days
                aging_slope = (
                    reference_cost
                    * (problem.holding_cost_rate_per_year + problem.obsolescence_rate_per_year)
                    / 365.0
                    / daily
                    if daily > 0
                    else 0.0
                )
            price = float(sku.price)
            sales_weight = price - carry + holding
            stock_value = StockValue(curve, price, sales_weight, carry - holding, aging_start, aging_slope)
            data = SkuData(
                sku=sku,
                curve=curve,
                stock_value=stock_value,
                position=sku.position,
                reference_cost=reference_cost,
                carry_value=carry,
                holding=holding,
                target=target,
                critical_ratio=ratio,
                max_stock=cap_stock,
            )
            sku_index = len(skus)
            skus.append(data)
            room = max(cap_stock - sku.position, data.need, 0.0)
            for item in usable:
                cost = float(item.unit_cost)
                moq_cases = max(1, math.ceil(item.moq / item.case_pack))
                max_cases = math.ceil(room / item.case_pack) if room > 0 else 0
                if max_cases > 0:
                    max_cases = max(max_cases, moq_cases)
                agreement, covering = _agreement_for(agreements, sku.code, item.supplier)
                if len(covering) > 1:
                    messages.append(
                        f"SKU {sku.code} from supplier {item.supplier} is in the scope of agreements "
                        f"{', '.join(covering)}; its purchases count toward {covering[0]} only "
                        "(the most specific scope)"
                    )
                price = float(sku.price)
                margin = (price - cost) / price
                tier_needed = 0
                # the floor is judged exactly: price − cost × (1 − rate) ≥ floor × price
                floor_exact = Decimal(str(floor))
                needed_rate = Decimal(0)
                if sku.price - item.unit_cost < floor_exact * sku.price:
                    tier_needed = -1
                    needed_rate = 1 - (1 - floor_exact) * sku.price / item.unit_cost
                    if agreement >= 0:
                        for tier in agreements[agreement].agreement.tiers:
                            if tier.rate >= needed_rate:
                                tier_needed = tier.tier
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
                        needed_rate=needed_rate,
                    )
                )
                data.lines.append(line_index)
                if agreement >= 0:
                    agreements[agreement].lines.append(line_index)
            highest = sku.position + sum(lines[i].max_cases * lines[i].case for i in data.lines)
            step = math.gcd(*(lines[i].case for i in data.lines))
            data.value_points, data.chord_error = stock_value.breakpoints(
                sku.position, highest, step, *limits
            )
            data.value_values = stock_value.values(data.value_points)
            data.value_at_position = stock_value.value(sku.position)
            data.sales_at_position = data.curve.expected_sales(sku.position)
            data.chord_at_position = data.value_chord(float(sku.position))
            data.mean_demand = data.curve.mean
            smallest_order = max(lines[i].cost * lines[i].moq_cases * lines[i].case for i in data.lines)
            data.shortfall_penalty = SHORTFALL_PENALTY_PER_PRICE * (price + smallest_order) + float(
                problem.fixed_order_cost
            )
            data.alternative_of = primary
            data.extra_lead_days = sku.window_days - variants[0][0].window_days
            if primary is None:
                primary = sku_index
            else:
                skus[primary].alternatives.append(sku_index)
        assert primary is not None
        data = skus[primary]
        every_line = data.lines + [k for alt in data.alternatives for k in skus[alt].lines]
        if all(lines[i].tier_needed < 0 for i in every_line):
            exclusions.append(
                Exclusion.of(data.sku.code, _below_floor(data.sku, every_line, lines, agreements, floor))
            )
    min_order_value = {code: float(s.min_order_value) for code, s in suppliers.items()}
    return Instance(problem, skus, lines, agreements, min_order_value, exclusions, messages)


def _window_variants(
    sku: SkuProblem, usable: list[SupplierItemTerms]
) -> list[tuple[SkuProblem, list[SupplierItemTerms]]]:
    """The SKU in each supplier option's protection window (rule 7): its own window for the
    options with the shortest lead time, then one per longer lead time L + Δ: the window
    Δ days longer, its demand quantiles scaled by (days + Δ) / days (the forecast rate over
    the longer window; its spread scales alike, a cautious choice). Seasonal buys cover the
    season whatever the lead time: one variant."""
    if sku.mode != "replenish":
        return [(sku, usable)]
    by_lead: dict[int, list[SupplierItemTerms]] = {}
    for item in usable:
        by_lead.setdefault(item.lead_time_days, []).append(item)
    if len(by_lead) == 1:
        return [(sku, usable)]
    fastest = min(by_lead)
    out = [(sku, by_lead[fastest])]
    days = sku.window_days
    for lead in sorted(by_lead)[1:]:
        extra = lead - fastest
        scale = (days + extra) / days
        longer = replace(
            sku,
            window_end=sku.window_end + timedelta(days=extra),
            demand_quantiles=tuple(q * scale for q in sku.demand_quantiles),
        )
        out.append((longer, by_lead[lead]))
    return out


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


def _agreement_for(agreements: list[AgreementData], sku: str, supplier: str) -> tuple[int, list[str]]:
    """The one agreement a purchase of `sku` from `supplier` counts toward, and the codes of
    every agreement whose scope covers it: the most specific (a SKU list before a
    supplier-wide scope), then the lowest code."""
    candidates = sorted(
        (a.agreement.skus is None, a.agreement.code, index)
        for index, a in enumerate(agreements)
        if a.agreement.supplier == supplier and (a.agreement.skus is None or sku in a.agreement.skus)
    )
    if not candidates:
        return -1, []
    return candidates[0][2], [code for _, code, _ in candidates]
