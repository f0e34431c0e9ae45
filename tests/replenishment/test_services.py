"""build_proposal loads the week's problem from the database, stores the proposal, reads it back."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from forecasting.handoff import FrameDemand
from forecasting.models import DailySales
from kernel.catalog import Category, Sku
from kernel.errors import InvalidInput, NotFound
from kernel.orm import unit_of_work
from replenishment.models import InventorySnapshot, Proposal, ProposalLine
from replenishment.reasons import ReasonCode
from replenishment.services import StaleInputs, build_proposal, get_proposal
from replenishment.settings import ProposalSettings
from restock.settings import load_settings
from suppliers.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    RebateAgreement,
    RebateTier,
    Supplier,
    SupplierItem,
)

WEEK = date(2026, 8, 31)
SALES_END = date(2026, 8, 30)
CREATED = datetime(2026, 8, 31, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def proposal_settings() -> ProposalSettings:
    return load_settings().proposal_settings()


def seed(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        basics = Category(code="basics", name="Basics", season=None, salvage_rate=Decimal("0.5"))
        winter = Category(code="down", name="Down jackets", season="winter", salvage_rate=Decimal("0.4"))
        s.add_all([basics, winter])
        s.flush()
        skus = [
            Sku(code="TEE", name="T-shirt", category_id=basics.id, price=Decimal("100"), abc_class="A"),
            Sku(code="MUG", name="Mug", category_id=basics.id, price=Decimal("100"), abc_class="B"),
            Sku(
                code="JACKET", name="Down jacket", category_id=winter.id, price=Decimal("800"), abc_class="A"
            ),
            Sku(code="ORPHAN", name="No supplier", category_id=basics.id, price=Decimal("50")),
        ]
        s.add_all(skus)
        a = Supplier(code="A", name="Supplier A", min_order_value=Decimal("0"))
        b = Supplier(code="B", name="Supplier B", min_order_value=Decimal("0"))
        s.add_all([a, b])
        s.flush()
        s.add_all(
            [
                SupplierItem(
                    supplier_id=a.id,
                    sku_id=skus[0].id,
                    unit_cost=Decimal("40"),
                    moq=1,
                    case_pack=10,
                    lead_time_days=14,
                ),
                # 75 % cost: below the 30 % floor even at the best tier
                SupplierItem(
                    supplier_id=b.id,
                    sku_id=skus[1].id,
                    unit_cost=Decimal("75"),
                    moq=1,
                    case_pack=1,
                    lead_time_days=7,
                ),
                SupplierItem(
                    supplier_id=a.id,
                    sku_id=skus[2].id,
                    unit_cost=Decimal("300"),
                    moq=1,
                    case_pack=5,
                    lead_time_days=30,
                ),
            ]
        )
        agreement = RebateAgreement(
            code="A-2026",
            supplier_id=a.id,
            period_start=date(2026, 1, 1),
            period_end=date(2026, 12, 31),
            kind="retroactive",
            purchases_to_date=Decimal("1900000"),
        )
        agreement.tiers = [
            RebateTier(tier=1, threshold=Decimal("1000000"), rate=Decimal("0.02")),
            RebateTier(tier=2, threshold=Decimal("2000000"), rate=Decimal("0.035")),
        ]
        s.add(agreement)
        s.add_all(
            [
                InventorySnapshot(sku_id=skus[0].id, date=date(2026, 8, 30), on_hand=100, committed=20),
                InventorySnapshot(sku_id=skus[0].id, date=date(2026, 8, 20), on_hand=999, committed=0),
                InventorySnapshot(sku_id=skus[1].id, date=date(2026, 8, 30), on_hand=0, committed=0),
            ]
        )
        po = PurchaseOrder(
            po_number="PO-1",
            supplier_id=a.id,
            status="open",
            order_date=date(2026, 8, 20),
            expected_date=date(2026, 9, 5),
        )
        po.lines = [PurchaseOrderLine(sku_id=skus[0].id, units=50, received_units=0, unit_cost=Decimal("40"))]
        s.add(po)
        s.add_all(
            DailySales(sku_id=sku.id, date=SALES_END, units=3, revenue=sku.price * 3) for sku in skus[:3]
        )


def window_demand(windows: pd.DataFrame) -> pd.DataFrame:
    level = {"TEE": 1000.0, "MUG": 300.0, "JACKET": 400.0}
    rows = []
    for w in windows.itertuples(index=False):
        m = level[w.unique_id]
        rows.append(
            {
                "unique_id": w.unique_id,
                "window_id": w.window_id,
                "mean": m,
                "q10": 0.7 * m,
                "q50": m,
                "q80": 1.15 * m,
                "q90": 1.25 * m,
                "q95": 1.33 * m,
                "q99": 1.5 * m,
            }
        )
    return pd.DataFrame(rows)


# demand as a forecast made as of the last sales date would give it
demand_for = FrameDemand(window_demand, as_of=SALES_END)


def test_proposal_is_built_stored_and_read_back(engine: Engine) -> None:
    seed(engine)
    settings = proposal_settings()
    result = build_proposal(engine, WEEK, settings, now=CREATED, budget=Decimal("500000"), demand=demand_for)
    stored = get_proposal(engine, result.proposal_id)

    assert stored["version"] == 1 and stored["week"] == "2026-08-31"
    lines = {ln["sku"]: ln for ln in stored["lines"]}
    assert set(lines) == {"TEE", "JACKET"}
    prebuild = lines["JACKET"]["reasons"][0]
    assert prebuild["code"] == ReasonCode.PREBUILD
    assert prebuild["params"]["order_by"] == "2026-09-01"
    assert lines["TEE"]["units"] % 10 == 0
    codes = {e["sku"]: e["code"] for e in stored["exclusions"]}
    assert codes["MUG"] == ReasonCode.BELOW_MARGIN_FLOOR
    assert codes["ORPHAN"] == ReasonCode.NO_SUPPLIER
    assert Decimal(stored["spend"]) <= Decimal("500000")
    assert stored["suppliers"][0]["supplier"] == "A"
    # the inventory position used: latest snapshot 100 − 20 committed + 50 arriving in the window
    tee = next(s for s in result.problem.skus if s.code == "TEE")
    assert (tee.on_hand, tee.committed, tee.on_order) == (100, 20, 50)

    again = build_proposal(
        engine, WEEK, settings, now=CREATED, budget=Decimal("500000"), demand=demand_for, force=True
    )
    assert again.version == 2
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(Proposal)) == 2
        assert s.scalar(select(func.count()).select_from(ProposalLine)) == 2 * len(stored["lines"])


def test_jacket_is_not_bought_ahead_of_its_order_by_week(engine: Engine) -> None:
    seed(engine)
    # the seed's sales start on 30 Aug: a week earlier is proposed on purpose with stale inputs
    result = build_proposal(
        engine,
        date(2026, 8, 24),
        proposal_settings(),
        now=CREATED,
        demand=demand_for,
        store=False,
        allow_stale=True,
    )
    reasons = {e.sku: e for e in result.plan.exclusions}
    assert "JACKET" not in {ln.sku for ln in result.plan.lines}
    assert reasons["JACKET"].code == ReasonCode.NOT_YET
    assert reasons["JACKET"].params["order_by"] == "2026-09-01"


def test_sku_missing_from_the_forecast_is_left_out_and_the_rest_builds(engine: Engine) -> None:
    seed(engine)

    def without_tee(windows: pd.DataFrame) -> pd.DataFrame:
        frame = window_demand(windows)
        return frame[frame.unique_id != "TEE"]

    demand = FrameDemand(without_tee, run_id=7, as_of=SALES_END)
    result = build_proposal(engine, WEEK, proposal_settings(), now=CREATED, demand=demand, store=False)
    reasons = {e.sku: e for e in result.plan.exclusions}
    assert reasons["TEE"].code == ReasonCode.NO_FORECAST
    assert reasons["TEE"].params == {"run_id": 7, "window_start": "2026-08-31", "window_end": "2026-09-20"}
    assert "JACKET" in {ln.sku for ln in result.plan.lines}


def test_week_must_be_a_monday_and_unknown_proposal_is_not_found(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="Monday"):
        build_proposal(engine, date(2026, 9, 1), proposal_settings(), now=CREATED, demand=demand_for)
    with pytest.raises(NotFound):
        get_proposal(engine, 12345)


def test_stale_inputs_are_refused_with_their_dates_unless_allowed_and_then_flagged(engine: Engine) -> None:
    seed(engine)
    week = date(2026, 9, 14)  # inventory and sales of 30 Aug are 15 days old, the forecast too
    with pytest.raises(StaleInputs) as error:
        build_proposal(engine, week, proposal_settings(), now=CREATED, demand=demand_for, store=False)
    message = str(error.value)
    assert "inventory snapshot as of 2026-08-30 is 15 days before the week 2026-09-14 (limit 7)" in message
    assert "sales history as of 2026-08-30 is 15 days before the week 2026-09-14 (limit 7)" in message
    assert "forecast run as of 2026-08-30 is 15 days before the week 2026-09-14 (limit 8)" in message
    assert "--allow-stale" in message

    allowed = build_proposal(
        engine, week, proposal_settings(), now=CREATED, demand=demand_for, store=False, allow_stale=True
    )
    first = allowed.plan.messages[0]
    assert first.startswith("STALE INPUTS (proposed with --allow-stale): inventory snapshot")
    # on time, nothing is flagged
    fresh = build_proposal(engine, WEEK, proposal_settings(), now=CREATED, demand=demand_for, store=False)
    assert not any(m.startswith("STALE") for m in fresh.plan.messages)


def test_limits_are_settings(engine: Engine) -> None:
    seed(engine)
    settings = load_settings(replenishment={"max_sales_age_days": 0}).proposal_settings()
    with pytest.raises(StaleInputs, match="sales history as of 2026-08-30 is 1 days before"):
        build_proposal(engine, WEEK, settings, now=CREATED, demand=demand_for, store=False)


def test_next_week_says_first_that_last_weeks_proposal_is_still_open(engine: Engine) -> None:
    seed(engine)
    first = build_proposal(engine, WEEK, proposal_settings(), now=CREATED, demand=demand_for)
    tee_units = next(ln.units for ln in first.plan.lines if ln.sku == "TEE")
    lenient = load_settings(
        replenishment={"max_inventory_age_days": 14, "max_sales_age_days": 14}
    ).proposal_settings()
    second = build_proposal(engine, date(2026, 9, 7), lenient, now=CREATED, demand=demand_for)
    assert second.plan.messages[0].startswith(
        f"proposal {first.proposal_id} (week 2026-08-31, v1) is still open — neither approved nor superseded"
    )
    assert f"TEE × {tee_units:,}" in second.plan.messages[0]
    tee = next(ln for ln in second.plan.lines if ln.sku == "TEE")
    also = next(r for r in tee.reasons if r.code == ReasonCode.ALSO_IN_OPEN_PROPOSAL)
    assert also.params == {"proposal_id": first.proposal_id, "week": "2026-08-31", "units": tee_units}
