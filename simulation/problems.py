"""The weekly optimizer `Problem` built from a replay's state instead of the database (pure).

Uses the stored proposal's own per-SKU decision (`replenishment.decisions.decide_window`):
seasonal SKUs are bought only in their pre-build week or in season while an order can
still arrive (`replenishment.seasons`), other SKUs cover lead time + review period; the
position is on hand + orders arriving inside the window; agreements carry the
period's purchases so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from replenishment.decisions import Season, SupplierLead, decide_window
from replenishment.demand import QUANTILE_LEVELS
from replenishment.problem import (
    Agreement,
    Exclusion,
    Problem,
    SkuProblem,
    SupplierItemTerms,
)
from replenishment.reasons import Reason, ReasonCode
from simulation.data import ReplayConfig, ReplayData


@dataclass(frozen=True)
class SkuWindow:
    """What week `week`'s proposal may do for one SKU: mode, demand window (inclusive), suppliers.

    `mode` replenish | prebuild | in_season | skip (`reason`: the `ReasonCode` value saying why
    nothing is bought: no_supplier, not_yet, too_late).
    """

    sku: str
    mode: str
    window_start: date
    window_end: date
    suppliers: tuple[str, ...]
    season: str | None = None
    order_by: date | None = None
    reason: str | None = None

    @property
    def window_id(self) -> str:
        return "protection" if self.mode == "replenish" else "season"


def sku_windows(week: date, data: ReplayData, review_period_days: int, skus: list[str]) -> list[SkuWindow]:
    """Each SKU's decision for the proposal of `week`: the stored proposal's own pure rule
    (`replenishment.decisions.decide_window`) on the replay's catalogue."""
    items_by_sku: dict[str, list[SupplierItemTerms]] = {}
    for item in data.items:
        items_by_sku.setdefault(item.sku, []).append(item)
    group = data.skus.set_index("unique_id")["group"]
    out: list[SkuWindow] = []
    for code in skus:
        leads = [
            SupplierLead(item.supplier, item.lead_time_days)
            for item in sorted(items_by_sku.get(code, []), key=lambda i: i.supplier)
        ]
        category = data.categories.get(str(group.get(code)))
        season_name = category.season if category is not None else None
        season: Season | None = None
        if leads and season_name and season_name in data.seasons:
            spec = data.seasons[season_name]
            prebuild = category.prebuild_days if category.prebuild_days is not None else spec.prebuild_days
            start, end = spec.next_window(week)
            season = Season(season_name, start, end, prebuild)
        decision = decide_window(week, review_period_days, season, leads)
        if isinstance(decision, Reason):
            order_by = decision.params.get("order_by")
            out.append(
                SkuWindow(
                    code,
                    "skip",
                    week,
                    week,
                    (),
                    season_name if season is not None else None,
                    date.fromisoformat(str(order_by)) if order_by else None,
                    decision.code.value,
                )
            )
            continue
        out.append(
            SkuWindow(
                code,
                decision.mode,
                decision.window_start,
                decision.window_end,
                decision.suppliers,
                season_name if season is not None else None,
                decision.order_by,
            )
        )
    return out


def restock_problem(
    week: date,
    data: ReplayData,
    config: ReplayConfig,
    windows: list[SkuWindow],
    quantiles: Mapping[str, tuple[float, ...]],
    on_hand: Mapping[str, int],
    arrivals: Mapping[str, list[tuple[date, int]]],
    agreements: list[Agreement],
    *,
    margin_floor: float | None = None,
) -> Problem:
    """The optimizer's problem for `week`: `quantiles` (SKU → demand over its window at
    `QUANTILE_LEVELS`), stock on hand now, open orders (SKU → [(arrival, units)]) and the
    agreements with this period's purchases so far."""
    skus = data.skus.set_index("unique_id")
    exclusions: list[Exclusion] = []
    problems: list[SkuProblem] = []
    included: dict[str, set[str]] = {}
    for win in windows:
        if win.mode == "skip":
            continue
        q = quantiles.get(win.sku)
        if q is None or len(q) != len(QUANTILE_LEVELS):
            exclusions.append(
                Exclusion.of(
                    win.sku,
                    Reason(
                        ReasonCode.INVALID_INPUT,
                        {
                            "field": "demand_quantiles",
                            "problem": f"forecast has no {win.window_id} window for this SKU",
                        },
                    ),
                )
            )
            continue
        row = skus.loc[win.sku]
        category = data.categories.get(str(row["group"]))
        on_order = sum(units for arrival, units in arrivals.get(win.sku, []) if arrival <= win.window_end)
        problems.append(
            SkuProblem(
                code=win.sku,
                name=str(row["name"]),
                category=str(row["group"]),
                price=Decimal(row["price"]),
                abc_class=str(row["abc_class"]),
                service_level=config.service_level(str(row["abc_class"])),
                on_hand=int(on_hand.get(win.sku, 0)),
                committed=0,
                on_order=int(on_order),
                window_start=win.window_start,
                window_end=win.window_end,
                demand_quantiles=tuple(q),
                mode=win.mode,
                season=win.season,
                order_by=win.order_by,
                salvage_rate=category.salvage_rate if category is not None else Decimal("0.5"),
            )
        )
        included[win.sku] = set(win.suppliers)
    items = [replace(i) for i in data.items if i.supplier in included.get(i.sku, ())]
    return Problem(
        week=week,
        skus=problems,
        suppliers=list(data.suppliers),
        items=items,
        agreements=agreements,
        budget=config.budget,
        margin_floor=config.margin_floor if margin_floor is None else margin_floor,
        holding_cost_rate_per_year=config.holding_cost_rate_per_year,
        review_period_days=config.review_period_days,
        solver=config.solver,
        time_limit_s=config.time_limit_s,
        mip_gap=config.mip_gap,
        exclusions=exclusions,
    )
