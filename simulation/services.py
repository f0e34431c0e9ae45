"""Use case: read the stored business into a `ReplayData` (the replay itself is pure).

The caller passes an open session and the season windows it resolved from its
settings; nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forecasting.models import DailySales
from forecasting.services import load_history
from kernel.catalog import Category, Sku
from kernel.errors import InvalidInput
from replenishment.problem import SupplierItemTerms, SupplierTerms
from simulation.data import AgreementSpec, CategoryInfo, ReplayData, SeasonSpec
from suppliers.models import RebateAgreement, Supplier, SupplierItem
from suppliers.rebates import Tier


def load_replay_data(session: Session, seasons: Mapping[str, SeasonSpec]) -> ReplayData:
    """Active SKUs with their price and class, three years of daily sales up to the last stored
    day, promotions, categories, active supplier terms and rebate agreements."""
    last = session.execute(select(func.max(DailySales.date))).scalar_one()
    if last is None:
        raise InvalidInput("no sales in the database: import sales first (or run `restock demo`)")
    sales, sku_table, promotions = load_history(session, last)
    catalog = pd.DataFrame(
        session.execute(
            select(Sku.code, Sku.name, Sku.price, Sku.abc_class).where(Sku.status == "active")
        ).all(),
        columns=["unique_id", "name", "price", "abc_class"],
    )
    skus = sku_table.merge(catalog, on="unique_id").sort_values("unique_id").reset_index(drop=True)
    skus = skus[["unique_id", "sku_id", "group", "name", "price", "abc_class", "launch_date"]]
    categories = {
        c.code: CategoryInfo(c.code, c.season, c.prebuild_days, c.salvage_rate)
        for c in session.scalars(select(Category))
    }
    suppliers = {s.id: s for s in session.scalars(select(Supplier).order_by(Supplier.code))}
    sku_codes = dict(session.execute(select(Sku.id, Sku.code)).all())
    active = set(skus["unique_id"])
    items = [
        SupplierItemTerms(
            sku=sku_codes[i.sku_id],
            supplier=suppliers[i.supplier_id].code,
            unit_cost=i.unit_cost,
            moq=i.moq,
            case_pack=i.case_pack,
            lead_time_days=i.lead_time_days,
        )
        for i in session.scalars(
            select(SupplierItem).where(SupplierItem.active.is_(True)).order_by(SupplierItem.id)
        )
        if sku_codes[i.sku_id] in active
    ]
    category_of = dict(session.execute(select(Sku.code, Category.code).join(Category)).all())
    agreements = []
    for ag in session.scalars(select(RebateAgreement).order_by(RebateAgreement.code)):
        scope: tuple[str, ...] | None = None
        if ag.scopes:
            codes: set[str] = set()
            category_codes = {c.id: c.code for c in session.scalars(select(Category))}
            for target in ag.scopes:
                if target.sku_id is not None:
                    codes.add(sku_codes[target.sku_id])
                if target.category_id is not None:
                    wanted = category_codes[target.category_id]
                    codes.update(s for s, c in category_of.items() if c == wanted)
            scope = tuple(sorted(codes))
        agreements.append(
            AgreementSpec(
                code=ag.code,
                supplier=suppliers[ag.supplier_id].code,
                kind=ag.kind,
                tiers=tuple(
                    Tier(t.tier, t.threshold, t.rate) for t in sorted(ag.tiers, key=lambda t: t.tier)
                ),
                period_start=ag.period_start,
                period_end=ag.period_end,
                purchases_to_date=ag.purchases_to_date,
                purchases_as_of=ag.purchases_as_of,
                skus=scope,
            )
        )
    used = {c.season for c in categories.values() if c.season}
    return ReplayData(
        sales=sales,
        skus=skus,
        categories=categories,
        seasons={name: spec for name, spec in seasons.items() if name in used},
        items=items,
        suppliers=[SupplierTerms(s.code, s.name, s.min_order_value) for s in suppliers.values()],
        agreements=agreements,
        promotions=promotions,
    )
