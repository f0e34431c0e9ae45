"""Turn the domain read side (replenishment.browse, forecasting.browse) into API schemas.

The pages and the JSON API both show these objects, so a number on screen and the same
number in `/api/v1` cannot disagree.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Query
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from forecasting.browse import SkuSeries, sku_series
from forecasting.models import ForecastRun
from kernel.audit import AuditEntry
from kernel.errors import InvalidInput
from replenishment import browse
from replenishment.models import Proposal, ProposalExclusion
from replenishment.reasons import EXCLUSION_CODES, ReasonCode
from restock.web import schemas
from restock.web.i18n import current_language, exclusion_text, money, percent, reason_text
from restock.web.i18n import gettext as _


def _run_id(proposal: Proposal) -> int | None:
    return proposal.forecast_run_id


@dataclass(frozen=True)
class LineFilters:
    """The grid's paging, sorting and filters as the API and the page both accept them."""

    page: int
    size: int
    sort: str
    order: str
    category: str | None
    supplier: str | None
    q: str | None
    below_floor: bool
    reason: str | None = None
    exception: str | None = None

    def fetch(self, session: Session, proposal_id: int, *, choices: bool = True) -> browse.LinePage:
        """The page of lines these filters select (an empty filter selects everything); with
        `choices`, also the categories and suppliers the grid's filters offer."""
        return browse.proposal_lines(
            session,
            proposal_id,
            page=self.page,
            size=self.size,
            sort=self.sort,
            descending=self.order == "desc",
            category=self.category or None,
            supplier=self.supplier or None,
            search=self.q or None,
            below_floor_only=self.below_floor,
            reason_code=self.reason or None,
            exception=self.exception or None,
            choices=choices,
        )


async def line_filters(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=browse.MAX_PAGE_SIZE)] = 50,
    sort: Annotated[str, Query(pattern="^(" + "|".join(browse.LINE_SORTS) + ")$")] = "value",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    category: Annotated[str | None, Query(max_length=64)] = None,
    supplier: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    below_floor: bool = False,
    reason: Annotated[
        str | None,
        Query(pattern="^(" + "|".join(ReasonCode) + ")?$", description="lines quoting this reason code"),
    ] = None,
    exception: Annotated[
        str | None,
        Query(
            pattern="^(" + "|".join(browse.LINE_EXCEPTIONS) + ")?$",
            description="below the margin floor, approved below it with an override, or changed by a user",
        ),
    ] = None,
) -> LineFilters:
    """FastAPI dependency: the grid's query parameters, validated once for the API and the page.
    (A coroutine only so that FastAPI calls it on the event loop, not in the thread pool: it does
    no I/O.) An empty `reason` or `exception` (the page's "all" option) selects every line."""
    return LineFilters(
        page,
        size,
        sort,
        order,
        category,
        supplier,
        q,
        below_floor,
        reason or None,
        exception or None,
    )


def exclusion_reason(
    reason: Annotated[
        str | None,
        Query(
            pattern="^(" + "|".join(sorted(EXCLUSION_CODES)) + ")?$",
            description="only SKUs left out for this reason code",
        ),
    ] = None,
) -> str | None:
    """FastAPI dependency: the left-out tab's reason filter (empty: every reason)."""
    return reason or None


def proposal_summary(proposal: Proposal, left_out: int | None = None) -> schemas.ProposalSummaryRead:
    """A proposal's headline; its line and left-out counts are counted, not loaded (`left_out`
    when the caller counted it already)."""
    session = object_session(proposal)
    return schemas.ProposalSummaryRead(
        id=proposal.id,
        week=proposal.week,
        version=proposal.version,
        status=proposal.status,
        state=proposal.state,
        proposal_version=proposal.lock_version,
        created_at=proposal.created_at,
        spend=proposal.spend,
        budget=proposal.budget,
        rebate=proposal.rebate,
        lines=browse.count_lines(session, proposal.id) if session is not None else len(proposal.lines),
        left_out=left_out
        if left_out is not None
        else browse.count_left_out(session, proposal.id)
        if session is not None
        else len(proposal.exclusions),
    )


def overview(session: Session, proposal_id: int) -> schemas.ProposalOverviewRead:
    view = browse.proposal_overview(session, proposal_id)
    proposal = view.proposal
    return schemas.ProposalOverviewRead(
        proposal=proposal_summary(proposal, left_out=view.left_out),
        solver=proposal.solver,
        solver_status=proposal.status,
        gap=proposal.gap,
        expected_profit=proposal.expected_profit,
        fill_rate=proposal.fill_rate,
        budget_used=view.budget_used,
        by_supplier=[schemas.GroupTotalRead(**g.__dict__) for g in view.by_supplier],
        by_category=[schemas.GroupTotalRead(**g.__dict__) for g in view.by_category],
        tiers=[
            schemas.TierProgressRead(
                agreement=t.agreement,
                supplier=t.supplier,
                kind=t.kind,
                purchases_to_date=t.purchases_to_date,
                this_proposal=t.this_proposal,
                total=t.total,
                tier_before=t.tier_before,
                tier_after=t.tier_after,
                next_threshold=t.next_threshold,
                thresholds=list(t.thresholds),
            )
            for t in view.tiers
        ],
        below_floor=view.below_floor,
        overrides=view.overrides,
        stale_inputs=len(view.stale_warnings),
        margin_floor=view.margin_floor,
        messages=list(proposal.messages or []),
    )


def line(row: Any, sku_name: str, category: str) -> schemas.LineRead:
    """A line (a `ProposalLine` or a row of its columns) with its reason in the request's language."""
    return schemas.LineRead(
        id=row.id,
        sku=row.sku_code,
        sku_name=sku_name,
        category=category,
        supplier=row.supplier_code,
        units=row.units,
        cases=row.cases,
        unit_cost=row.unit_cost,
        effective_unit_cost=row.effective_unit_cost,
        value=row.value,
        margin_pct=row.margin_pct,
        days_of_cover=row.days_of_cover,
        stockout_probability_without=row.stockout_probability_without,
        stockout_probability_with=row.stockout_probability_with,
        reason=reason_text(row.reasons, row.reason),
        reason_codes=[r["code"] for r in row.reasons or []],
        state=row.state,
        line_version=row.lock_version,
        proposed_units=row.proposed_units,
        proposed_supplier=row.proposed_supplier_code,
        reason_code=row.reason_code,
        reason_note=row.reason_note,
        changed_by=row.changed_by,
    )


def exclusion(row: ProposalExclusion) -> schemas.ExclusionRead:
    """A left-out SKU with its reason in the request's language."""
    return schemas.ExclusionRead(
        sku=row.sku_code,
        supplier=row.supplier_code,
        code=row.code,
        reason=exclusion_text(row.code, row.params, row.reason),
    )


def line_page(page: browse.LinePage) -> schemas.LinePageRead:
    language = current_language.get()
    return schemas.LinePageRead(
        rows=[_remembered_line(language, repr(tuple(row)), row, name, cat) for row, name, cat in page.rows],
        total=page.total,
        page=page.page,
        size=page.size,
        pages=page.pages,
    )


def _remembered_line(language: str, text: str, row: Any, sku_name: str, category: str) -> schemas.LineRead:
    """`line` remembered per language and exact row (`text`: the repr of every column's value, so
    any change to the line, even a version bump, is another key; the words of its reasons are
    built once per row and language). Read only: the same object answers every request."""
    key = (language, text, sku_name, category)
    with _LINES_LOCK:
        found = _LINES.get(key)
        if found is not None:
            _LINES.move_to_end(key)
            return found
    made = line(row, sku_name, category)
    with _LINES_LOCK:
        _LINES[key] = made
        while len(_LINES) > _LINES_KEPT:
            _LINES.popitem(last=False)
    return made


_LINES: OrderedDict[tuple[str, str, str, str], schemas.LineRead] = OrderedDict()
_LINES_KEPT = 8192
_LINES_LOCK = threading.Lock()


def line_detail(session: Session, proposal_id: int, line_id: int) -> schemas.LineDetailRead:
    detail = browse.line_detail(session, proposal_id, line_id)
    return schemas.LineDetailRead(
        line=line(detail.line, detail.sku_name, detail.category),
        price=detail.price,
        position=detail.position,
        window_start=detail.window[0],
        window_end=detail.window[1],
        mode=detail.mode,
        season=detail.season,
        order_by=detail.order_by,
        demand_quantiles=detail.demand_quantiles,
        options=[schemas.SupplierOptionRead(**o) for o in detail.options],
        margin_at_list_pct=detail.margin_at_list_pct,
    )


def chart_series(session: Session, proposal_id: int, sku_code: str) -> SkuSeries:
    """Two years of history before the proposal week and the proposal's forecast run after it."""
    proposal = browse.get_proposal_row(session, proposal_id)
    run_id = _run_id(proposal)
    until = proposal.week + timedelta(days=182)
    if run_id is not None:
        run = session.get(ForecastRun, run_id)
        if run is not None:
            until = max(until, run.as_of + timedelta(days=run.horizon))
    return sku_series(
        session, sku_code, since=proposal.week - timedelta(days=730), until=until, run_id=run_id
    )


def series_read(series: SkuSeries) -> schemas.SkuSeriesRead:
    return schemas.SkuSeriesRead(
        sku=series.sku,
        run_id=series.run_id,
        band=list(series.band),
        history=[
            schemas.SeriesPointRead(ds=d.date(), y=float(y))
            for d, y in zip(series.history["ds"], series.history["y"], strict=True)
        ],
        forecast=[
            schemas.ForecastPointRead(ds=r.ds.date(), mean=r.mean, lo=r.lo, hi=r.hi)
            for r in series.forecast.itertuples()
        ],
        events=[
            schemas.EventRead(ds=d.date(), event=str(e))
            for d, e in zip(series.events["ds"], series.events["event"], strict=True)
        ],
    )


def latest_run_id(session: Session, as_of: date | None = None) -> int | None:
    """The newest successful forecast run (optionally as of a date)."""
    query = select(ForecastRun.id).where(ForecastRun.status == "succeeded")
    if as_of is not None:
        query = query.where(ForecastRun.as_of <= as_of)
    return session.scalar(query.order_by(ForecastRun.as_of.desc(), ForecastRun.id.desc()).limit(1))


def finding_text(code: str, params: dict[str, Any]) -> str:
    """An edit's consequence (`reevaluation.Finding`) in the request's language, every number
    taken from its parameters: the same facts as `reevaluation.describe`, translated."""
    p = params
    if code == "tier_lost":
        return _(
            "{supplier} drops below tier {tier_before} ({agreement}, now tier {tier_after}): "
            "{rebate} rebate for the period"
        ).format(
            supplier=p["supplier"],
            tier_before=p["tier_before"],
            agreement=p["agreement"],
            tier_after=p["tier_after"],
            rebate=money(p["rebate_change"], signed=True),
        )
    if code == "tier_gained":
        return _("{supplier} reaches tier {tier_after} ({agreement}): {rebate} rebate for the period").format(
            supplier=p["supplier"],
            tier_after=p["tier_after"],
            agreement=p["agreement"],
            rebate=money(p["rebate_change"], signed=True),
        )
    if code == "below_floor":
        margins = ", ".join(f"{m} %" for m in p["margins"])
        return _("{skus} below the {floor} margin floor (margin {margins})").format(
            skus=", ".join(p["skus"]), floor=percent(p["floor"], 0), margins=margins
        )
    if code == "floor_restored":
        return _("{skus} clear the {floor} margin floor again").format(
            skus=", ".join(p["skus"]), floor=percent(p["floor"], 0)
        )
    if code == "over_budget":
        return _("spend {spend} exceeds the budget {budget} by {excess}").format(
            spend=money(p["spend"]), budget=money(p["budget"]), excess=money(p["excess"])
        )
    if code == "totals":
        return _("spend {spend}, rebate {rebate}, expected profit {profit}").format(
            spend=money(p["spend_change"], signed=True),
            rebate=money(p["rebate_change"], signed=True),
            profit=money(p["profit_change"], signed=True),
        )
    raise ValueError(f"unknown finding code {code!r}")


@dataclass(frozen=True)
class AuditFilters:
    """The audit log's filters: entity kind and key, action, user, business-date range."""

    entity: str | None = None
    key: str | None = None
    action: str | None = None
    actor: str | None = None
    since: date | None = None
    until: date | None = None

    def as_form(self) -> dict[str, str]:
        return {name: "" if value is None else str(value) for name, value in self.__dict__.items()}


def audit_filters(
    entity: Annotated[str | None, Query(max_length=64)] = None,
    key: Annotated[str | None, Query(max_length=200, description="the entity key, e.g. a PO number")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=100, description="who did it")] = None,
    since: Annotated[date | None, Query(description="from this business date (configured time zone)")] = None,
    until: Annotated[date | None, Query(description="up to and including this business date")] = None,
) -> AuditFilters:
    """FastAPI dependency: the audit log's filters for the page and the API (empty means any)."""
    if since and until and since > until:
        raise InvalidInput(f"since {since} is after until {until}")
    return AuditFilters(entity or None, key or None, action or None, actor or None, since, until)


def audit_entries(session: Session, filters: AuditFilters, zone: ZoneInfo, limit: int) -> list[AuditEntry]:
    """Audit entries matching `filters`, newest first; dates are business days in `zone`."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    for column, value in (
        (AuditEntry.entity, filters.entity),
        (AuditEntry.entity_key, filters.key),
        (AuditEntry.action, filters.action),
        (AuditEntry.actor, filters.actor),
    ):
        if value:
            query = query.where(column == value)
    if filters.since:
        query = query.where(AuditEntry.at >= datetime.combine(filters.since, time(), zone))
    if filters.until:
        query = query.where(AuditEntry.at < datetime.combine(filters.until + timedelta(days=1), time(), zone))
    return list(session.scalars(query))


def audit_choices(session: Session) -> dict[str, list[str]]:
    """The entity kinds, actions and users the log holds (the page offers them as choices)."""
    return {
        name: sorted(v for v in session.scalars(select(column).distinct()) if v)
        for name, column in (
            ("entity", AuditEntry.entity),
            ("action", AuditEntry.action),
            ("actor", AuditEntry.actor),
        )
    }
