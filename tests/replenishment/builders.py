"""Tiny literal problems for the optimizer tests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from replenishment.problem import (
    Agreement,
    Problem,
    SkuProblem,
    SupplierItemTerms,
    SupplierTerms,
)
from suppliers.rebates import Tier

WEEK = date(2026, 8, 31)


def sku(
    code: str,
    price: float,
    demand: float | tuple[float, ...],
    *,
    on_hand: int = 0,
    committed: int = 0,
    on_order: int = 0,
    mode: str = "replenish",
    salvage_rate: str = "0.5",
    category: str = "basics",
    abc_class: str = "B",
    service_level: float = 0.95,
    window_days: int = 28,
) -> SkuProblem:
    """A SKU; a single number as demand means demand known exactly (every quantile equal)."""
    quantiles = demand if isinstance(demand, tuple) else (float(demand),) * 6
    return SkuProblem(
        code=code,
        name=code,
        category=category,
        price=Decimal(str(price)),
        abc_class=abc_class,
        service_level=service_level,
        on_hand=on_hand,
        committed=committed,
        on_order=on_order,
        window_start=WEEK,
        window_end=WEEK + timedelta(days=window_days - 1),
        demand_quantiles=quantiles,
        mode=mode,
        salvage_rate=Decimal(salvage_rate),
    )


def item(
    sku_code: str, supplier: str, cost: float, *, moq: int = 1, case: int = 1, lead: int = 14
) -> SupplierItemTerms:
    return SupplierItemTerms(sku_code, supplier, Decimal(str(cost)), moq, case, lead)


def agreement(
    supplier: str,
    tiers: list[tuple[float, float]],
    so_far: float,
    *,
    code: str | None = None,
    kind: str = "retroactive",
    skus: tuple[str, ...] | None = None,
) -> Agreement:
    return Agreement(
        code=code or f"{supplier}-2026",
        supplier=supplier,
        kind=kind,
        tiers=tuple(
            Tier(n, Decimal(str(threshold)), Decimal(str(rate)))
            for n, (threshold, rate) in enumerate(tiers, start=1)
        ),
        purchases_to_date=Decimal(str(so_far)),
        skus=skus,
    )


def problem(skus, items, agreements=(), *, suppliers=None, budget=None, **settings) -> Problem:  # type: ignore[no-untyped-def]
    codes = suppliers or sorted({i.supplier for i in items})
    supplier_terms = [s if isinstance(s, SupplierTerms) else SupplierTerms(s, f"Supplier {s}") for s in codes]
    return Problem(
        week=WEEK,
        skus=list(skus),
        suppliers=supplier_terms,
        items=list(items),
        agreements=list(agreements),
        budget=None if budget is None else Decimal(str(budget)),
        mip_gap=0.0,
        time_limit_s=20,
        **settings,
    )
