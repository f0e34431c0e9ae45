"""A small business with hand-worked numbers for the approval, PO and export tests.

Agreement AGR-A (supplier A, retroactive): tier 1 from ¥100,000 at 2 %, tier 2 from
¥200,000 at 5 %; ¥150,000 bought so far. Margin floor 30 %.
  P1  price 100, A cost 60.00 (40 % at list), cases of 10, MOQ 10, lead 14 d
  P2  price 100, A cost 72.00 (28 % at list; 31.6 % at tier 2, 29.44 % at tier 1), cases of 10
  P3  as P2
  P4  price 50, B cost 20.00, cases of 6, MOQ 12, lead 7 d
  P5  price 80, B cost 30.00, cases of 1, lead 21 d (a second delivery date for B)
  P6  price 80, C cost 30.5, cases of 4, lead 30 d; also from B at 31.00, cases of 1, lead 7 d
The stored proposal: P1 600 (¥36,000), P2 100 (¥7,200), P3 100 (¥7,200) from A → A's period
¥200,400, tier 2, period rebate 5 % × 200,400 = ¥10,020.00; P4 24, P5 10 from B; P6 8 from C.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from kernel.catalog import Category, Sku
from kernel.orm import unit_of_work
from replenishment.models import Proposal, ProposalLine
from replenishment.problem import (
    Agreement,
    Problem,
    SkuProblem,
    SupplierItemTerms,
    SupplierTerms,
    problem_to_json,
)
from replenishment.reevaluation import LineChoice, assess
from suppliers.models import RebateAgreement, RebateTier, Supplier, SupplierItem
from suppliers.rebates import Tier

TZ = ZoneInfo("Asia/Shanghai")
WEEK = date(2026, 8, 31)
NOW = datetime(2026, 8, 31, 10, 0, tzinfo=TZ)
REASONS = ["promotion_plan_changed", "supplier_capacity", "quality_issue", "budget", "other"]

SKUS = {  # code: (price, name)
    "P1": (Decimal("100"), "Cotton tee"),
    "P2": (Decimal("100"), "Linen shirt"),
    "P3": (Decimal("100"), "Silk scarf"),
    "P4": (Decimal("50"), "Mug"),
    "P5": (Decimal("80"), "Teapot"),
    "P6": (Decimal("80"), "Kettle"),
}
ITEMS = [  # supplier, sku, cost, moq, case, lead
    ("A", "P1", Decimal("60.00"), 10, 10, 14),
    ("A", "P2", Decimal("72.00"), 10, 10, 14),
    ("A", "P3", Decimal("72.00"), 10, 10, 14),
    ("B", "P4", Decimal("20.00"), 12, 6, 7),
    ("B", "P5", Decimal("30.00"), 1, 1, 21),
    ("C", "P6", Decimal("30.50"), 4, 4, 30),
    ("B", "P6", Decimal("31.00"), 1, 1, 7),
]
FORMATS = {"A": "csv", "B": "xlsx", "C": "edifact"}
LINES = [
    ("P1", "A", 600),
    ("P2", "A", 100),
    ("P3", "A", 100),
    ("P4", "B", 24),
    ("P5", "B", 10),
    ("P6", "C", 8),
]


def seed_business(engine: Engine, supplier_names: dict[str, str] | None = None) -> None:
    """Categories, SKUs, suppliers A/B/C with their items, and agreement AGR-A."""
    names = supplier_names or {}
    with unit_of_work(engine) as s:
        basics = Category(code="basics", name="Basics", season=None, salvage_rate=Decimal("0.5"))
        s.add(basics)
        s.flush()
        skus = {}
        for code, (price, name) in SKUS.items():
            skus[code] = Sku(code=code, name=name, category_id=basics.id, price=price, abc_class="B")
        s.add_all(skus.values())
        suppliers = {
            code: Supplier(
                code=code,
                name=names.get(code, f"Supplier {code}"),
                min_order_value=Decimal("0"),
                export_format=fmt,
            )
            for code, fmt in FORMATS.items()
        }
        s.add_all(suppliers.values())
        s.flush()
        for supplier, sku, cost, moq, case, lead in ITEMS:
            s.add(
                SupplierItem(
                    supplier_id=suppliers[supplier].id,
                    sku_id=skus[sku].id,
                    unit_cost=cost,
                    moq=moq,
                    case_pack=case,
                    lead_time_days=lead,
                    supplier_item_code=f"{supplier}-{sku}",
                )
            )
        agreement = RebateAgreement(
            code="AGR-A",
            supplier_id=suppliers["A"].id,
            period_start=date(2026, 1, 1),
            period_end=date(2026, 12, 31),
            kind="retroactive",
            purchases_to_date=Decimal("150000.00"),
        )
        agreement.tiers = [
            RebateTier(tier=1, threshold=Decimal("100000"), rate=Decimal("0.02")),
            RebateTier(tier=2, threshold=Decimal("200000"), rate=Decimal("0.05")),
        ]
        s.add(agreement)


def case_problem(week: date = WEEK) -> Problem:
    """The optimizer's problem matching `seed_business` (demand 1,000 units per SKU, known exactly)."""
    return Problem(
        week=week,
        skus=[
            SkuProblem(
                code=code,
                name=name,
                category="basics",
                price=price,
                abc_class="B",
                service_level=0.95,
                on_hand=0,
                committed=0,
                on_order=0,
                window_start=week,
                window_end=week + timedelta(days=27),
                demand_quantiles=(1000.0,) * 6,
            )
            for code, (price, name) in SKUS.items()
        ],
        suppliers=[SupplierTerms(code, f"Supplier {code}") for code in FORMATS],
        items=[
            SupplierItemTerms(sku, sup, cost, moq, case, lead) for sup, sku, cost, moq, case, lead in ITEMS
        ],
        agreements=[
            Agreement(
                code="AGR-A",
                supplier="A",
                kind="retroactive",
                tiers=(
                    Tier(1, Decimal("100000"), Decimal("0.02")),
                    Tier(2, Decimal("200000"), Decimal("0.05")),
                ),
                purchases_to_date=Decimal("150000.00"),
            )
        ],
        budget=Decimal("100000"),
        margin_floor=0.30,
        time_limit_s=10,
        mip_gap=0.0,
    )


def store_proposal(
    engine: Engine,
    lines: list[tuple[str, str, int]] | None = None,
    *,
    week: date = WEEK,
    version: int = 1,
    state: str = "draft",
) -> int:
    """Store a proposal of `lines` (SKU, supplier, units) with figures from `assess`; its id."""
    problem = case_problem(week)
    lines = LINES if lines is None else lines
    scored = assess(problem, [LineChoice(*ln) for ln in lines])
    with unit_of_work(engine) as s:
        proposal = Proposal(
            week=week,
            version=version,
            created_at=NOW,
            forecast_run_id=None,
            status="optimal",
            solver="highs",
            gap=0.0,
            solve_s=0.1,
            build_s=0.1,
            budget=problem.budget,
            spend=scored.spend,
            rebate=scored.rebate,
            expected_profit=scored.expected_profit,
            fill_rate=scored.fill_rate,
            parameters={},
            messages=[],
            problem=problem_to_json(problem),
            state=state,
        )
        proposal.lines = [
            ProposalLine(
                sku_code=a.sku,
                supplier_code=a.supplier,
                units=a.units,
                cases=a.cases,
                unit_cost=a.unit_cost,
                effective_unit_cost=a.effective_unit_cost,
                value=a.value,
                margin_pct=float(a.margin_pct),
                days_of_cover=None,
                stockout_probability_without=1.0,
                stockout_probability_with=0.5,
                reason="test line",
            )
            for a in scored.lines
        ]
        s.add(proposal)
        s.flush()
        return proposal.id
