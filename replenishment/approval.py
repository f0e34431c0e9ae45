"""Use cases from a stored proposal to purchase orders: review, edit lines with reasons, re-optimise
around the edits, approve (raising POs) or reject — one function per use case, each one
transaction, each step audited with who, when, before → after and why.

Every write first claims the proposal's row (an UPDATE that takes PostgreSQL's row lock or
SQLite's write lock), so two users never interleave on one proposal; optimistic versions
per proposal and per line turn a stale edit into `EditConflict` naming who changed it.
Figures after an edit come from `replenishment.reevaluation` (the optimizer's rules).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from kernel.audit import record
from kernel.errors import EditConflict, InvalidInput, NotFound, TransitionRefused
from kernel.jsonable import to_jsonable
from kernel.orm import unit_of_work
from replenishment import lifecycle as lc
from replenishment.instance import Instance, prepare
from replenishment.models import Proposal, ProposalExclusion, ProposalLine, ProposalSupplierSummary
from replenishment.optimizer import optimize
from replenishment.problem import Problem, problem_from_json
from replenishment.reevaluation import (
    Assessment,
    Finding,
    LineChoice,
    assess,
    compare,
    describe,
    line_index,
    pin_problem,
    round_to_cases,
)
from suppliers.models import PurchaseOrder
from suppliers.purchase_orders import OrderLine, po_summary, raise_purchase_orders

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Who:
    """The actor (validated user name) and the instant of the action (aware)."""

    actor: str
    now: datetime


# --- shared helpers --------------------------------------------------------------------------


def _claim(session: Session, proposal_id: int) -> Proposal:
    # A no-op UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) before anything
    # is read, so the state and versions read below cannot change until this transaction ends.
    claimed = session.execute(
        update(Proposal).where(Proposal.id == proposal_id).values(lock_version=Proposal.lock_version)
    )
    if claimed.rowcount == 0:
        raise NotFound(f"proposal {proposal_id} does not exist")
    proposal = session.get(Proposal, proposal_id, populate_existing=True)
    assert proposal is not None
    return proposal


def _check_version(proposal: Proposal, expected: int | None) -> None:
    if expected is not None and expected != proposal.lock_version:
        who = proposal.state_changed_by or "another user"
        raise EditConflict(
            f"proposal {proposal.id} changed since version {expected} (now version {proposal.lock_version}, "
            f"last change by {who}); nothing was saved — review it again"
        )


def _local(moment: datetime | None, now: datetime) -> str:
    """A stored instant in the zone of `now` (SQLite gives back the wall time it was given)."""
    if moment is None:
        return "an unknown time"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return f"{moment.astimezone(now.tzinfo):%Y-%m-%d %H:%M:%S %z}"


def _bump(proposal: Proposal) -> None:
    proposal.lock_version += 1


def _choices(lines: list[ProposalLine], keep: set[int] | None = None) -> list[LineChoice]:
    """The lines as they stand; with `keep` (line ids), every other line counts as rejected."""
    return [
        LineChoice(
            ln.sku_code,
            ln.supplier_code,
            ln.units,
            rejected=ln.state == lc.LINE_REJECTED or (keep is not None and ln.id not in keep),
        )
        for ln in lines
    ]


def _check_selection(proposal: Proposal, keep: Collection[int]) -> None:
    ids = {ln.id for ln in proposal.lines}
    unknown = sorted(set(keep) - ids)
    if unknown:
        raise InvalidInput(
            f"proposal {proposal.id}: selected line(s) {', '.join(map(str, unknown[:10]))} are not in it"
        )
    if not keep:
        raise InvalidInput(f"proposal {proposal.id}: no line selected (reject the proposal instead)")


def _original_choices(lines: list[ProposalLine]) -> list[LineChoice]:
    """The lines as the optimizer proposed them (before any edit; added lines left out)."""
    return [
        LineChoice(ln.sku_code, ln.proposed_supplier_code or ln.supplier_code, ln.proposed_units or ln.units)
        for ln in lines
        if ln.state != lc.LINE_ADDED
    ]


def _remember_proposed(line: ProposalLine) -> None:
    """Keep what the optimizer proposed the first time a user changes the line."""
    if line.state == lc.LINE_PROPOSED:
        line.proposed_units = line.units
        line.proposed_supplier_code = line.supplier_code


def _decide_line(line: ProposalLine, state: str, who: Who, reason_code: str | None, note: str | None) -> None:
    """A user's decision on a line: its new state, pinned, with the reason, the user and a new version."""
    line.state = state
    line.pinned = True
    line.reason_code = reason_code
    line.reason_note = note
    line.changed_by = who.actor
    line.changed_at = who.now
    line.lock_version += 1


def _check_reason(code: str | None, note: str | None, reason_codes: list[str], what: str) -> None:
    if code is None:
        raise InvalidInput(f"{what}: a reason code is required, one of {', '.join(reason_codes)}")
    if code not in reason_codes:
        raise InvalidInput(f"{what}: reason code {code!r} is not one of {', '.join(reason_codes)}")
    if code == "other" and not (note or "").strip():
        raise InvalidInput(f"{what}: reason 'other' needs a text (--note)")


def _line_dict(ln: ProposalLine) -> dict[str, Any]:
    return {
        "sku": ln.sku_code,
        "supplier": ln.supplier_code,
        "units": ln.units,
        "cases": ln.cases,
        "state": ln.state,
        "pinned": ln.pinned,
        "version": ln.lock_version,
        "unit_cost": str(ln.unit_cost),
        "effective_unit_cost": str(ln.effective_unit_cost),
        "value": str(ln.value),
        "margin_pct": ln.margin_pct,
        "reason_code": ln.reason_code,
        "reason_note": ln.reason_note,
        "changed_by": ln.changed_by,
        "changed_at": ln.changed_at.isoformat() if ln.changed_at else None,
        "override_reason": ln.override_reason,
    }


def _store_assessment(proposal: Proposal, problem: Problem, instance: Instance, result: Assessment) -> None:
    """Write the re-evaluated figures onto the proposal, its lines and its supplier summary."""
    by_key = {(a.sku, a.supplier): a for a in result.lines}
    prices = {s.sku.code: s.sku.price for s in instance.skus}
    index = line_index(instance)
    stock: dict[str, int] = {}
    for ln in proposal.lines:
        if ln.state != lc.LINE_REJECTED:
            stock[ln.sku_code] = stock.get(ln.sku_code, 0) + ln.units
    for ln in proposal.lines:
        a = by_key[(ln.sku_code, ln.supplier_code)]
        ln.cases = a.cases
        ln.unit_cost = a.unit_cost
        ln.value = a.value
        ln.effective_unit_cost = a.effective_unit_cost
        ln.margin_pct = float(a.margin_pct)
        sku = instance.skus[instance.lines[index[(ln.sku_code, ln.supplier_code)]].sku]
        after = sku.position + stock.get(ln.sku_code, 0)
        ln.stockout_probability_without = round(1 - sku.curve.cdf_at(sku.position), 4)
        ln.stockout_probability_with = round(1 - sku.curve.cdf_at(after), 4)
        ln.days_of_cover = round(after / sku.daily_demand, 1) if sku.daily_demand > 0 else None
    proposal.spend = result.spend
    proposal.rebate = result.rebate
    proposal.expected_profit = result.expected_profit
    proposal.fill_rate = result.fill_rate
    summaries: dict[str, ProposalSupplierSummary] = {s.supplier_code: s for s in proposal.supplier_summaries}
    taken: dict[str, list[ProposalLine]] = {}
    for ln in proposal.lines:
        if ln.state != lc.LINE_REJECTED:
            taken.setdefault(ln.supplier_code, []).append(ln)
    kept = []
    for supplier, its_lines in sorted(taken.items()):
        summary = summaries.get(supplier) or ProposalSupplierSummary(supplier_code=supplier)
        agreements = [a for a in result.agreements if a.supplier == supplier]
        reached = [a for a in agreements if a.proposal_value > 0]
        revenue = sum((prices[ln.sku_code] * ln.units for ln in its_lines), Decimal(0))
        cost = sum((ln.effective_unit_cost * ln.units for ln in its_lines), Decimal(0))
        summary.value = sum((ln.value for ln in its_lines), Decimal(0))
        summary.lines = len(its_lines)
        summary.agreement_code = (reached or agreements)[0].code if agreements else None
        summary.tier_reached = max((a.tier_reached for a in reached), default=0)
        summary.rebate_earned = sum((a.rebate_of_proposal for a in agreements), Decimal(0))
        summary.margin_pct = float(((revenue - cost) / revenue * 100).quantize(CENT)) if revenue else 0.0
        kept.append(summary)
    proposal.supplier_summaries = kept


def _review_dict(proposal: Proposal, problem: Problem, current: Assessment, findings: list[Finding]) -> dict:
    return {
        "id": proposal.id,
        "week": proposal.week.isoformat(),
        "version": proposal.version,
        "state": proposal.state,
        "lock_version": proposal.lock_version,
        "budget": None if problem.budget is None else str(problem.budget),
        "margin_floor": problem.margin_floor,
        "spend": str(current.spend),
        "rebate": str(current.rebate),
        "expected_profit": str(current.expected_profit),
        "fill_rate": current.fill_rate,
        "lines": [
            _line_dict(ln) | {"below_floor": current.line(ln.sku_code, ln.supplier_code).below_floor}
            for ln in proposal.lines
        ],  # type: ignore[union-attr]
        "agreements": [
            {
                "agreement": a.code,
                "supplier": a.supplier,
                "purchases_before": str(a.purchases_before),
                "proposal_value": str(a.proposal_value),
                "period_total": str(a.period_total),
                "tier_reached": a.tier_reached,
                "rebate_for_period": str(a.rebate_for_period),
            }
            for a in current.agreements
        ],
        "below_floor": [
            {"sku": ln.sku, "supplier": ln.supplier, "margin_pct": str(ln.margin_pct)}
            for ln in current.below_floor
        ],
        "impact": [describe(f) for f in findings],
        "findings": [{"code": f.code, "params": f.params} for f in findings],
    }


def _load(proposal: Proposal) -> tuple[Problem, Instance]:
    problem = problem_from_json(proposal.problem, source=f"proposal {proposal.id} problem")
    return problem, prepare(problem)


# --- review, list ----------------------------------------------------------------------------


def list_proposals(engine: Engine, *, week: Any = None, state: str | None = None) -> list[dict[str, Any]]:
    """Stored proposals, newest week and version first: id, week, version, state, lines, spend."""
    with unit_of_work(engine) as session:
        query = select(Proposal).order_by(Proposal.week.desc(), Proposal.version.desc())
        if week is not None:
            query = query.where(Proposal.week == week)
        if state is not None:
            if state not in lc.STATES:
                raise InvalidInput(f"--state: expected one of {', '.join(lc.STATES)}, got {state!r}")
            query = query.where(Proposal.state == state)
        counts = dict(
            session.execute(
                select(ProposalLine.proposal_id, func.count()).group_by(ProposalLine.proposal_id)
            ).all()
        )
        return [
            {
                "id": p.id,
                "week": p.week.isoformat(),
                "version": p.version,
                "state": p.state,
                "status": p.status,
                "lines": counts.get(p.id, 0),
                "spend": str(p.spend),
                "rebate": str(p.rebate),
                "created_at": p.created_at.isoformat(),
                "state_changed_by": p.state_changed_by,
            }
            for p in session.scalars(query)
        ]


def review_proposal(
    engine: Engine, proposal_id: int, who: Who | None = None, *, keep: Collection[int] | None = None
) -> dict[str, Any]:
    """The proposal as a reviewer sees it: lines with their decisions and versions, agreements with
    the tier reached and the period's rebate, lines below the floor, and the impact of every edit
    so far against what the optimizer proposed. With `who`, a draft is put in review (audited).

    With `keep` (line ids), nothing changes: the view is of approving only those lines (the
    others rejected), and the impact is that selection's against the proposal as it stands."""
    with unit_of_work(engine) as session:
        if who is not None:
            proposal = _claim(session, proposal_id)
            if proposal.state == lc.DRAFT:
                _transition(session, proposal, "review", who)
                _bump(proposal)
        else:
            proposal = session.get(Proposal, proposal_id)
            if proposal is None:
                raise NotFound(f"proposal {proposal_id} does not exist")
        problem, instance = _load(proposal)
        current = assess(problem, _choices(proposal.lines), instance)
        if keep is not None:
            _check_selection(proposal, keep)
            selected = assess(problem, _choices(proposal.lines, set(keep)), instance)
            view = _review_dict(proposal, problem, selected, compare(current, selected))
            view["selected"] = sorted(keep)
            return view
        original = assess(problem, _original_choices(proposal.lines), instance)
        return _review_dict(proposal, problem, current, compare(original, current))


def _transition(
    session: Session,
    proposal: Proposal,
    step: str,
    who: Who,
    note: str | None = None,
    target: str | None = None,
    **extra: Any,
) -> str:
    before = proposal.state
    after = lc.next_state(before, step, proposal_id=proposal.id)
    # approval lands on approved or partially_approved (lifecycle.approval_state decides)
    after = target or after
    proposal.state = after
    proposal.state_changed_at = who.now
    proposal.state_changed_by = who.actor
    record(
        session,
        at=who.now,
        actor=who.actor,
        action=step,
        entity="proposal",
        entity_key=str(proposal.id),
        before={"state": before},
        after={"state": after, **extra},
        note=note,
    )
    return after


# --- edits -----------------------------------------------------------------------------------


@dataclass
class EditOutcome:
    """What an edit did (or would do, when not saved): the line after, the rounding, the impact."""

    proposal_id: int
    action: str
    line: dict[str, Any]
    rounding: str | None
    findings: list[Finding]
    impact: list[str]
    saved: bool
    proposal_version: int
    below_floor: list[str] = field(default_factory=list)


def edit_line(
    engine: Engine,
    proposal_id: int,
    sku: str,
    who: Who,
    *,
    reason_codes: list[str],
    reason_code: str | None,
    note: str | None = None,
    supplier: str | None = None,
    units: int | None = None,
    switch_to: str | None = None,
    reject: bool = False,
    expected_version: int | None = None,
    dry_run: bool = False,
) -> EditOutcome:
    """Change a line's units (re-rounded to the case pack, MOQ checked), switch it to another
    eligible supplier, or reject it — with a reason code (and text) and the user; re-evaluate
    the proposal and return the impact. `expected_version` is the line version the user saw:
    a line changed since raises `EditConflict` naming who changed it, and nothing is saved.
    `dry_run` computes the impact and saves nothing."""
    what = f"proposal {proposal_id} line {sku}"
    _check_reason(reason_code, note, reason_codes, what)
    if reject and (units is not None or switch_to is not None):
        raise InvalidInput(f"{what}: reject the line, or change units/supplier, not both")
    if not reject and units is None and switch_to is None:
        raise InvalidInput(f"{what}: nothing to change (give --units, --supplier-to or --reject)")
    with unit_of_work(engine) as session:
        proposal = _claim(session, proposal_id)
        lc.next_state(proposal.state, "edit", proposal_id=proposal.id)
        candidates = [
            ln
            for ln in proposal.lines
            if ln.sku_code == sku and (supplier is None or ln.supplier_code == supplier)
        ]
        if not candidates:
            raise NotFound(f"{what}: no such line" + (f" from supplier {supplier}" if supplier else ""))
        if len(candidates) > 1:
            raise InvalidInput(
                f"{what}: the SKU has lines from {', '.join(ln.supplier_code for ln in candidates)}; "
                "name one with --supplier"
            )
        line = candidates[0]
        if expected_version is not None and expected_version != line.lock_version:
            raise EditConflict(
                f"{what} · {line.supplier_code} was changed by {line.changed_by or 'another user'} at "
                f"{_local(line.changed_at, who.now)} (now version "
                f"{line.lock_version}, your edit was based on version {expected_version}); nothing was "
                "saved — review the line and edit again"
            )
        problem, instance = _load(proposal)
        before = assess(problem, _choices(proposal.lines), instance)
        before_line = _line_dict(line)
        terms = {(i.sku, i.supplier): i for i in problem.items}
        rounding = None
        if reject:
            action = "reject_line"
            new_state = lc.LINE_REJECTED
        else:
            action = "edit_line"
            new_state = lc.LINE_ADDED if line.state == lc.LINE_ADDED else lc.LINE_EDITED
            target = switch_to or line.supplier_code
            if (sku, target) not in terms or (sku, target) not in line_index(instance):
                eligible = sorted(s for (k, s) in terms if k == sku)
                raise InvalidInput(
                    f"{what}: supplier {target} is not an eligible supplier of this SKU in this proposal "
                    f"(eligible: {', '.join(eligible)})"
                )
            if (
                switch_to is not None
                and switch_to != line.supplier_code
                and any(ln.sku_code == sku and ln.supplier_code == switch_to for ln in proposal.lines)
            ):
                raise InvalidInput(f"{what}: the proposal already has a line from {switch_to}; edit that one")
            item = terms[(sku, target)]
            round_ = round_to_cases(
                units if units is not None else line.units, item.case_pack, item.moq, what
            )
            rounding = round_.describe()
        _remember_proposed(line)
        if not reject:
            line.supplier_code = target
            line.units = round_.units
            line.unit_cost = terms[(sku, target)].unit_cost
        _decide_line(line, new_state, who, reason_code, note)
        after = assess(problem, _choices(proposal.lines), instance)
        findings = compare(before, after)
        _store_assessment(proposal, problem, instance, after)
        _bump(proposal)
        impact = [describe(f) for f in findings]
        record(
            session,
            at=who.now,
            actor=who.actor,
            action=action,
            entity="proposal_line",
            entity_key=f"{proposal.id}/{sku}",
            before=before_line,
            after=_line_dict(line) | {"impact": impact, "rounding": rounding},
            note=f"{reason_code}: {note}" if note else reason_code,
        )
        outcome = EditOutcome(
            proposal_id=proposal.id,
            action=action,
            line=_line_dict(line),
            rounding=rounding,
            findings=findings,
            impact=impact,
            saved=not dry_run,
            proposal_version=proposal.lock_version,
            below_floor=[f"{ln.sku} · {ln.supplier} ({ln.margin_pct} %)" for ln in after.below_floor],
        )
        session.flush()
        if dry_run:
            session.rollback()
        return outcome


def add_line(
    engine: Engine,
    proposal_id: int,
    sku: str,
    units: int,
    who: Who,
    *,
    reason_codes: list[str],
    reason_code: str | None,
    note: str | None = None,
    supplier: str | None = None,
    expected_version: int | None = None,
    dry_run: bool = False,
) -> EditOutcome:
    """Add a SKU the optimizer left out (from `supplier`, default the cheapest eligible one),
    rounded to the case pack, MOQ checked, with a reason; the new line is pinned."""
    what = f"proposal {proposal_id} add {sku}"
    _check_reason(reason_code, note, reason_codes, what)
    with unit_of_work(engine) as session:
        proposal = _claim(session, proposal_id)
        lc.next_state(proposal.state, "edit", proposal_id=proposal.id)
        _check_version(proposal, expected_version)
        problem, instance = _load(proposal)
        index = line_index(instance)
        eligible = sorted(
            (i for i in problem.items if i.sku == sku and (sku, i.supplier) in index),
            key=lambda i: (i.unit_cost, i.supplier),
        )
        if not eligible:
            left_out = next((e.reason for e in proposal.exclusions if e.sku_code == sku), None)
            raise InvalidInput(
                f"{what}: the SKU was not part of this proposal's problem"
                + (f" ({left_out})" if left_out else "")
                + "; it can be added only where the proposal has its demand and supplier terms"
            )
        if supplier is not None:
            eligible = [i for i in eligible if i.supplier == supplier]
            if not eligible:
                raise InvalidInput(f"{what}: supplier {supplier} is not an eligible supplier of this SKU")
        item = eligible[0]
        if any(ln.sku_code == sku and ln.supplier_code == item.supplier for ln in proposal.lines):
            raise InvalidInput(
                f"{what}: the proposal already has a line for {sku} from {item.supplier}; edit it"
            )
        round_ = round_to_cases(units, item.case_pack, item.moq, what)
        before = assess(problem, _choices(proposal.lines), instance)
        line = ProposalLine(
            sku_code=sku,
            supplier_code=item.supplier,
            units=round_.units,
            cases=round_.cases,
            unit_cost=item.unit_cost,
            effective_unit_cost=item.unit_cost,
            value=(item.unit_cost * round_.units).quantize(CENT, rounding=ROUND_HALF_UP),
            margin_pct=0.0,
            days_of_cover=None,
            stockout_probability_without=0.0,
            stockout_probability_with=0.0,
            reason=f"added by {who.actor}: {reason_code}" + (f" — {note}" if note else ""),
            state=lc.LINE_ADDED,
            pinned=True,
            lock_version=1,
            reason_code=reason_code,
            reason_note=note,
            changed_by=who.actor,
            changed_at=who.now,
        )
        proposal.lines.append(line)
        session.query(ProposalExclusion).filter(
            ProposalExclusion.proposal_id == proposal.id, ProposalExclusion.sku_code == sku
        ).delete()
        after = assess(problem, _choices(proposal.lines), instance)
        findings = compare(before, after)
        _store_assessment(proposal, problem, instance, after)
        _bump(proposal)
        impact = [describe(f) for f in findings]
        record(
            session,
            at=who.now,
            actor=who.actor,
            action="add_line",
            entity="proposal_line",
            entity_key=f"{proposal.id}/{sku}",
            before=None,
            after=_line_dict(line) | {"impact": impact, "rounding": round_.describe()},
            note=f"{reason_code}: {note}" if note else reason_code,
        )
        session.flush()
        outcome = EditOutcome(
            proposal_id=proposal.id,
            action="add_line",
            line=_line_dict(line),
            rounding=round_.describe(),
            findings=findings,
            impact=impact,
            saved=not dry_run,
            proposal_version=proposal.lock_version,
            below_floor=[f"{ln.sku} · {ln.supplier} ({ln.margin_pct} %)" for ln in after.below_floor],
        )
        if dry_run:
            session.rollback()
        return outcome


# --- re-optimisation -------------------------------------------------------------------------


@dataclass
class ReoptimizeOutcome:
    """Pinned lines kept, the rest re-solved: counts, solver status and time, the impact."""

    proposal_id: int
    pinned: int
    replaced: int
    lines: int
    status: str
    solve_s: float
    impact: list[str]
    proposal_version: int


def reoptimize_proposal(
    engine: Engine,
    proposal_id: int,
    who: Who,
    *,
    expected_version: int | None = None,
    solver: str | None = None,
    warm_start: bool = True,
) -> ReoptimizeOutcome:
    """Keep every edited, added or rejected line (pinned) and re-solve the other SKUs with the
    optimizer, from the proposal's stored problem; the pinned purchases count toward their
    agreements' tiers and come off the budget (`reevaluation.pin_problem`). The solve is
    warm-started from the proposal's other lines (`optimize(start=...)`) when they still
    meet every rule around the pinned ones (`warm_start=False` solves cold: the benchmark's
    baseline)."""
    with unit_of_work(engine) as session:
        proposal = _claim(session, proposal_id)
        lc.next_state(proposal.state, "reoptimize", proposal_id=proposal.id)
        _check_version(proposal, expected_version)
        problem, instance = _load(proposal)
        before = assess(problem, _choices(proposal.lines), instance)
        pinned = [ln for ln in proposal.lines if ln.pinned]
        pinned_skus = {ln.sku_code for ln in pinned}
        around = pin_problem(problem, _choices(pinned), pinned_skus, instance)
        # warm start: the proposal's own lines for the SKUs re-solved (issue 13, point 3)
        previous = {
            (ln.sku_code, ln.supplier_code): ln.units
            for ln in proposal.lines
            if not ln.pinned and ln.state != lc.LINE_REJECTED
        }
        plan = optimize(around, solver=solver, start=previous if warm_start else None)
        replaced = [ln for ln in proposal.lines if not ln.pinned]
        for ln in replaced:
            proposal.lines.remove(ln)
        session.flush()
        for pl in plan.lines:
            proposal.lines.append(
                ProposalLine(
                    sku_code=pl.sku,
                    supplier_code=pl.supplier,
                    units=pl.units,
                    cases=pl.cases,
                    unit_cost=pl.unit_cost,
                    effective_unit_cost=pl.effective_unit_cost,
                    value=pl.value,
                    margin_pct=pl.margin_pct,
                    days_of_cover=pl.days_of_cover,
                    stockout_probability_without=pl.stockout_probability_without,
                    stockout_probability_with=pl.stockout_probability_with,
                    reason=pl.reason,
                    reasons=[r.to_json() for r in pl.reasons],
                    rebate_share=pl.rebate_share,
                    state=lc.LINE_PROPOSED,
                    pinned=False,
                    lock_version=1,
                )
            )
        proposal.exclusions = [
            ProposalExclusion(
                sku_code=e.sku,
                supplier_code=e.supplier,
                reason=e.reason,
                code=e.code.value,
                params=to_jsonable(e.params),
            )
            for e in plan.exclusions
            if e.sku not in pinned_skus
        ]
        session.flush()
        after = assess(problem, _choices(proposal.lines), instance)
        findings = compare(before, after)
        _store_assessment(proposal, problem, instance, after)
        proposal.status = plan.status
        proposal.solver = plan.solver
        proposal.gap = plan.gap
        proposal.solve_s = plan.solve_s
        proposal.messages = (
            list(proposal.messages or [])
            + [
                f"re-optimised by {who.actor} around {len(pinned)} pinned line(s): {plan.status}, "
                f"{plan.solve_s:.2f} s"
            ]
            + plan.messages
        )
        _bump(proposal)
        impact = [describe(f, "re-optimising") for f in findings]
        record(
            session,
            at=who.now,
            actor=who.actor,
            action="reoptimize",
            entity="proposal",
            entity_key=str(proposal.id),
            before={"lines": len(before.lines), "spend": str(before.spend), "rebate": str(before.rebate)},
            after={
                "lines": len(proposal.lines),
                "spend": str(after.spend),
                "rebate": str(after.rebate),
                "pinned": sorted(f"{ln.sku_code}/{ln.supplier_code}" for ln in pinned),
                "status": plan.status,
                "impact": impact,
            },
        )
        return ReoptimizeOutcome(
            proposal_id=proposal.id,
            pinned=len(pinned),
            replaced=len(replaced),
            lines=len(proposal.lines),
            status=plan.status,
            solve_s=plan.solve_s + plan.build_s,
            impact=impact,
            proposal_version=proposal.lock_version,
        )


# --- decisions -------------------------------------------------------------------------------


@dataclass
class ApprovalOutcome:
    """The proposal's state after approval and its POs; `created` is False when it was already
    approved (approving twice raises nothing new)."""

    proposal_id: int
    state: str
    created: bool
    purchase_orders: list[dict[str, Any]]
    superseded: list[int]
    overrides: list[str]


def approve_proposal(
    engine: Engine,
    proposal_id: int,
    who: Who,
    *,
    tz: ZoneInfo,
    overrides: Mapping[str, str] | None = None,
    expected_version: int | None = None,
    order_date: date | None = None,
    review_first: bool = False,
    keep: Collection[int] | None = None,
    leave_out_reason: str | None = None,
    reason_codes: list[str] | None = None,
) -> ApprovalOutcome:
    """Approve a proposal in review and raise its purchase orders in the same transaction.

    Lines below the margin floor at the effective cost need an override reason each
    (`overrides`: SKU code → reason). The week's other open versions are superseded.
    Approving a proposal that is already approved changes nothing and returns its POs.
    `order_date` (default: the business date of `who.now` in `tz`) dates the POs; delivery
    dates follow from it and each line's lead time. A given date may be at most a week before
    the proposal's week (a week's proposal is placed that week or the week before).
    `review_first` puts a draft in review in the same transaction (both steps audited).
    `keep` approves only those lines (ids): every other line is rejected in the same transaction
    with `leave_out_reason` (one of `reason_codes`), audited per line, and the proposal ends
    partially approved.
    """
    overrides = dict(overrides or {})
    with unit_of_work(engine) as session:
        proposal = _claim(session, proposal_id)
        if proposal.state in lc.DECIDED:
            orders = session.scalars(
                select(PurchaseOrder)
                .where(PurchaseOrder.proposal_id == proposal.id)
                .order_by(PurchaseOrder.po_number)
            ).all()
            return ApprovalOutcome(
                proposal.id, proposal.state, False, [po_summary(o) for o in orders], [], []
            )
        if review_first and proposal.state == lc.DRAFT:
            _check_version(proposal, expected_version)
            _transition(session, proposal, "review", who)
            _bump(proposal)
            expected_version = None
        lc.next_state(proposal.state, "approve", proposal_id=proposal.id)
        _check_version(proposal, expected_version)
        ordered_on = order_date or who.now.astimezone(tz).date()
        earliest = proposal.week - timedelta(days=7)
        if order_date is not None and order_date < earliest:
            raise InvalidInput(
                f"order date: {order_date} is more than a week before the proposal's week {proposal.week}; "
                f"the earliest date a PO of this proposal may carry is {earliest}"
            )
        holder = session.scalar(
            select(Proposal).where(Proposal.approved_week == proposal.week, Proposal.id != proposal.id)
        )
        if holder is not None:
            raise TransitionRefused(
                f"proposal {proposal.id}: week {proposal.week} already has an approved version "
                f"(proposal {holder.id}, version {holder.version}, {holder.state}); "
                "only one version per week can be approved"
            )
        problem, instance = _load(proposal)
        if keep is not None:
            _check_selection(proposal, keep)
            _check_reason(leave_out_reason, None, list(reason_codes or []), f"proposal {proposal.id} approve")
            for ln in proposal.lines:
                if ln.id in keep or ln.state == lc.LINE_REJECTED:
                    continue
                before_line = _line_dict(ln)
                _remember_proposed(ln)
                _decide_line(
                    ln, lc.LINE_REJECTED, who, leave_out_reason, "left out when approving the selected lines"
                )
                record(
                    session,
                    at=who.now,
                    actor=who.actor,
                    action="reject_line",
                    entity="proposal_line",
                    entity_key=f"{proposal.id}/{ln.sku_code}",
                    before=before_line,
                    after=_line_dict(ln),
                    note=f"{leave_out_reason}: {ln.reason_note}",
                )
        current = assess(problem, _choices(proposal.lines), instance)
        below = current.below_floor
        missing = [ln for ln in below if not (overrides.get(ln.sku) or "").strip()]
        if missing:
            listed = ", ".join(f"{ln.sku} ({ln.margin_pct} % < {problem.margin_floor:.0%})" for ln in missing)
            raise TransitionRefused(
                f"proposal {proposal.id}: {len(missing)} line(s) below the margin floor at the effective "
                f"cost: "
                f"{listed}; approve them only with an explicit override and its reason "
                f"(--override SKU='reason'), or edit them first"
            )
        unknown = sorted(set(overrides) - {ln.sku for ln in below})
        if unknown:
            raise InvalidInput(
                f"proposal {proposal.id}: --override given for {', '.join(unknown)}, which "
                "clear the margin floor (or are not in the proposal); nothing to override"
            )
        overridden = []
        for ln in proposal.lines:
            if ln.state != lc.LINE_REJECTED and ln.sku_code in overrides:
                ln.override_reason = overrides[ln.sku_code].strip()
                ln.override_by = who.actor
                a = current.line(ln.sku_code, ln.supplier_code)
                overridden.append(ln.sku_code)
                record(
                    session,
                    at=who.now,
                    actor=who.actor,
                    action="override_margin_floor",
                    entity="proposal_line",
                    entity_key=f"{proposal.id}/{ln.sku_code}",
                    before={"margin_pct": str(a.margin_pct) if a else None, "floor": problem.margin_floor},
                    after={"approved_below_floor": True},
                    note=ln.override_reason,
                )
        approved_state = lc.approval_state([ln.state for ln in proposal.lines])
        _transition(session, proposal, "approve", who, target=approved_state)
        proposal.approved_week = proposal.week
        superseded = []
        for other in session.scalars(
            select(Proposal).where(
                Proposal.week == proposal.week, Proposal.id != proposal.id, Proposal.state.in_(lc.EDITABLE)
            )
        ):
            _transition(
                session, other, "supersede", who, note=f"proposal {proposal.id} approved for the week"
            )
            other.lock_version += 1
            superseded.append(other.id)
        terms = {(i.sku, i.supplier): i for i in problem.items}
        order_lines = [
            OrderLine(
                sku=ln.sku_code,
                supplier=ln.supplier_code,
                units=ln.units,
                unit_cost=ln.unit_cost,
                case_pack=terms[(ln.sku_code, ln.supplier_code)].case_pack,
                lead_time_days=terms[(ln.sku_code, ln.supplier_code)].lead_time_days,
            )
            for ln in proposal.lines
            if ln.state != lc.LINE_REJECTED
        ]
        session.flush()
        orders = raise_purchase_orders(
            session,
            proposal_id=proposal.id,
            lines=order_lines,
            order_date=ordered_on,
            now=who.now,
            actor=who.actor,
        )
        _transition(session, proposal, "order", who, purchase_orders=[o.po_number for o in orders])
        _bump(proposal)
        return ApprovalOutcome(
            proposal.id, proposal.state, True, [po_summary(o) for o in orders], superseded, overridden
        )


def reject_proposal(
    engine: Engine,
    proposal_id: int,
    who: Who,
    *,
    reason_codes: list[str],
    reason_code: str | None,
    note: str | None = None,
    expected_version: int | None = None,
) -> str:
    """Reject a draft or in-review proposal with a reason; returns the new state."""
    _check_reason(reason_code, note, reason_codes, f"proposal {proposal_id} reject")
    with unit_of_work(engine) as session:
        proposal = _claim(session, proposal_id)
        _check_version(proposal, expected_version)
        state = _transition(
            session, proposal, "reject", who, note=f"{reason_code}: {note}" if note else reason_code
        )
        _bump(proposal)
        return state


def mark_proposals_exported(session: Session, proposal_ids: set[int], who: Who) -> list[int]:
    """Move each ordered proposal whose POs have all been exported to `exported` (audited)."""
    moved = []
    for proposal_id in sorted(proposal_ids):
        proposal = session.get(Proposal, proposal_id)
        if proposal is None or proposal.state != lc.ORDERED:
            continue
        pending = session.scalar(
            select(func.count())
            .select_from(PurchaseOrder)
            .where(PurchaseOrder.proposal_id == proposal_id, PurchaseOrder.supplier_file_id.is_(None))
        )
        if pending == 0:
            _transition(session, proposal, "export", who)
            _bump(proposal)
            moved.append(proposal_id)
    return moved
