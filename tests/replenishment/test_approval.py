"""Proposal lifecycle, line edits with their re-evaluation, approval with overrides, POs and the audit
trail, on SQLite and PostgreSQL; the figures are worked by hand in `approval_case`."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from kernel.audit import AuditEntry
from kernel.errors import EditConflict, InvalidInput, NotFound, TransitionRefused
from kernel.orm import unit_of_work
from replenishment import lifecycle as lc
from replenishment.approval import (
    Who,
    add_line,
    approve_proposal,
    edit_line,
    list_proposals,
    reject_proposal,
    review_proposal,
)
from replenishment.models import Proposal, ProposalLine
from suppliers.models import PurchaseOrder, RebateAgreement
from tests.replenishment.approval_case import NOW, REASONS, TZ, WEEK, seed_business, store_proposal

ALICE = Who("alice", NOW)
BOB = Who("bob", NOW + timedelta(minutes=5))


@pytest.fixture
def case(engine: Engine) -> tuple[Engine, int]:
    seed_business(engine)
    return engine, store_proposal(engine)


def edit(engine: Engine, proposal_id: int, sku: str, who: Who = ALICE, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("reason_code", "promotion_plan_changed")
    return edit_line(engine, proposal_id, sku, who, reason_codes=REASONS, **kwargs)


def approve(engine: Engine, proposal_id: int, who: Who = BOB, **kwargs):  # type: ignore[no-untyped-def]
    return approve_proposal(engine, proposal_id, who, tz=TZ, **kwargs)


# --- lifecycle -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", lc.STATES)
@pytest.mark.parametrize("step", sorted(lc.STEPS))
def test_every_step_from_every_state_is_allowed_or_refused_naming_the_state(state: str, step: str) -> None:
    rule = lc.STEPS[step]
    if state in rule.sources:
        assert lc.next_state(state, step, proposal_id=9) == (rule.target or state)
    else:
        with pytest.raises(TransitionRefused, match=rf"proposal 9 is {state}: {step} is allowed only from"):
            lc.next_state(state, step, proposal_id=9)


def test_the_allowed_transitions_are_the_documented_ones() -> None:
    allowed = {(s, step, lc.STEPS[step].target) for step in lc.STEPS for s in lc.STEPS[step].sources}
    assert ("draft", "review", "in_review") in allowed
    assert ("in_review", "approve", "approved") in allowed
    assert ("approved", "order", "ordered") in allowed
    assert ("partially_approved", "order", "ordered") in allowed
    assert ("ordered", "export", "exported") in allowed
    assert ("draft", "reject", "rejected") in allowed and ("in_review", "reject", "rejected") in allowed
    assert ("in_review", "supersede", "superseded") in allowed
    assert not any(s in ("rejected", "superseded", "exported") for s, _step, _t in allowed)


def test_review_approve_reject_through_the_services(case: tuple[Engine, int]) -> None:
    engine, pid = case
    with pytest.raises(
        TransitionRefused, match=r"proposal \d+ is draft: approve is allowed only from in_review"
    ):
        approve(engine, pid)
    assert review_proposal(engine, pid, ALICE)["state"] == "in_review"
    outcome = approve(engine, pid)
    assert outcome.state == "ordered" and outcome.created
    with pytest.raises(
        TransitionRefused, match=r"is ordered: reject is allowed only from draft or in_review"
    ):
        reject_proposal(engine, pid, BOB, reason_codes=REASONS, reason_code="budget")
    with pytest.raises(TransitionRefused, match=r"is ordered: edit is allowed only from draft or in_review"):
        edit(engine, pid, "P1", units=10)
    states = [(e.action, e.before, e.after["state"]) for e in _audit(engine, "proposal")]
    assert states == [
        ("review", {"state": "draft"}, "in_review"),
        ("approve", {"state": "in_review"}, "approved"),
        ("order", {"state": "approved"}, "ordered"),
    ]


def test_a_rejected_proposal_cannot_be_approved_and_reject_needs_a_known_reason(
    case: tuple[Engine, int],
) -> None:
    engine, pid = case
    with pytest.raises(InvalidInput, match="reason code 'bored' is not one of promotion_plan_changed"):
        reject_proposal(engine, pid, BOB, reason_codes=REASONS, reason_code="bored")
    with pytest.raises(InvalidInput, match="reason 'other' needs a text"):
        reject_proposal(engine, pid, BOB, reason_codes=REASONS, reason_code="other")
    assert reject_proposal(engine, pid, BOB, reason_codes=REASONS, reason_code="budget") == "rejected"
    with pytest.raises(TransitionRefused, match="is rejected: approve is allowed only from in_review"):
        approve(engine, pid)
    with pytest.raises(TransitionRefused, match="is rejected: review is allowed only from draft"):
        review_proposal(engine, pid, ALICE) if False else _review_draft_only(engine, pid)


def _review_draft_only(engine: Engine, pid: int) -> None:
    # review of a non-draft only shows; the refused step is put-in-review from another state
    with unit_of_work(engine) as s:
        state = s.get(Proposal, pid).state  # type: ignore[union-attr]
    lc.next_state(state, "review", proposal_id=pid)


def test_only_one_version_per_week_is_approved_and_the_others_are_superseded(engine: Engine) -> None:
    seed_business(engine)
    first = store_proposal(engine, version=1)
    second = store_proposal(engine, version=2)
    third = store_proposal(engine, version=3)
    review_proposal(engine, second, ALICE)
    review_proposal(engine, first, ALICE)
    outcome = approve(engine, second)
    assert sorted(outcome.superseded) == [first, third]
    with pytest.raises(TransitionRefused, match="is superseded: approve is allowed only from in_review"):
        approve(engine, first)
    rows = {r["id"]: r["state"] for r in list_proposals(engine, week=WEEK)}
    assert rows == {first: "superseded", second: "ordered", third: "superseded"}


def test_the_database_refuses_a_second_approved_version_of_a_week(engine: Engine) -> None:
    seed_business(engine)
    first = store_proposal(engine, version=1)
    second = store_proposal(engine, version=2)
    review_proposal(engine, first, ALICE)
    approve(engine, first)
    with unit_of_work(engine) as s:  # a version that skipped supersession (e.g. imported state)
        s.get(Proposal, second).state = "in_review"  # type: ignore[union-attr]
    with pytest.raises(
        TransitionRefused, match=r"week 2026-08-31 already has an approved version \(proposal"
    ):
        approve(engine, second)


# --- edits and their re-evaluation -----------------------------------------------------------


def test_an_edit_that_drops_a_tier_shows_the_rebate_lost_and_the_skus_below_the_floor(
    case: tuple[Engine, int],
) -> None:
    engine, pid = case
    # 581 units round up to 59 cases of 10 = 590: A's period 150,000 + 35,400 + 7,200 + 7,200 = 199,800,
    # below tier 2 (200,000): the period rebate falls from 5 % × 200,400 = 10,020.00 to
    # 2 % × 199,800 = 3,996.00, and P2/P3 (cost 72) clear 30 % only at 5 %: 72 × 0.98 = 70.56 → 29.44 %.
    outcome = edit(engine, pid, "P1", units=581, note="promo moved to October")
    assert outcome.rounding == "581 → 590 units (rounded up to 59 case(s) of 10)"
    assert (
        outcome.impact[0]
        == "this edit drops A below tier 2 (AGR-A, now tier 1): −¥6,024.00 rebate for the period"
    )
    assert outcome.impact[1] == "P2 and P3 fall below the 30% floor (margin 29.44 %, 29.44 %)"
    tier = outcome.findings[0]
    assert tier.code == "tier_lost" and Decimal(tier.params["rebate_change"]) == Decimal("3996.00") - Decimal(
        "10020.00"
    )
    with unit_of_work(engine) as s:
        proposal = s.get(Proposal, pid)
        lines = {ln.sku_code: ln for ln in proposal.lines}  # type: ignore[union-attr]
        assert (lines["P1"].units, lines["P1"].cases, lines["P1"].value) == (590, 59, Decimal("35400.00"))
        assert (lines["P1"].state, lines["P1"].pinned, lines["P1"].proposed_units) == ("edited", True, 600)
        assert lines["P2"].effective_unit_cost == Decimal("70.5600") and lines["P2"].margin_pct == 29.44
        # the proposal's rebate is what it adds to the period: 3,996.00 − 2 % × 150,000 = 996.00
        assert proposal.rebate == Decimal("996.00")  # type: ignore[union-attr]
        assert proposal.spend == Decimal("51424.00") - Decimal("600.00")  # type: ignore[union-attr]
    view = review_proposal(engine, pid)
    assert [b["sku"] for b in view["below_floor"]] == ["P2", "P3"]
    assert view["impact"][0].startswith("this edit drops A below tier 2")
    entry = _audit(engine, "proposal_line")[-1]
    assert (entry.actor, entry.action, entry.note) == (
        "alice",
        "edit_line",
        "promotion_plan_changed: promo moved to October",
    )
    assert entry.before["units"] == 600 and entry.after["units"] == 590
    assert entry.after["impact"][0].startswith("this edit drops A below tier 2")


def test_a_dry_run_shows_the_impact_and_saves_nothing(case: tuple[Engine, int]) -> None:
    engine, pid = case
    outcome = edit(engine, pid, "P1", units=590, dry_run=True)
    assert not outcome.saved and outcome.findings[0].code == "tier_lost"
    with unit_of_work(engine) as s:
        assert s.scalar(select(ProposalLine.units).where(ProposalLine.sku_code == "P1")) == 600
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_units_below_the_moq_are_refused_and_nothing_changes(case: tuple[Engine, int]) -> None:
    engine, pid = case
    with pytest.raises(InvalidInput, match="units: 5 is below the supplier's MOQ of 12 units .* at least 12"):
        edit(engine, pid, "P4", units=5)
    with pytest.raises(InvalidInput, match="reason code is required"):
        edit(engine, pid, "P4", units=18, reason_code=None)
    with unit_of_work(engine) as s:
        assert s.scalar(select(ProposalLine.units).where(ProposalLine.sku_code == "P4")) == 24


def test_switching_to_another_eligible_supplier_re_rounds_to_its_case_pack(case: tuple[Engine, int]) -> None:
    engine, pid = case
    outcome = edit(engine, pid, "P6", switch_to="B", reason_code="supplier_capacity")
    assert outcome.line["supplier"] == "B" and outcome.line["units"] == 8
    assert outcome.impact[-1].startswith("spend +¥4.00")  # 8 × (31.00 − 30.50)
    with pytest.raises(
        InvalidInput, match="supplier A is not an eligible supplier of this SKU .*eligible: B, C"
    ):
        edit(engine, pid, "P6", switch_to="A", reason_code="supplier_capacity")


def test_a_rejected_line_makes_the_approval_partial_and_stays_off_the_pos(case: tuple[Engine, int]) -> None:
    engine, pid = case
    edit(engine, pid, "P5", reject=True, reason_code="quality_issue")
    review_proposal(engine, pid, ALICE)
    outcome = approve(engine, pid)
    assert outcome.state == "ordered"
    entry = [e for e in _audit(engine, "proposal") if e.action == "approve"][0]
    assert entry.after["state"] == "partially_approved"
    skus = {po["supplier"]: po["lines"] for po in outcome.purchase_orders}
    assert skus == {"A": 3, "B": 1, "C": 1}


def test_adding_a_sku_the_optimizer_left_out(engine: Engine) -> None:
    seed_business(engine)
    pid = store_proposal(engine, [("P1", "A", 600), ("P2", "A", 100), ("P3", "A", 100)])
    outcome = add_line(
        engine, pid, "P6", 5, ALICE, reason_codes=REASONS, reason_code="other", note="new shop"
    )
    # cheapest eligible supplier is C (30.50), cases of 4: 5 → 8
    assert (outcome.line["supplier"], outcome.line["units"], outcome.line["state"]) == ("C", 8, "added")
    assert outcome.rounding == "5 → 8 units (rounded up to 2 case(s) of 4)"
    with pytest.raises(InvalidInput, match="already has a line for P6 from C"):
        add_line(engine, pid, "P6", 8, ALICE, reason_codes=REASONS, reason_code="budget")


def test_approving_below_the_floor_needs_an_override_with_a_reason(case: tuple[Engine, int]) -> None:
    engine, pid = case
    edit(engine, pid, "P1", units=590)
    review_proposal(engine, pid, ALICE)
    with pytest.raises(
        TransitionRefused, match=r"2 line\(s\) below the margin floor .*P2 \(29.44 % < 30%\), P3"
    ):
        approve(engine, pid)
    with pytest.raises(TransitionRefused, match=r"1 line\(s\) below .*P3"):
        approve(engine, pid, overrides={"P2": "launch price holds"})
    with pytest.raises(InvalidInput, match="--override given for P1, which clear the margin floor"):
        approve(engine, pid, overrides={"P1": "x", "P2": "y", "P3": "z"})
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 0
    outcome = approve(engine, pid, overrides={"P2": "launch price holds", "P3": "clearance partner pays"})
    assert outcome.overrides == ["P2", "P3"]
    overrides = [e for e in _audit(engine, "proposal_line") if e.action == "override_margin_floor"]
    assert [(e.entity_key, e.note, e.before["margin_pct"]) for e in overrides] == [
        (f"{pid}/P2", "launch price holds", "29.44"),
        (f"{pid}/P3", "clearance partner pays", "29.44"),
    ]


# --- concurrency -----------------------------------------------------------------------------


def test_a_stale_edit_gets_a_conflict_naming_who_changed_the_line_and_nothing_is_lost(
    case: tuple[Engine, int],
) -> None:
    engine, pid = case
    seen = review_proposal(engine, pid)
    version = next(ln["version"] for ln in seen["lines"] if ln["sku"] == "P1")
    edit(engine, pid, "P1", ALICE, units=700, expected_version=version)
    with pytest.raises(
        EditConflict, match=r"line P1 · A was changed by alice at 2026-08-31 10:00:00 \+0800 .*version 1"
    ):
        edit(engine, pid, "P1", BOB, units=500, expected_version=version)
    with unit_of_work(engine) as s:
        line = s.scalar(select(ProposalLine).where(ProposalLine.sku_code == "P1"))
        assert (line.units, line.changed_by, line.lock_version) == (700, "alice", version + 1)  # type: ignore[union-attr]


def test_concurrent_edits_of_one_line_leave_one_winner_and_one_conflict(case: tuple[Engine, int]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine, pid = case

    def attempt(who_units: tuple[Who, int]) -> str:
        who, units = who_units
        try:
            edit(engine, pid, "P1", who, units=units, expected_version=1)
            return "saved"
        except EditConflict as exc:
            return str(exc)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(attempt, [(ALICE, 700), (BOB, 500)]))
    assert sorted(r == "saved" for r in results) == [False, True]
    winner = ALICE if results[0] == "saved" else BOB
    loser_message = results[1] if results[0] == "saved" else results[0]
    assert f"changed by {winner.actor}" in loser_message
    assert len([e for e in _audit(engine, "proposal_line") if e.action == "edit_line"]) == 1


# --- purchase orders -------------------------------------------------------------------------


def test_approval_raises_one_po_per_supplier_and_delivery_date_numbered_without_gaps(
    case: tuple[Engine, int],
) -> None:
    engine, pid = case
    review_proposal(engine, pid, ALICE)
    outcome = approve(engine, pid, order_date=date(2026, 9, 1))
    pos = [(p["po_number"], p["supplier"], p["expected_date"], p["lines"]) for p in outcome.purchase_orders]
    assert pos == [
        ("PO-2026-000001", "A", "2026-09-15", 3),
        ("PO-2026-000002", "B", "2026-09-08", 1),  # P4, lead 7 d
        ("PO-2026-000003", "B", "2026-09-22", 1),  # P5, lead 21 d
        ("PO-2026-000004", "C", "2026-10-01", 1),
    ]
    again = approve(engine, pid)
    assert not again.created and [p["po_number"] for p in again.purchase_orders] == [p[0] for p in pos]
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 4
        a = s.scalar(select(PurchaseOrder).where(PurchaseOrder.po_number == "PO-2026-000001"))
        assert [(ln.sku_code, ln.supplier_item_code, ln.case_pack) for ln in a.lines] == [  # type: ignore[union-attr]
            ("P1", "A-P1", 10),
            ("P2", "A-P2", 10),
            ("P3", "A-P3", 10),
        ]


def test_a_po_cannot_be_dated_more_than_a_week_before_the_proposal_week(case: tuple[Engine, int]) -> None:
    engine, pid = case
    review_proposal(engine, pid, ALICE)
    with pytest.raises(InvalidInput, match="order date: 2026-08-23 is more than a week before .* 2026-08-24"):
        approve(engine, pid, order_date=date(2026, 8, 23))
    assert approve(engine, pid, order_date=date(2026, 8, 24)).purchase_orders[0]["order_date"] == "2026-08-24"


def test_raised_pos_move_the_agreement_period_purchases_and_count_as_on_order(
    case: tuple[Engine, int],
) -> None:
    import pandas as pd

    from replenishment.services import load_problem
    from restock.settings import load_settings

    engine, pid = case
    review_proposal(engine, pid, ALICE)
    approve(engine, pid, order_date=WEEK)
    with unit_of_work(engine) as s:
        agreement = s.scalar(select(RebateAgreement).where(RebateAgreement.code == "AGR-A"))
        assert agreement.purchases_to_date == Decimal("200400.00")  # type: ignore[union-attr]
        next_week = WEEK + timedelta(days=7)

        def demand(windows: pd.DataFrame) -> pd.DataFrame:
            frame = windows[["unique_id", "window_id"]].copy()
            for column in ("mean", "q10", "q50", "q80", "q90", "q95", "q99"):
                frame[column] = 100.0
            return frame

        problem, _ = load_problem(s, next_week, load_settings().proposal_settings(), demand=demand)
    on_order = {sku.code: sku.on_order for sku in problem.skus}
    # P4 (B, lead 7, due 09-07) and P1..P3 (A, lead 14, due 09-14) fall inside next week's windows
    assert on_order["P4"] == 24 and on_order["P1"] == 600 and on_order["P2"] == 100
    assert problem.agreements[0].purchases_to_date == Decimal("200400.00")
    moved = [e for e in _audit(engine, "rebate_agreement") if e.action == "period_purchases"]
    assert [(e.before, e.after) for e in moved] == [
        ({"purchases_to_date": "150000.00"}, {"purchases_to_date": "200400.00"})
    ]


def test_the_next_proposal_names_the_approved_pos_its_positions_count(case: tuple[Engine, int]) -> None:
    """Issue 9 item 7: approved lines are on order in the next week's proposal, and the reason
    of each affected line (or the SKU's exclusion) names the PO and its units — the stored
    reason parameters, recomputed here from the purchase-order tables."""
    import pandas as pd

    from forecasting import FrameDemand
    from kernel.catalog import Sku
    from replenishment.reasons import Reason, ReasonCode
    from replenishment.services import build_proposal, get_proposal
    from restock.settings import load_settings
    from suppliers.models import PurchaseOrderLine, Supplier

    engine, pid = case
    review_proposal(engine, pid, ALICE)
    approve(engine, pid, order_date=WEEK)
    next_week = WEEK + timedelta(days=7)

    def demand(windows: pd.DataFrame) -> pd.DataFrame:
        frame = windows[["unique_id", "window_id"]].copy()
        high = frame["unique_id"].isin(["P1", "P2"])  # above what is on order: a line each
        for column in ("mean", "q10", "q50", "q80", "q90", "q95", "q99"):
            frame[column] = [900.0 if h else 5.0 for h in high]
        return frame

    result = build_proposal(
        engine,
        next_week,
        load_settings().proposal_settings(),
        now=NOW + timedelta(days=7),
        demand=FrameDemand(demand),
        allow_stale=True,
    )
    stored = get_proposal(engine, result.proposal_id)
    with unit_of_work(engine) as s:
        rows = s.execute(
            select(
                Sku.code,
                PurchaseOrder.po_number,
                Supplier.code,
                PurchaseOrderLine.units - PurchaseOrderLine.received_units,
                PurchaseOrder.expected_date,
                PurchaseOrder.proposal_id,
            )
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .join(Sku, Sku.id == PurchaseOrderLine.sku_id)
            .order_by(PurchaseOrder.expected_date, PurchaseOrder.po_number)
        ).all()
    window_end = {sku.code: sku.window_end for sku in result.problem.skus}
    pos: dict[str, list[dict[str, object]]] = {}
    for sku, number, supplier, units, expected, proposal_id in rows:
        if expected > window_end[sku]:
            continue  # arrives after the window it would protect: not on order for it
        pos.setdefault(sku, []).append(
            {
                "po_number": number,
                "supplier": supplier,
                "units": units,
                "expected_date": expected.isoformat(),
                "proposal_id": proposal_id,
            }
        )
    assert {po["proposal_id"] for orders in pos.values() for po in orders} == {pid}
    lines = {ln["sku"]: ln for ln in stored["lines"]}
    assert {"P1", "P2"} <= set(lines)
    for sku, ln in lines.items():
        reasons = [Reason.from_json(r) for r in ln["reasons"]]
        named = [r.params for r in reasons if r.code is ReasonCode.ON_ORDER]
        assert named == pos.get(sku, []), sku
        position = reasons[0].params["position"]
        assert position == sum(po["units"] for po in pos.get(sku, []))  # no snapshot: on hand 0
        for r in reasons:
            if r.code is ReasonCode.ON_ORDER:
                assert f"PO {r.params['po_number']}" in ln["reason"]
                assert f"approved proposal {pid}" in ln["reason"]
    covered = {e["sku"]: e for e in stored["exclusions"] if e["code"] == ReasonCode.COVERED}
    assert covered, stored["exclusions"]
    for sku, e in covered.items():
        orders = pos.get(sku, [])
        assert e["params"].get("on_order") == (sum(po["units"] for po in orders) or None)
        if orders:
            assert e["params"]["po_numbers"] == ", ".join(str(po["po_number"]) for po in orders)


def test_numbers_stay_gapless_when_an_approval_fails_halfway(engine: Engine) -> None:
    seed_business(engine)
    good = store_proposal(engine, week=WEEK)
    bad = store_proposal(engine, week=WEEK + timedelta(days=7))
    for pid in (good, bad):
        review_proposal(engine, pid, ALICE)
    with unit_of_work(engine) as s:  # the supplier's SKU vanished: raising the PO fails mid-way
        s.get(Proposal, bad).lines[-1].sku_code = "GONE"  # type: ignore[union-attr]
    with pytest.raises(InvalidInput):
        approve(engine, bad)
    outcome = approve(engine, good)
    assert [p["po_number"] for p in outcome.purchase_orders][0] == "PO-2026-000001"


def test_an_unknown_proposal_is_named(engine: Engine) -> None:
    with pytest.raises(NotFound, match="proposal 404 does not exist"):
        approve(engine, 404)


def _audit(engine: Engine, entity: str) -> list[AuditEntry]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id)))


def test_reoptimize_keeps_the_pinned_lines_and_re_solves_the_rest(case: tuple[Engine, int]) -> None:
    from replenishment.approval import reoptimize_proposal

    engine, pid = case
    edit(engine, pid, "P1", units=300, note="half the promo")
    edit(engine, pid, "P5", reject=True, reason_code="quality_issue")
    outcome = reoptimize_proposal(engine, pid, ALICE)
    assert outcome.pinned == 2 and outcome.replaced == 4
    with unit_of_work(engine) as s:
        proposal = s.get(Proposal, pid)
        lines = {ln.sku_code: ln for ln in proposal.lines}  # type: ignore[union-attr]
        assert (lines["P1"].units, lines["P1"].state, lines["P1"].pinned) == (300, "edited", True)
        assert (lines["P5"].state, lines["P5"].units) == ("rejected", 10)
        fresh = [ln for ln in proposal.lines if not ln.pinned]  # type: ignore[union-attr]
        assert fresh and all(ln.state == "proposed" and ln.sku_code not in ("P1", "P5") for ln in fresh)
        # the budget (¥100,000) holds for pinned and re-solved lines together
        assert proposal.spend <= Decimal("100000")  # type: ignore[union-attr]
        assert proposal.spend == sum(ln.value for ln in proposal.lines if ln.state != "rejected")  # type: ignore[union-attr]
    entry = [e for e in _audit(engine, "proposal") if e.action == "reoptimize"][0]
    assert entry.after["pinned"] == ["P1/A", "P5/B"]
    review_proposal(engine, pid, ALICE)
    view = review_proposal(engine, pid)
    approve(engine, pid, overrides={b["sku"]: "accepted" for b in view["below_floor"]})


def test_reoptimize_warm_starts_from_the_lines_that_still_meet_the_rules(case: tuple[Engine, int]) -> None:
    from replenishment.approval import reoptimize_proposal

    engine, pid = case
    # P1 cut to 300: A's period is 150,000 + 18,000 + 7,200 + 7,200 = ¥182,400 — tier 1, so the
    # stored P2 and P3 lines (28 % at list, they need tier 2) no longer clear the floor and
    # are dropped from the start; P4 (B) and P6 (C) start the solve
    edit(engine, pid, "P1", units=300, note="half the promo")
    edit(engine, pid, "P5", reject=True, reason_code="quality_issue")
    reoptimize_proposal(engine, pid, ALICE)
    with unit_of_work(engine) as s:
        messages = s.get(Proposal, pid).messages  # type: ignore[union-attr]
    (warm,) = [m for m in messages if m.startswith("warm start")]
    assert warm.startswith("warm start: the solve started from 2 of 4 given line(s)")
    assert "P2 · A (margin floor not met at the rebate it earns)" in warm
    assert "P3 · A (margin floor not met at the rebate it earns)" in warm
