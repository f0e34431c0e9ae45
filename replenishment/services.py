"""Use cases: build the weekly proposal from the database, store it, read it back.

`build_proposal` loads a `Problem` (SKUs, latest inventory, open POs, supplier
terms, agreements, seasons), reads demand quantiles per window through
`forecasting.total_demand` (one adapter function), calls the pure `optimize`, and
stores the proposal with its lines, exclusions and supplier summary in one
transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kernel.catalog import Category, Sku
from kernel.errors import InvalidInput, NotFound
from kernel.orm import unit_of_work
from kernel.seasons import season_window
from replenishment.demand import QUANTILE_COLUMNS, QUANTILE_LEVELS
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
from replenishment.seasons import SeasonalDecision, next_season, seasonal_decision
from replenishment.settings import ProposalSettings
from suppliers.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    RebateAgreement,
    Supplier,
    SupplierItem,
)
from suppliers.rebates import Tier

WINDOW_COLUMNS = ("unique_id", "window_id", "start", "end")
DEMAND_COLUMNS = ("unique_id", "window_id", "mean", *QUANTILE_COLUMNS)

DemandSource = Callable[[pd.DataFrame], pd.DataFrame]


def forecast_window_demand(windows: pd.DataFrame, run: Any) -> pd.DataFrame:
    """Demand quantiles per SKU window from the forecasting package (its narrow interface).

    `windows`: DataFrame[unique_id (SKU code), window_id, start, end (inclusive dates)];
    `run`: a `forecasting.ForecastResult`. Returns DataFrame[unique_id, window_id, mean,
    q10, q50, q80, q90, q95, q99] in units. This is the only place replenishment calls
    forecasting. Windows the run cannot answer (SKU not forecast, window past the
    horizon) are left out of the answer, so those SKUs become exclusions naming the SKU
    instead of failing the whole proposal.
    """
    from forecasting import total_demand

    horizon = run.forecasts.groupby("unique_id")["ds"].agg(["min", "max"])
    asked = windows.rename(columns={"start": "window_start", "end": "window_end"})
    span = horizon.reindex(asked["unique_id"].astype(str))
    answerable = (
        span["min"].notna().to_numpy()
        & (pd.to_datetime(asked["window_start"]).to_numpy() >= span["min"].to_numpy())
        & (pd.to_datetime(asked["window_end"]).to_numpy() <= span["max"].to_numpy())
    )
    if not answerable.any():
        return pd.DataFrame(columns=list(DEMAND_COLUMNS))
    totals = total_demand(run, asked[answerable], quantiles=QUANTILE_LEVELS)
    return totals[list(DEMAND_COLUMNS)]


def _latest_forecast_run(session: Session, week: date) -> Any:
    from forecasting import latest_run

    return latest_run(session, as_of=week)


@dataclass
class ProposalResult:
    """The stored proposal's id and version, and the plan itself."""

    proposal_id: int | None
    version: int | None
    plan: Plan
    problem: Problem


def load_problem(
    session: Session,
    week: date,
    settings: ProposalSettings,
    budget: Decimal | None = None,
    demand: pd.DataFrame | DemandSource | None = None,
    forecast_run: Any = None,
) -> tuple[Problem, list[str]]:
    """Build the optimizer's `Problem` for the proposal of `week` (a Monday) from the database,
    and the loading messages (unknown season, missing snapshot).

    `demand`: a demand-quantile frame (tests), a callable windows → frame, or None
    for `forecasting.total_demand(forecast_run, windows)`.
    """
    if week.weekday() != 0:
        raise InvalidInput(f"week: a proposal week starts on a Monday, got {week} ({week:%A})")
    cfg = settings.replenishment
    review = cfg.review_period_days
    exclusions: list[Exclusion] = []
    messages: list[str] = []

    categories = {c.id: c for c in session.scalars(select(Category))}
    skus = list(session.scalars(select(Sku).where(Sku.status == "active").order_by(Sku.code)))
    sku_by_id = {s.id: s for s in skus}
    suppliers = {s.id: s for s in session.scalars(select(Supplier))}
    items_by_sku: dict[int, list[SupplierItem]] = {}
    for item in session.scalars(
        select(SupplierItem).where(SupplierItem.active.is_(True)).order_by(SupplierItem.id)
    ):
        items_by_sku.setdefault(item.sku_id, []).append(item)

    latest = (
        select(InventorySnapshot.sku_id, func.max(InventorySnapshot.date).label("d"))
        .where(InventorySnapshot.date <= week)
        .group_by(InventorySnapshot.sku_id)
        .subquery()
    )
    snapshots = {
        snap.sku_id: snap
        for snap in session.scalars(
            select(InventorySnapshot).join(
                latest,
                (InventorySnapshot.sku_id == latest.c.sku_id) & (InventorySnapshot.date == latest.c.d),
            )
        )
    }
    open_lines = session.execute(
        select(
            PurchaseOrderLine.sku_id,
            PurchaseOrderLine.units,
            PurchaseOrderLine.received_units,
            PurchaseOrder.expected_date,
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(PurchaseOrder.status == "open")
    ).all()

    sku_rows: list[dict[str, Any]] = []
    item_terms: list[SupplierItemTerms] = []
    windows: list[tuple[str, str, date, date]] = []
    for sku in skus:
        items = items_by_sku.get(sku.id, [])
        if not items:
            exclusions.append(Exclusion(sku.code, "no active supplier"))
            continue
        category = categories[sku.category_id]
        decision_by_item: dict[int, SeasonalDecision] = {}
        mode = "replenish"
        season_name = category.season
        if season_name and season_name not in settings.seasons:
            messages.append(
                f"category {category.code}: season: unknown season {season_name!r}; "
                "replenished as non-seasonal"
            )
            season_name = None
        if season_name:
            season_cfg = settings.seasons[season_name]
            prebuild = (
                category.prebuild_days if category.prebuild_days is not None else season_cfg.prebuild_days
            )
            season = next_season(week, lambda year, s=season_cfg: season_window(s, year))
            for item in items:
                decision_by_item[item.id] = seasonal_decision(
                    week, review, season, prebuild, item.lead_time_days
                )
            eligible = [i for i in items if decision_by_item[i.id].mode in ("prebuild", "in_season")]
            if not eligible:
                first = min(decision_by_item.values(), key=lambda d: d.order_by)
                if all(d.mode == "not_yet" for d in decision_by_item.values()):
                    reason = (
                        f"{season_name} pre-build: order by {first.order_by}; not bought ahead "
                        "(a later proposal can still place it)"
                    )
                else:
                    reason = (
                        f"{season_name}: nothing ordered now arrives before the season ends "
                        f"{first.season_end}"
                    )
                exclusions.append(Exclusion(sku.code, reason))
                continue
            items = eligible
            decisions = [decision_by_item[i.id] for i in eligible]
            mode = "prebuild" if any(d.mode == "prebuild" for d in decisions) else "in_season"
            chosen = [d for d in decisions if d.mode == mode]
            window_start = min(d.demand_start for d in chosen)
            window_end = chosen[0].season_end
            order_by = min(d.order_by for d in chosen)
        else:
            lead = min(i.lead_time_days for i in items)
            window_start = week
            window_end = week + timedelta(days=lead + review - 1)
            order_by = None
        snapshot = snapshots.get(sku.id)
        on_order = sum(
            units - received
            for sku_id, units, received, expected in open_lines
            if sku_id == sku.id and expected <= window_end
        )
        sku_rows.append(
            dict(
                sku=sku,
                category=category,
                mode=mode,
                season=season_name,
                order_by=order_by,
                window_start=window_start,
                window_end=window_end,
                on_hand=snapshot.on_hand if snapshot else 0,
                committed=snapshot.committed if snapshot else 0,
                on_order=on_order,
            )
        )
        if snapshot is None:
            messages.append(f"SKU {sku.code}: on_hand: no inventory snapshot on or before {week}; taken as 0")
        for item in items:
            supplier = suppliers[item.supplier_id]
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
        windows.append(
            (sku.code, "protection" if mode == "replenish" else "season", window_start, window_end)
        )

    window_frame = pd.DataFrame(windows, columns=list(WINDOW_COLUMNS))
    if demand is None and forecast_run is None:
        forecast_run = _latest_forecast_run(session, week)
    demand_frame = _demand(window_frame, demand, forecast_run)
    by_key = {(row.unique_id, row.window_id): row for row in demand_frame.itertuples(index=False)}
    sku_problems: list[SkuProblem] = []
    for row, (code, window_id, _start, _end) in zip(sku_rows, windows, strict=True):
        sku = row["sku"]
        found = by_key.get((code, window_id))
        if found is None:
            exclusions.append(
                Exclusion(code, f"demand_quantiles: forecast has no {window_id} window for this SKU")
            )
            continue
        quantiles = tuple(float(getattr(found, column)) for column in QUANTILE_COLUMNS)
        sku_problems.append(
            SkuProblem(
                code=code,
                name=sku.name,
                category=row["category"].code,
                price=sku.price,
                abc_class=sku.abc_class,
                service_level=cfg.service_levels.get(sku.abc_class, 0.95),
                on_hand=row["on_hand"],
                committed=row["committed"],
                on_order=row["on_order"],
                window_start=row["window_start"],
                window_end=row["window_end"],
                demand_quantiles=quantiles,
                mode=row["mode"],
                season=row["season"],
                order_by=row["order_by"],
                salvage_rate=row["category"].salvage_rate,
            )
        )
    included = {s.code for s in sku_problems}
    item_terms = [i for i in item_terms if i.sku in included]

    agreements: list[Agreement] = []
    category_skus: dict[int, list[str]] = {}
    for sku in sku_by_id.values():
        category_skus.setdefault(sku.category_id, []).append(sku.code)
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
                supplier=suppliers[ag.supplier_id].code,
                kind=ag.kind,
                tiers=tuple(Tier(t.tier, t.threshold, t.rate) for t in ag.tiers),
                purchases_to_date=ag.purchases_to_date,
                skus=scope,
            )
        )

    return Problem(
        week=week,
        skus=sku_problems,
        suppliers=[
            SupplierTerms(s.code, s.name, s.min_order_value)
            for s in sorted(suppliers.values(), key=lambda s: s.code)
        ],
        items=item_terms,
        agreements=agreements,
        budget=budget if budget is not None else Decimal(str(cfg.budget_cny)),
        margin_floor=cfg.margin_floor,
        holding_cost_rate_per_year=cfg.holding_cost_rate_per_year,
        review_period_days=review,
        fixed_order_cost=Decimal(str(cfg.fixed_order_cost_cny)),
        solver=cfg.solver,
        time_limit_s=cfg.time_limit_s,
        mip_gap=cfg.mip_gap,
        forecast_run_id=_run_id(forecast_run),
        exclusions=exclusions,
    ), messages


def _run_id(run: Any) -> str | None:
    if run is None:
        return None
    params = getattr(run, "params", None)
    if isinstance(params, dict) and params.get("run_id") is not None:
        return str(params["run_id"])
    return str(getattr(run, "id", run))


def _demand(
    windows: pd.DataFrame, demand: pd.DataFrame | DemandSource | None, forecast_run: Any
) -> pd.DataFrame:
    if isinstance(demand, pd.DataFrame):
        frame = demand
    elif demand is not None:
        frame = demand(windows)
    else:
        frame = forecast_window_demand(windows, forecast_run)
    missing = [c for c in DEMAND_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"demand quantiles: missing column(s) {', '.join(missing)}")
    return frame


def build_proposal(
    engine: Engine,
    week: date,
    settings: ProposalSettings,
    *,
    now: datetime,
    budget: Decimal | None = None,
    demand: pd.DataFrame | DemandSource | None = None,
    forecast_run: Any = None,
    store: bool = True,
    solver: str | None = None,
) -> ProposalResult:
    """Load the problem for `week`, optimise it, and (if `store`) save the proposal as the
    week's next version in one transaction, created at `now` (aware). `budget` (CNY)
    overrides the settings' budget."""
    with unit_of_work(engine) as session:
        problem, messages = load_problem(session, week, settings, budget, demand, forecast_run)
    plan = optimize(problem, solver=solver)
    plan.messages = messages + plan.messages
    if not store:
        return ProposalResult(None, None, plan, problem)
    created = now
    with unit_of_work(engine) as session:
        version = (session.scalar(select(func.max(Proposal.version)).where(Proposal.week == week)) or 0) + 1
        proposal = Proposal(
            week=week,
            version=version,
            created_at=created,
            forecast_run_id=problem.forecast_run_id,
            status=plan.status,
            solver=plan.solver,
            gap=plan.gap,
            solve_s=plan.solve_s,
            build_s=plan.build_s,
            budget=problem.budget,
            spend=plan.spend,
            rebate=plan.rebate,
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
            },
            messages=plan.messages,
            problem=problem_to_json(problem),
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
            )
            for ln in plan.lines
        ]
        proposal.exclusions = [
            ProposalExclusion(sku_code=e.sku, supplier_code=e.supplier, reason=e.reason)
            for e in plan.exclusions
        ]
        proposal.supplier_summaries = [
            ProposalSupplierSummary(
                supplier_code=s.supplier,
                value=s.value,
                lines=s.lines,
                agreement_code=s.agreement,
                tier_reached=s.tier_reached,
                rebate_earned=s.rebate_earned,
                margin_pct=s.margin_pct,
            )
            for s in plan.suppliers
        ]
        session.add(proposal)
        session.flush()
        proposal_id = proposal.id
    return ProposalResult(proposal_id, version, plan, problem)


def get_proposal(engine: Engine, proposal_id: int) -> dict[str, Any]:
    """A stored proposal as a JSON-ready dict (header, lines, exclusions, suppliers)."""
    with unit_of_work(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        if proposal is None:
            raise NotFound(f"proposal {proposal_id} does not exist")
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
            "rebate": str(proposal.rebate),
            "expected_profit": str(proposal.expected_profit),
            "fill_rate": proposal.fill_rate,
            "parameters": proposal.parameters,
            "messages": proposal.messages,
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
                }
                for ln in proposal.lines
            ],
            "exclusions": [
                {"sku": e.sku_code, "supplier": e.supplier_code, "reason": e.reason}
                for e in proposal.exclusions
            ],
            "suppliers": [
                {
                    "supplier": s.supplier_code,
                    "value": str(s.value),
                    "lines": s.lines,
                    "agreement": s.agreement_code,
                    "tier_reached": s.tier_reached,
                    "rebate_earned": str(s.rebate_earned),
                    "margin_pct": s.margin_pct,
                }
                for s in proposal.supplier_summaries
            ],
        }
