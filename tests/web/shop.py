"""A small shop for the web tests: users, SKUs, history, one forecast run and one stored proposal.

The proposal's numbers are literal so tests can check the screens against hand-worked
figures: SUP-A's agreement pays 2 % from ¥1,000,000 and 3.5 % from ¥2,000,000; purchases so
far are ¥1,900,000 and this proposal buys ¥100,000 from SUP-A, reaching tier 2 exactly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert

from forecasting.models import DailySales, ForecastRun, ForecastSeries, ForecastValue
from kernel.catalog import Category, Sku
from kernel.orm import unit_of_work
from replenishment.models import Proposal, ProposalExclusion, ProposalLine, ProposalSupplierSummary
from replenishment.problem import problem_to_json
from replenishment.reasons import Reason, ReasonCode, render, render_all
from restock.accounts import add_user
from suppliers.models import Supplier
from tests.replenishment.builders import WEEK, agreement, item, problem, sku

PASSWORD = "correct-horse-battery"
USERS = {"vera": "viewer", "mei": "merchandiser", "ada": "admin"}
AS_OF = WEEK - timedelta(days=1)
NOW = datetime(2026, 8, 31, 1, 0, tzinfo=UTC)
# Stored reasons (codes with their numbers) of two lines and the left-out SKU, for tests to quote.
RAISED_DJK_002 = (
    ReasonCode.RAISED_TO_TIER,
    {
        "from_units": 80,
        "to_units": 100,
        "agreement": "SUP-A-2026",
        "tier": 2,
        "tier_without": 1,
        "rebate_share": "12500.00",
    },
)
COVERED_KIT_002 = {"position": 9, "target_kind": "order-up-to", "target": "8.5"}
R = ReasonCode


def _prebuild(need: str) -> tuple[ReasonCode, dict]:
    return (
        R.PREBUILD,
        {
            "season": "winter",
            "order_by": "2026-09-01",
            "season_start": "2026-11-15",
            "prebuild_days": 45,
            "supplier": "SUP-A",
            "lead_time_days": 30,
            "demand_start": "2026-10-01",
            "demand_end": "2027-02-28",
            "target": need,
            "critical_ratio": "0.72",
            "position": "0",
            "need": need,
        },
    )


def _reasons(*reasons: tuple[ReasonCode, dict]) -> list[dict]:
    return [Reason(code, params).to_json() for code, params in reasons]


def seed_shop(engine: Engine, *, extra_lines: int = 0) -> int:
    """Fill a migrated database; returns the proposal id. `extra_lines` adds filler lines for paging."""
    skus = [
        sku("DJK-001", 899, (40, 60, 70, 75, 80, 90), category="down_jackets", mode="prebuild"),
        sku("DJK-002", 699, (20, 30, 35, 38, 40, 45), category="down_jackets", mode="prebuild"),
        sku("KIT-001", 59, (5, 8, 10, 11, 12, 14), category="kitchen", on_hand=3),
        sku("KIT-002", 39, (0, 0, 1, 2, 3, 5), category="kitchen", on_hand=9),
    ]
    skus[0].order_by = date(2026, 9, 1)
    items = [
        item("DJK-001", "SUP-A", 500, case=10, lead=30),
        item("DJK-001", "SUP-J", 520, case=10, lead=21),
        item("DJK-002", "SUP-A", 400, case=10, lead=30),
        item("KIT-001", "SUP-C", 30, case=6, lead=14),
        item("KIT-002", "SUP-C", 25, case=12, lead=14),
    ]
    skus += [sku(f"FIL-{n:04d}", 100, (1, 2, 3, 3, 4, 5), category="filler") for n in range(extra_lines)]
    items += [item(f"FIL-{n:04d}", "SUP-C", 50, lead=14) for n in range(extra_lines)]
    prob = problem(
        skus,
        items,
        [agreement("SUP-A", [(1_000_000, 0.02), (2_000_000, 0.035)], 1_900_000, code="SUP-A-2026")],
        budget=3_000_000,
    )
    with unit_of_work(engine) as session:
        for name, role in USERS.items():
            add_user(session, name=name, role=role, password=PASSWORD, now=NOW, actor="setup")
        categories = {
            code: Category(code=code, name=code.replace("_", " ").title(), season=season)
            for code, season in (("down_jackets", "winter"), ("kitchen", None), ("filler", None))
        }
        session.add_all(categories.values())
        # The suppliers the POs go to, one per file format.
        session.add_all(
            Supplier(code=code, name=f"{code} Trading", export_format=fmt)
            for code, fmt in (("SUP-A", "csv"), ("SUP-C", "xlsx"), ("SUP-J", "edifact"))
        )
        session.flush()
        rows = {}
        for s in skus:
            rows[s.code] = Sku(
                code=s.code,
                name=f"{s.code} name",
                category_id=categories[s.category].id,
                price=s.price,
                abc_class="B",
                status="active",
            )
        session.add_all(rows.values())
        session.flush()
        start = AS_OF - timedelta(days=729)
        session.execute(
            insert(DailySales),
            [
                {
                    "sku_id": rows["DJK-001"].id,
                    "date": start + timedelta(days=d),
                    "units": (d % 7) + (20 if (start + timedelta(days=d)).month in (11, 12, 1) else 1),
                    "revenue": Decimal("899.00"),
                    "returned_units": 0,
                    "fraud_units": 0,
                    "stockout": False,
                }
                for d in range(730)
            ],
        )
        run = ForecastRun(
            as_of=AS_OF,
            started_at=NOW,
            status="succeeded",
            freq="D",
            horizon=182,
            quantiles=[0.1, 0.5, 0.9],
            parameters={},
            library_versions={},
            effects=[],
            duration_s=1.0,
            n_series=1,
            n_fallbacks=0,
        )
        session.add(run)
        session.flush()
        session.execute(
            insert(ForecastValue),
            [
                {
                    "run_id": run.id,
                    "sku_id": rows["DJK-001"].id,
                    "date": WEEK + timedelta(days=d),
                    "mean": 2.0 + (d % 7) / 7,
                    "quantiles": {"q10": 1.0, "q50": 2.0, "q90": 4.0},
                }
                for d in range(182)
            ],
        )
        # Backtests of two SKUs, so the accuracy screen has a model and seasonal naive to compare.
        session.add_all(
            ForecastSeries(
                run_id=run.id, sku_id=rows[code].id, demand_class="smooth", model=model, score=mase,
                scores={model: {"mase": mase}, "seasonal_naive": {"mase": naive, "wape": 0.3, "bias": 0.0}},
                fallback_reason=None, coverage={"q90": 0.9}, n_obs=730, level=1.0,
                backtest_errors=[1.0, -1.0, 2.0], backtest_forecasts=[10.0, 10.0, 10.0],
            )
            for code, model, mase, naive in (
                ("DJK-001", "AutoETS", 0.8, 1.2),
                ("KIT-001", "CrostonSBA", 0.9, 1.0),
            )
        )
        lines = [
            ProposalLine(
                sku_code="DJK-001",
                supplier_code="SUP-A",
                units=120,
                cases=12,
                unit_cost=Decimal("500.0000"),
                effective_unit_cost=Decimal("482.5000"),
                value=Decimal("60000.00"),
                margin_pct=46.33,
                days_of_cover=180.0,
                stockout_probability_without=1.0,
                stockout_probability_with=0.1,
                reasons=_reasons(
                    _prebuild("118.6"), (R.ROUNDED_TO_CASES, {"cases": 12, "case_pack": 10, "units": 120})
                ),
                reason="",
            ),
            ProposalLine(
                sku_code="DJK-002",
                supplier_code="SUP-A",
                units=100,
                cases=10,
                unit_cost=Decimal("400.0000"),
                effective_unit_cost=Decimal("386.0000"),
                value=Decimal("40000.00"),
                margin_pct=44.78,
                days_of_cover=150.0,
                stockout_probability_without=1.0,
                stockout_probability_with=0.12,
                reasons=_reasons(_prebuild("76.4"), RAISED_DJK_002),
                reason="",
            ),
            ProposalLine(
                sku_code="KIT-001",
                supplier_code="SUP-C",
                units=12,
                cases=2,
                unit_cost=Decimal("30.0000"),
                effective_unit_cost=Decimal("30.0000"),
                value=Decimal("360.00"),
                margin_pct=49.15,
                days_of_cover=30.0,
                stockout_probability_without=0.6,
                stockout_probability_with=0.05,
                reasons=_reasons(
                    (
                        R.BELOW_ORDER_UP_TO,
                        {"target": "14.6", "service_level_pct": "95.0", "position": "3", "need": "11.6"},
                    ),
                    (R.ROUNDED_TO_CASES, {"cases": 2, "case_pack": 6, "units": 12}),
                ),
                reason="",
            ),
        ]
        lines += [
            ProposalLine(
                sku_code=f"FIL-{n:04d}",
                supplier_code="SUP-C",
                units=1 + n % 5,
                cases=1 + n % 5,
                unit_cost=Decimal("50.0000"),
                effective_unit_cost=Decimal("50.0000"),
                value=Decimal(50 * (1 + n % 5)).quantize(Decimal("0.01")),
                margin_pct=50.0,
                days_of_cover=14.0,
                stockout_probability_without=0.5,
                stockout_probability_with=0.05,
                reasons=_reasons(
                    (
                        R.BELOW_ORDER_UP_TO,
                        {"target": "5.0", "service_level_pct": "95.0", "position": "0", "need": "5.0"},
                    )
                ),
                reason="",
            )
            for n in range(extra_lines)
        ]
        spend = sum((ln.value for ln in lines), Decimal("0"))
        proposal = Proposal(
            week=WEEK,
            version=1,
            created_at=NOW,
            forecast_run_id=run.id,
            status="optimal",
            solver="highs",
            gap=0.0,
            solve_s=0.1,
            build_s=0.1,
            budget=Decimal("3000000.00"),
            spend=spend,
            rebate=Decimal("32000.00"),
            expected_profit=Decimal("50000.00"),
            fill_rate=0.95,
            parameters={},
            messages=[],
            problem=problem_to_json(prob),
        )
        for ln in lines:
            ln.reason = render_all([Reason.from_json(r) for r in ln.reasons])
        proposal.lines = lines
        proposal.exclusions = [
            ProposalExclusion(
                sku_code="KIT-002",
                supplier_code=None,
                reason=render(Reason(R.COVERED, COVERED_KIT_002)),
                code=R.COVERED.value,
                params=COVERED_KIT_002,
            )
        ]
        proposal.supplier_summaries = [
            ProposalSupplierSummary(
                supplier_code="SUP-A",
                value=Decimal("100000.00"),
                lines=2,
                agreement_code="SUP-A-2026",
                tier_reached=2,
                rebate_earned=Decimal("32000.00"),
                margin_pct=45.6,
            ),
        ]
        session.add(proposal)
        session.flush()
        return proposal.id
