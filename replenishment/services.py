"""Use cases: build the weekly proposal from the database, store it, read it back, list them.

`build_proposal` checks that its inputs are fresh, loads a `Problem` (SKUs,
latest inventory, open POs, supplier terms, agreements, seasons), reads demand
quantiles per window through the one forecast hand-off (`forecasting.handoff`:
the latest complete run as of the week), calls the pure `optimize`, and stores
the proposal with its lines, exclusions (reason codes) and supplier summary in
one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from forecasting import DemandSource, FrameDemand, complete_forecast, history_end
from kernel.catalog import Category, Sku
from kernel.errors import ConcurrentUpdate, InvalidInput, NotFound, RestockError
from kernel.jsonable import to_jsonable
from kernel.orm import unit_of_work
from kernel.seasons import season_window
from replenishment.decisions import (
    OpenPoLine,
    Season,
    SupplierLead,
    WindowDecision,
    decide_window,
    orders_in_window,
)
from replenishment.demand import QUANTILE_COLUMNS, QUANTILE_LEVELS
from replenishment.inputs import fingerprint, input_changes, proposal_inputs, summarise
from replenishment.lifecycle import DRAFT, IN_REVIEW
from replenishment.models import (
    InventorySnapshot,
    Proposal,
    ProposalExclusion,
    ProposalLine,
    ProposalSupplierSummary,
)
from replenishment.optimizer import optimize
from replenishment.plan import Plan
from replenishment.problem import (
    Agreement,
    Exclusion,
    Problem,
    SkuProblem,
    SupplierItemTerms,
    SupplierTerms,
    problem_to_json,
)
from replenishment.reasons import Reason, ReasonCode, render_all
from replenishment.seasons import next_season
from replenishment.settings import ProposalSettings, ReplenishmentSettings
from suppliers.models import (
    ON_ORDER_STATUSES,
    PurchaseOrder,
    PurchaseOrderLine,
    RebateAgreement,
    Supplier,
    SupplierItem,
)
from suppliers.rebates import Tier

WINDOW_COLUMNS = ("unique_id", "window_id", "start", "end")


class StaleInputs(RestockError):
    """A proposal's inputs are older than the configured limits; the message names each date."""

    exit_code = 17


@dataclass(frozen=True)
class PreviousVersion:
    """The week's latest stored version before this build: what it was built from."""

    proposal_id: int
    version: int
    state: str
    fingerprint: str | None
    inputs: dict[str, Any]


@dataclass
class ProposalResult:
    """The proposal's id and version, the plan (None when nothing was solved because the
    week's current version has the same inputs) and what happened to the week's versions.

    `stored`: a new version was stored (False: `proposal_id`/`version` name the current
    version whose inputs are unchanged). `previous`: the version the new one supersedes.
    `changes`: how the inputs differ from `previous`'s. `forced`: stored with `force`.
    """

    proposal_id: int | None
    version: int | None
    plan: Plan | None
    problem: Problem
    stored: bool = True
    previous: PreviousVersion | None = None
    changes: list[str] = field(default_factory=list)
    forced: bool = False

    def outcome(self) -> str:
        """One line: which version is current and why (first, inputs changed, --force, unchanged)."""
        week = self.problem.week
        if self.proposal_id is None:
            return f"proposal for week {week} built, not stored"
        head = f"proposal {self.proposal_id} (week {week}, version {self.version})"
        previous = self.previous
        if not self.stored:
            state = f", {previous.state}" if previous is not None and previous.state != DRAFT else ""
            return (
                f"{head[:-1]}{state}) is current and its inputs are unchanged: nothing stored; "
                "--force stores a new version"
            )
        if previous is None:
            return f"{head} stored: the first for this week"
        why = (
            f"inputs changed since version {previous.version}: {summarise(self.changes)}"
            if self.changes
            else f"inputs unchanged since version {previous.version}"
        )
        forced = " with --force" if self.forced else ""
        return f"{head} stored{forced}, superseding version {previous.version}; {why}"


@dataclass(frozen=True)
class InputDates:
    """The as-of dates of a proposal's inputs (None: no such data)."""

    inventory: date | None
    sales: date | None
    forecast: date | None


def stale_inputs(week: date, dates: InputDates, cfg: ReplenishmentSettings) -> list[str]:
    """One line per input older than its limit in days before `week` (empty: all fresh). Pure."""
    problems = []
    limits = (
        ("inventory snapshot", dates.inventory, cfg.max_inventory_age_days),
        ("sales history", dates.sales, cfg.max_sales_age_days),
        ("forecast run", dates.forecast, cfg.max_forecast_age_days),
    )
    for name, day, limit in limits:
        if day is None:
            if name != "forecast run":  # a demand source without an as-of date is given, not stored
                problems.append(f"{name}: none on or before {week}")
        elif (week - day).days > limit:
            problems.append(
                f"{name} as of {day} is {(week - day).days} days before the week {week} (limit {limit})"
            )
    return problems


def input_dates(session: Session, week: date, demand: DemandSource) -> InputDates:
    """Latest inventory snapshot date and last sales date on or before `week`, and the
    demand source's as-of date."""
    return InputDates(
        inventory=session.scalar(
            select(func.max(InventorySnapshot.date)).where(InventorySnapshot.date <= week)
        ),
        sales=history_end(session, week),
        forecast=demand.as_of,
    )


def default_week(engine: Engine) -> date:
    """The Monday after the data's as-of date (the last business date with sales)."""
    with unit_of_work(engine) as session:
        last = history_end(session, None)
    if last is None:
        raise NotFound("no sales in the database: import sales first (`restock import`)")
    return last + timedelta(days=7 - last.weekday())


@dataclass(frozen=True)
class _Catalog:
    categories: dict[int, Category]
    skus: list[Sku]
    suppliers: dict[int, Supplier]
    items_by_sku: dict[int, list[SupplierItem]]


def _load_catalog(session: Session) -> _Catalog:
    items_by_sku: dict[int, list[SupplierItem]] = {}
    for item in session.scalars(
        select(SupplierItem).where(SupplierItem.active.is_(True)).order_by(SupplierItem.id)
    ):
        items_by_sku.setdefault(item.sku_id, []).append(item)
    return _Catalog(
        categories={c.id: c for c in session.scalars(select(Category))},
        skus=list(session.scalars(select(Sku).where(Sku.status == "active").order_by(Sku.code))),
        suppliers={s.id: s for s in session.scalars(select(Supplier))},
        items_by_sku=items_by_sku,
    )


def _latest_snapshots(session: Session, week: date) -> dict[int, InventorySnapshot]:
    latest = (
        select(InventorySnapshot.sku_id, func.max(InventorySnapshot.date).label("d"))
        .where(InventorySnapshot.date <= week)
        .group_by(InventorySnapshot.sku_id)
        .subquery()
    )
    return {
        snap.sku_id: snap
        for snap in session.scalars(
            select(InventorySnapshot).join(
                latest,
                (InventorySnapshot.sku_id == latest.c.sku_id) & (InventorySnapshot.date == latest.c.d),
            )
        )
    }


def _open_po_lines(session: Session) -> dict[int, list[OpenPoLine]]:
    """Lines of purchase orders still on order (imported open POs and restock's approved or
    exported ones), by SKU id, with the PO's number, supplier, date and proposal."""
    by_sku: dict[int, list[OpenPoLine]] = {}
    for sku_id, units, received, expected, number, supplier, proposal_id in session.execute(
        select(
            PurchaseOrderLine.sku_id,
            PurchaseOrderLine.units,
            PurchaseOrderLine.received_units,
            PurchaseOrder.expected_date,
            PurchaseOrder.po_number,
            Supplier.code,
            PurchaseOrder.proposal_id,
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
        .where(PurchaseOrder.status.in_(ON_ORDER_STATUSES))
        .order_by(PurchaseOrder.expected_date, PurchaseOrder.po_number, PurchaseOrderLine.id)
    ):
        by_sku.setdefault(sku_id, []).append(
            OpenPoLine(number, supplier, units, received or 0, expected, proposal_id)
        )
    return by_sku


def _season_of(
    category: Category, week: date, settings: ProposalSettings, messages: list[str]
) -> Season | None:
    name = category.season
    if not name:
        return None
    spec = settings.seasons.get(name)
    if spec is None:
        messages.append(
            f"category {category.code}: season: unknown season {name!r}; replenished as non-seasonal"
        )
        return None
    start, end = next_season(week, lambda year: season_window(spec, year))
    prebuild = category.prebuild_days if category.prebuild_days is not None else spec.prebuild_days
    return Season(name=name, start=start, end=end, prebuild_days=prebuild)


def _agreements(session: Session, week: date, catalog: _Catalog) -> list[Agreement]:
    sku_by_id = {s.id: s for s in catalog.skus}
    category_skus: dict[int, list[str]] = {}
    for sku in catalog.skus:
        category_skus.setdefault(sku.category_id, []).append(sku.code)
    agreements = []
    for ag in session.scalars(
        select(RebateAgreement)
        .where(RebateAgreement.period_start <= week, RebateAgreement.period_end >= week)
        .order_by(RebateAgreement.code)
    ):
        scope: tuple[str, ...] | None = None
        if ag.scopes:
            codes: set[str] = set()
            for target in ag.scopes:
                if target.sku_id is not None and target.sku_id in sku_by_id:
                    codes.add(sku_by_id[target.sku_id].code)
                if target.category_id is not None:
                    codes.update(category_skus.get(target.category_id, []))
            scope = tuple(sorted(codes))
        agreements.append(
            Agreement(
                code=ag.code,
                supplier=catalog.suppliers[ag.supplier_id].code,
                kind=ag.kind,
                tiers=tuple(Tier(t.tier, t.threshold, t.rate) for t in ag.tiers),
                purchases_to_date=ag.purchases_to_date,
                skus=scope,
            )
        )
    return agreements


def load_problem(
    session: Session,
    week: date,
    settings: ProposalSettings,
    demand: DemandSource | pd.DataFrame | Callable[[pd.DataFrame], pd.DataFrame],
    budget: Decimal | None = None,
) -> tuple[Problem, list[str]]:
    """Build the optimizer's `Problem` for the proposal of `week` (a Monday) from the database,
    and the loading messages (unknown season, missing snapshot).

    Queries only; each SKU's window, mode and suppliers come from the pure
    `replenishment.decisions.decide_window`, its demand from `demand` (one call for
    every window). A SKU the decision or the forecast leaves out becomes an exclusion
    with its reason code.
    """
    if week.weekday() != 0:
        raise InvalidInput(f"week: a proposal week starts on a Monday, got {week} ({week:%A})")
    cfg = settings.replenishment
    if not hasattr(demand, "window_demand"):  # a literal frame or a function of the windows
        demand = FrameDemand(demand)
    exclusions: list[Exclusion] = []
    messages: list[str] = []
    catalog = _load_catalog(session)
    snapshots = _latest_snapshots(session, week)
    open_lines = _open_po_lines(session)
    seasons: dict[int, Season | None] = {}

    decided: list[tuple[Sku, WindowDecision]] = []
    for sku in catalog.skus:
        category = catalog.categories[sku.category_id]
        if category.id not in seasons:
            seasons[category.id] = _season_of(category, week, settings, messages)
        items = catalog.items_by_sku.get(sku.id, [])
        leads = [SupplierLead(catalog.suppliers[i.supplier_id].code, i.lead_time_days) for i in items]
        decision = decide_window(week, cfg.review_period_days, seasons[category.id], leads)
        if isinstance(decision, Reason):
            exclusions.append(Exclusion.of(sku.code, decision))
        else:
            decided.append((sku, decision))

    windows = pd.DataFrame(
        [(sku.code, d.window_id, d.window_start, d.window_end) for sku, d in decided],
        columns=list(WINDOW_COLUMNS),
    )
    answer = demand.window_demand(windows, QUANTILE_LEVELS)
    missing = [c for c in ("unique_id", "window_id", *QUANTILE_COLUMNS) if c not in answer.columns]
    if missing:
        raise InvalidInput(f"demand quantiles: missing column(s) {', '.join(missing)}")
    by_key = {(row.unique_id, row.window_id): row for row in answer.itertuples(index=False)}

    sku_problems: list[SkuProblem] = []
    item_terms: list[SupplierItemTerms] = []
    for sku, d in decided:
        found = by_key.get((sku.code, d.window_id))
        if found is None:
            exclusions.append(
                Exclusion.of(
                    sku.code,
                    Reason(
                        ReasonCode.NO_FORECAST,
                        {
                            "run_id": demand.run_id,
                            "window_start": d.window_start.isoformat(),
                            "window_end": d.window_end.isoformat(),
                        },
                    ),
                )
            )
            continue
        category = catalog.categories[sku.category_id]
        snapshot = snapshots.get(sku.id)
        orders = orders_in_window(open_lines.get(sku.id, []), d.window_end)
        if snapshot is None:
            messages.append(f"SKU {sku.code}: on_hand: no inventory snapshot on or before {week}; taken as 0")
        sku_problems.append(
            SkuProblem(
                code=sku.code,
                name=sku.name,
                category=category.code,
                price=sku.price,
                abc_class=sku.abc_class,
                service_level=cfg.service_levels.get(sku.abc_class, 0.95),
                on_hand=snapshot.on_hand if snapshot else 0,
                committed=snapshot.committed if snapshot else 0,
                on_order=sum(order.units for order in orders),
                open_orders=orders,
                window_start=d.window_start,
                window_end=d.window_end,
                demand_quantiles=tuple(float(getattr(found, c)) for c in QUANTILE_COLUMNS),
                mode=d.mode,
                season=d.season.name if d.season else None,
                order_by=d.order_by,
                salvage_rate=category.salvage_rate,
                season_start=d.season.start if d.season else None,
                prebuild_days=d.season.prebuild_days if d.season else None,
            )
        )
        for item in catalog.items_by_sku[sku.id]:
            supplier = catalog.suppliers[item.supplier_id]
            if supplier.code in d.suppliers:
                item_terms.append(
                    SupplierItemTerms(
                        sku=sku.code,
                        supplier=supplier.code,
                        unit_cost=item.unit_cost,
                        moq=item.moq,
                        case_pack=item.case_pack,
                        lead_time_days=item.lead_time_days,
                    )
                )

    return Problem(
        week=week,
        skus=sku_problems,
        suppliers=[
            SupplierTerms(s.code, s.name, s.min_order_value)
            for s in sorted(catalog.suppliers.values(), key=lambda s: s.code)
        ],
        items=item_terms,
        agreements=_agreements(session, week, catalog),
        budget=budget if budget is not None else Decimal(str(cfg.budget_cny)),
        margin_floor=cfg.margin_floor,
        holding_cost_rate_per_year=cfg.holding_cost_rate_per_year,
        obsolescence_rate_per_year=cfg.obsolescence_rate_per_year,
        max_cover_days=cfg.max_cover_days,
        review_period_days=cfg.review_period_days,
        fixed_order_cost=Decimal(str(cfg.fixed_order_cost_cny)),
        solver=cfg.solver,
        time_limit_s=cfg.time_limit_s,
        mip_gap=cfg.mip_gap,
        forecast_run_id=None if demand.run_id is None else str(demand.run_id),
        exclusions=exclusions,
    ), messages


@dataclass(frozen=True)
class OpenProposal:
    """An earlier week's proposal (its latest version) that nobody approved or superseded."""

    proposal_id: int
    week: date
    version: int
    spend: Decimal
    units_by_sku: dict[str, int]


def open_earlier_proposal(session: Session, week: date) -> OpenProposal | None:
    """The latest version of the most recent proposal for a week before `week`, when still open.

    Open = draft or in review (`replenishment.lifecycle`); an approved proposal's lines count as
    on order through the purchase orders it raised. Only the latest version of that week counts.
    """
    row = session.scalars(
        select(Proposal).where(Proposal.week < week).order_by(Proposal.week.desc(), Proposal.version.desc())
    ).first()
    if row is None or row.state not in (DRAFT, IN_REVIEW):
        return None  # approved ones count through their purchase orders; rejected/superseded are final
    units: dict[str, int] = {}
    for line in row.lines:
        units[line.sku_code] = units.get(line.sku_code, 0) + line.units
    return OpenProposal(int(row.id), row.week, int(row.version), row.spend, units)


def _open_proposal_message(earlier: OpenProposal) -> str:
    biggest = sorted(earlier.units_by_sku.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{code} × {units:,}" for code, units in biggest[:5])
    more = f" and {len(biggest) - 5} more SKUs" if len(biggest) > 5 else ""
    return (
        f"proposal {earlier.proposal_id} (week {earlier.week}, v{earlier.version}) is still open — neither "
        f"approved nor superseded; it would have bought {len(biggest)} SKUs for ¥{earlier.spend:,.2f}: "
        f"{shown}{more}. Nothing of it counts as on order here"
    )


def build_proposal(
    engine: Engine,
    week: date,
    settings: ProposalSettings,
    *,
    now: datetime,
    budget: Decimal | None = None,
    demand: DemandSource | None = None,
    store: bool = True,
    solver: str | None = None,
    allow_stale: bool = False,
    force: bool = False,
) -> ProposalResult:
    """Load the problem for `week`, optimise it, and (if `store`) save the proposal as the
    week's next version in one transaction, created at `now` (aware). `budget` (CNY)
    overrides the settings' budget.

    `demand` defaults to the latest complete forecast run as of `week`
    (`forecasting.handoff.complete_forecast`). Inputs older than the configured limits
    raise `StaleInputs` naming their dates unless `allow_stale`, and then the proposal's
    first message says so. An earlier week's proposal still open is named next, and the
    lines of SKUs it would also buy say so.

    When the week's latest version was built from the same inputs (`replenishment.inputs`:
    problem, open earlier proposal, solver) nothing is solved or stored unless `force`: the
    result names that version with `stored` False. Otherwise the result says which version
    the new one supersedes and what changed. Checked again in the storing transaction, so
    two identical builds of a week at once store one version.
    """
    with unit_of_work(engine) as session:
        if week.weekday() != 0:
            raise InvalidInput(f"week: a proposal week starts on a Monday, got {week} ({week:%A})")
        source = demand if demand is not None else complete_forecast(session, week)
        stale = stale_inputs(week, input_dates(session, week, source), settings.replenishment)
        if stale and not allow_stale:
            raise StaleInputs(
                f"proposal for week {week} refused, its inputs are stale: {'; '.join(stale)}. "
                "Import fresh data and forecast again, or pass --allow-stale to propose anyway"
            )
        problem, messages = load_problem(session, week, settings, source, budget)
        earlier = open_earlier_proposal(session, week)
        latest = latest_version(session, week)
    problem_text = problem_to_json(problem)  # stored as is: the inputs compared with the next build
    inputs = proposal_inputs(
        problem_text, None if earlier is None else (earlier.proposal_id, earlier.version), solver
    )
    digest = fingerprint(inputs)
    if store and not force and latest is not None and latest.fingerprint == digest:
        return ProposalResult(
            latest.proposal_id, latest.version, None, problem, stored=False, previous=latest
        )
    plan = optimize(problem, solver=solver)
    first = [f"STALE INPUTS (proposed with --allow-stale): {s}" for s in stale]
    if earlier is not None:
        first.append(_open_proposal_message(earlier))
        _mark_open_proposal_lines(plan, earlier)
    plan.messages = first + messages + plan.messages
    if not store:
        return ProposalResult(None, None, plan, problem)
    created = now

    def new_proposal(version: int) -> Proposal:
        proposal = Proposal(
            week=week,
            version=version,
            created_at=created,
            forecast_run_id=None if problem.forecast_run_id is None else int(problem.forecast_run_id),
            status=plan.status,
            solver=plan.solver,
            gap=plan.gap,
            solve_s=plan.solve_s,
            build_s=plan.build_s,
            budget=problem.budget,
            spend=plan.spend,
            rebate=plan.rebate_gain,
            expected_profit=plan.expected_profit,
            fill_rate=plan.fill_rate,
            parameters={
                "margin_floor": problem.margin_floor,
                "holding_cost_rate_per_year": problem.holding_cost_rate_per_year,
                "review_period_days": problem.review_period_days,
                "budget": None if problem.budget is None else str(problem.budget),
                "time_limit_s": problem.time_limit_s,
                "mip_gap": problem.mip_gap,
                "solver": problem.solver,
                "solver_asked": solver,
                "open_earlier_proposal": inputs["open_earlier_proposal"],
                "inputs_fingerprint": digest,
            },
            messages=plan.messages,
            problem=problem_text,
            agreements=to_jsonable(plan.agreements),
        )
        proposal.lines = [
            ProposalLine(
                sku_code=ln.sku,
                supplier_code=ln.supplier,
                units=ln.units,
                cases=ln.cases,
                unit_cost=ln.unit_cost,
                effective_unit_cost=ln.effective_unit_cost,
                value=ln.value,
                margin_pct=ln.margin_pct,
                days_of_cover=ln.days_of_cover,
                stockout_probability_without=ln.stockout_probability_without,
                stockout_probability_with=ln.stockout_probability_with,
                reason=ln.reason,
                reasons=[r.to_json() for r in ln.reasons],
                rebate_share=ln.rebate_share,
            )
            for ln in plan.lines
        ]
        proposal.exclusions = [
            ProposalExclusion(
                sku_code=e.sku,
                supplier_code=e.supplier,
                reason=e.reason,
                code=e.code.value,
                params=to_jsonable(e.params),
            )
            for e in plan.exclusions
        ]
        proposal.supplier_summaries = [
            ProposalSupplierSummary(
                supplier_code=s.supplier,
                value=s.value,
                lines=s.lines,
                agreement_code=s.agreement,
                tier_reached=s.tier_reached,
                rebate_earned=s.rebate_gain,
                margin_pct=s.margin_pct,
            )
            for s in plan.suppliers
        ]
        return proposal

    proposal_id, version, stored, previous = _store_as_next_version(
        engine, week, new_proposal, unless_fingerprint=None if force else digest
    )
    if not stored:  # an identical build of the week was stored meanwhile
        return ProposalResult(proposal_id, version, plan, problem, stored=False, previous=previous)
    changes = [] if previous is None else _changes_since(previous, inputs, digest)
    return ProposalResult(
        proposal_id, version, plan, problem, previous=previous, changes=changes, forced=force
    )


def latest_version(session: Session, week: date) -> PreviousVersion | None:
    """The week's latest stored version and the inputs it was built from (None: no version yet)."""
    row = session.execute(
        select(Proposal.id, Proposal.version, Proposal.state, Proposal.parameters, Proposal.problem)
        .where(Proposal.week == week)
        .order_by(Proposal.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    parameters = row.parameters or {}
    try:
        problem_json = json.loads(row.problem)
    except (TypeError, ValueError):
        problem_json = {}
    open_earlier = parameters.get("open_earlier_proposal")
    inputs = {
        "problem": problem_json,
        "open_earlier_proposal": None if open_earlier is None else list(open_earlier),
        "solver": parameters.get("solver_asked"),
    }
    return PreviousVersion(
        int(row.id), int(row.version), row.state, parameters.get("inputs_fingerprint"), inputs
    )


def _changes_since(previous: PreviousVersion, inputs: dict[str, Any], digest: str) -> list[str]:
    if previous.fingerprint is None:
        return [f"version {previous.version} was stored without a record of its inputs"]
    if previous.fingerprint == digest:
        return []
    return input_changes(previous.inputs, inputs) or ["inputs fingerprint differs"]


def _mark_open_proposal_lines(plan: Plan, earlier: OpenProposal) -> None:
    for line in plan.lines:
        units = earlier.units_by_sku.get(line.sku)
        if units:
            line.reasons.append(
                Reason(
                    ReasonCode.ALSO_IN_OPEN_PROPOSAL,
                    {"proposal_id": earlier.proposal_id, "week": earlier.week.isoformat(), "units": units},
                )
            )
            line.reason = render_all(line.reasons)


# Tries of the insert when another process stores a version of the same week at the same moment.
_VERSION_ATTEMPTS = 8


def _store_as_next_version(
    engine: Engine,
    week: date,
    new_proposal: Callable[[int], Proposal],
    unless_fingerprint: str | None = None,
) -> tuple[int, int, bool, PreviousVersion | None]:
    """Insert `new_proposal(version)` as the week's next version; return (id, version, stored,
    the version before). When the week's latest version has the inputs fingerprint
    `unless_fingerprint`, nothing is inserted and that version is returned with stored False.

    Versions are allocated race-free: two processes storing a proposal of the same week at
    once both read the same highest version, and the database's unique (week, version) key
    refuses the second insert (PostgreSQL: unique violation once the first commits; SQLite:
    "database is locked" on a snapshot the first writer made stale). Only the insert is
    repeated, with the next number — the solved plan is kept. After `_VERSION_ATTEMPTS`
    tries the conflict is raised as `ConcurrentUpdate`.
    """
    for attempt in range(1, _VERSION_ATTEMPTS + 1):
        try:
            with unit_of_work(engine) as session:
                latest = latest_version(session, week)
                if (
                    latest is not None
                    and unless_fingerprint is not None
                    and latest.fingerprint == unless_fingerprint
                ):
                    return latest.proposal_id, latest.version, False, latest
                version = (latest.version if latest is not None else 0) + 1
                proposal = new_proposal(version)
                session.add(proposal)
                session.flush()
                return int(proposal.id), version, True, latest
        except (IntegrityError, OperationalError) as exc:
            if not _version_clash(exc):
                raise
            if attempt == _VERSION_ATTEMPTS:
                raise ConcurrentUpdate(
                    f"proposal for week {week} not stored: {attempt} other proposals of the same "
                    "week were stored at the same moment; run propose again"
                ) from exc
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _version_clash(exc: DBAPIError) -> bool:
    """A concurrent store of the same week: its unique (week, version) key, or SQLite's lock."""
    message = str(exc.orig)
    if isinstance(exc, IntegrityError):
        return "uq_proposals_week_version" in message or "proposals.week, proposals.version" in message
    return "database is locked" in message


def get_proposal(engine: Engine, proposal_id: int) -> dict[str, Any]:
    """A stored proposal as a JSON-ready dict (header, lines, exclusions, suppliers)."""
    with unit_of_work(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        if proposal is None:
            raise NotFound(f"proposal {proposal_id} does not exist")
        names = {s["code"]: s["name"] for s in json.loads(proposal.problem).get("skus", [])}
        codes = {ln.sku_code for ln in proposal.lines} | {e.sku_code for e in proposal.exclusions}
        missing = codes - set(names)
        if missing:
            names.update(session.execute(select(Sku.code, Sku.name).where(Sku.code.in_(missing))).all())
        return {
            "id": proposal.id,
            "week": proposal.week.isoformat(),
            "version": proposal.version,
            "created_at": proposal.created_at.isoformat(),
            "forecast_run_id": proposal.forecast_run_id,
            "status": proposal.status,
            "solver": proposal.solver,
            "gap": proposal.gap,
            "solve_s": proposal.solve_s,
            "budget": None if proposal.budget is None else str(proposal.budget),
            "spend": str(proposal.spend),
            "rebate_gain": str(proposal.rebate),
            "expected_profit": str(proposal.expected_profit),
            "fill_rate": proposal.fill_rate,
            "parameters": proposal.parameters,
            "messages": proposal.messages,
            "sku_names": names,
            "agreements": proposal.agreements or [],
            "lines": [
                {
                    "sku": ln.sku_code,
                    "supplier": ln.supplier_code,
                    "units": ln.units,
                    "cases": ln.cases,
                    "unit_cost": str(ln.unit_cost),
                    "effective_unit_cost": str(ln.effective_unit_cost),
                    "value": str(ln.value),
                    "margin_pct": ln.margin_pct,
                    "days_of_cover": ln.days_of_cover,
                    "stockout_probability_without": ln.stockout_probability_without,
                    "stockout_probability_with": ln.stockout_probability_with,
                    "reason": ln.reason,
                    "reasons": ln.reasons or [],
                    "rebate_share": None if ln.rebate_share is None else str(ln.rebate_share),
                }
                for ln in proposal.lines
            ],
            "exclusions": [
                {
                    "sku": e.sku_code,
                    "supplier": e.supplier_code,
                    "reason": e.reason,
                    "code": e.code,
                    "params": e.params or {},
                }
                for e in proposal.exclusions
            ],
            "suppliers": [
                {
                    "supplier": s.supplier_code,
                    "value": str(s.value),
                    "lines": s.lines,
                    "agreement": s.agreement_code,
                    "tier_reached": s.tier_reached,
                    "rebate_gain": str(s.rebate_earned),
                    "margin_pct": s.margin_pct,
                }
                for s in proposal.supplier_summaries
            ],
        }
