"""Read side of a stored proposal for screens: totals, tier progress, a filtered page of lines.

Everything here is computed from the stored proposal, its lines and the problem it was
solved from (the saved problem JSON), so the web app and the API show the same numbers the
optimizer stored — nothing is recomputed from current master data. Money is CNY (Decimal).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, case, cast, func, or_, select
from sqlalchemy.orm import Session, defer

from kernel.catalog import Category, Sku
from kernel.errors import InvalidInput, NotFound
from replenishment.demand import QUANTILE_LEVELS
from replenishment.lifecycle import LINE_PROPOSED, LINE_REJECTED
from replenishment.models import Proposal, ProposalExclusion, ProposalLine, problem_digest
from replenishment.problem import Problem, problem_from_json
from replenishment.reasons import ReasonCode

LINE_SORTS = {
    "sku": ProposalLine.sku_code,
    "supplier": ProposalLine.supplier_code,
    "units": ProposalLine.units,
    "value": ProposalLine.value,
    "margin": ProposalLine.margin_pct,
    "cover": ProposalLine.days_of_cover,
    "risk": ProposalLine.stockout_probability_without,
}
MAX_PAGE_SIZE = 500
# The grid's exception filters: lines below the margin floor (approving them needs an
# override), lines approved below the floor with an override, lines a user changed.
LINE_EXCEPTIONS = ("below_floor", "override", "changed")


@dataclass(frozen=True)
class TierProgress:
    """One agreement's standing: purchases before this proposal, this proposal's share, next tier."""

    agreement: str
    supplier: str
    kind: str
    purchases_to_date: Decimal
    this_proposal: Decimal
    tier_before: int
    tier_after: int
    next_threshold: Decimal | None
    thresholds: tuple[Decimal, ...]

    @property
    def total(self) -> Decimal:
        """Period purchases including this proposal (CNY)."""
        return self.purchases_to_date + self.this_proposal

    @property
    def scale(self) -> Decimal:
        """The right end of a progress bar: the next threshold, or the total past the last tier."""
        top = self.next_threshold if self.next_threshold is not None else self.total
        return max(top, self.total, Decimal("1"))


@dataclass(frozen=True)
class GroupTotal:
    """Lines, units and value (CNY) of one supplier or category in a proposal."""

    key: str
    lines: int
    units: int
    value: Decimal


@dataclass(frozen=True)
class ProposalOverview:
    """What the "this week" screen shows for one proposal."""

    proposal: Proposal
    by_supplier: list[GroupTotal]
    by_category: list[GroupTotal]
    tiers: list[TierProgress]
    left_out: int
    below_floor: int
    overrides: int
    stale_warnings: list[str]
    margin_floor: float

    @property
    def budget_used(self) -> float | None:
        """Spend as a share of the budget, None when the proposal had no budget."""
        if not self.proposal.budget:
            return None
        return float(self.proposal.spend / self.proposal.budget)


@dataclass(frozen=True)
class LinePage:
    """One page of a proposal's lines after filters and sorting."""

    rows: list[tuple[Any, str, str]]  # line row (ProposalLine's columns), SKU name, category code
    total: int
    page: int
    size: int
    categories: list[str] = field(default_factory=list)
    suppliers: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def get_proposal_row(session: Session, proposal_id: int) -> Proposal:
    """The stored proposal, or `NotFound`. Its saved problem text (megabytes for thousands of
    SKUs) is not read with it: `stored_problem` reads it only when its digest is not cached."""
    proposal = session.get(Proposal, proposal_id, options=[defer(Proposal.problem)])
    if proposal is None:
        raise NotFound(f"proposal {proposal_id} does not exist")
    return proposal


def latest_proposal_id(session: Session) -> int | None:
    """The newest version of the latest week's proposal, None when there is none."""
    return session.scalar(
        select(Proposal.id).order_by(Proposal.week.desc(), Proposal.version.desc()).limit(1)
    )


def list_proposals(session: Session, limit: int = 100) -> list[Proposal]:
    """Proposals, newest week and version first (their problem texts are not read)."""
    return list(
        session.scalars(
            select(Proposal)
            .options(defer(Proposal.problem))
            .order_by(Proposal.week.desc(), Proposal.version.desc())
            .limit(limit)
        )
    )


def stored_problem(proposal: Proposal) -> Problem:
    """The problem the proposal was solved from (its saved JSON), parsed once per distinct text:
    a proposal's problem is written when it is made and never changed, and parsing a 2,000-SKU
    problem costs a quarter of a second — every page of it would pay that again. The parsed
    problem is kept by the text's SHA-256 (`Proposal.problem_sha256`), so a cached problem costs
    no read of the text; a text whose digest does not match is parsed and not cached. Read only:
    callers must not change the returned problem (it is shared)."""
    digest = proposal.problem_sha256
    source = f"proposal {proposal.id}"
    if digest is None:
        return _parsed_problem(proposal.problem, source)
    with _PROBLEMS_LOCK:
        cached = _PROBLEMS.get(digest)
        if cached is not None:
            _PROBLEMS.move_to_end(digest)
            return cached
    text = proposal.problem
    problem = problem_from_json(text, source=source)
    if problem_digest(text) == digest:
        with _PROBLEMS_LOCK:
            _PROBLEMS[digest] = problem
            while len(_PROBLEMS) > _PROBLEMS_KEPT:
                _PROBLEMS.popitem(last=False)
    return problem


_PROBLEMS: OrderedDict[str, Problem] = OrderedDict()
_PROBLEMS_KEPT = 8
_PROBLEMS_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _parsed_problem(text: str, source: str) -> Problem:
    return problem_from_json(text, source=source)


def tier_progress(problem: Problem, lines: Sequence[Any]) -> list[TierProgress]:
    """Each agreement's period purchases before and after the proposal, with tiers reached.

    `lines` are the lines bought (anything with `supplier_code`, `sku_code` and `value`).
    A line counts toward an agreement when it is bought from the agreement's supplier and
    the SKU is in its scope (no scope: every SKU of the supplier). Thresholds compare exactly.
    """
    out: list[TierProgress] = []
    for agreement in problem.agreements:
        scope = set(agreement.skus) if agreement.skus is not None else None
        this = sum(
            (
                ln.value
                for ln in lines
                if ln.supplier_code == agreement.supplier and (scope is None or ln.sku_code in scope)
            ),
            Decimal("0"),
        )
        before = agreement.purchases_to_date + agreement.expected_further_purchases
        thresholds = tuple(t.threshold for t in agreement.tiers)
        after = before + this
        out.append(
            TierProgress(
                agreement=agreement.code,
                supplier=agreement.supplier,
                kind=agreement.kind,
                purchases_to_date=before,
                this_proposal=this,
                tier_before=sum(1 for t in thresholds if before >= t),
                tier_after=sum(1 for t in thresholds if after >= t),
                next_threshold=next((t for t in thresholds if t > after), None),
                thresholds=thresholds,
            )
        )
    return out


def proposal_overview(session: Session, proposal_id: int) -> ProposalOverview:
    """Totals by supplier and category, tier progress and exception counts for one proposal.

    Rejected lines are not bought: they count in no total, tier or exception. Totals, counts
    and the agreements' sums are aggregated in the database (exact: NUMERIC on PostgreSQL,
    integer fen on SQLite); only the lines of a supplier whose agreement is limited to some
    SKUs are read, as (SKU, value) pairs."""
    proposal = get_proposal_row(session, proposal_id)
    problem = stored_problem(proposal)
    floor = float(problem.margin_floor) * 100
    bought = (ProposalLine.proposal_id == proposal_id, ProposalLine.state != LINE_REJECTED)
    per_supplier = session.execute(
        select(
            ProposalLine.supplier_code,
            func.count(),
            func.sum(ProposalLine.units),
            func.sum(ProposalLine.value),
            func.sum(case((ProposalLine.margin_pct < floor - 1e-9, 1), else_=0)),
            func.sum(case((ProposalLine.override_reason.is_not(None), 1), else_=0)),
        )
        .where(*bought)
        .group_by(ProposalLine.supplier_code)
    ).all()
    by_supplier = sorted(
        (
            GroupTotal(str(k or "—"), int(n), int(units or 0), _cny(value))
            for k, n, units, value, _below, _over in per_supplier
        ),
        key=lambda g: (-g.value, g.key),
    )
    scoped = {a.supplier for a in problem.agreements if a.skus is not None}
    lines: list[_BoughtValue] = [
        _BoughtValue(str(k), None, _cny(value))
        for k, _n, _u, value, _b, _o in per_supplier
        if k not in scoped
    ]
    if scoped:
        lines += [
            _BoughtValue(supplier, sku, value)
            for supplier, sku, value in session.execute(
                select(ProposalLine.supplier_code, ProposalLine.sku_code, ProposalLine.value).where(
                    *bought, ProposalLine.supplier_code.in_(sorted(scoped))
                )
            )
        ]
    by_category = _group(session, proposal_id, Category.code)
    left_out = count_left_out(session, proposal_id)
    return ProposalOverview(
        proposal=proposal,
        by_supplier=by_supplier,
        by_category=by_category,
        tiers=tier_progress(problem, lines),
        left_out=int(left_out or 0),
        below_floor=sum(int(below or 0) for *_, below, _over in per_supplier),
        overrides=sum(int(over or 0) for *_, over in per_supplier),
        stale_warnings=[m for m in (proposal.messages or []) if "stale" in str(m).lower()],
        margin_floor=problem.margin_floor,
    )


@dataclass(frozen=True)
class _BoughtValue:
    """Value bought from a supplier: one SKU's line, or (sku_code None) all of the supplier's
    lines together, for a supplier none of whose agreements is limited to some SKUs."""

    supplier_code: str
    sku_code: str | None
    value: Decimal


def _cny(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def count_lines(session: Session, proposal_id: int) -> int:
    """How many lines the proposal has (rejected ones included), without loading them."""
    query = select(func.count()).select_from(ProposalLine).where(ProposalLine.proposal_id == proposal_id)
    return int(session.scalar(query) or 0)


def count_left_out(session: Session, proposal_id: int) -> int:
    """How many SKUs the proposal left out, without loading them."""
    query = (
        select(func.count())
        .select_from(ProposalExclusion)
        .where(ProposalExclusion.proposal_id == proposal_id)
    )
    return int(session.scalar(query) or 0)


# The columns a grid row shows (read as plain rows, not ORM objects: a page is read-only).
_LINE_COLUMNS = tuple(c for c in ProposalLine.__table__.columns if c.key not in ("proposal_id", "pinned"))


def _group(session: Session, proposal_id: int, key: Any) -> list[GroupTotal]:
    query = (
        select(key, func.count(), func.sum(ProposalLine.units), func.sum(ProposalLine.value))
        .select_from(ProposalLine)
        .join(Sku, Sku.code == ProposalLine.sku_code, isouter=True)
        .join(Category, Category.id == Sku.category_id, isouter=True)
        .where(ProposalLine.proposal_id == proposal_id, ProposalLine.state != LINE_REJECTED)
        .group_by(key)
    )
    rows = [
        GroupTotal(str(k or "—"), int(n), int(units or 0), _cny(value))
        for k, n, units, value in session.execute(query)
    ]
    return sorted(rows, key=lambda g: (-g.value, g.key))


def proposal_lines(
    session: Session,
    proposal_id: int,
    *,
    page: int = 1,
    size: int = 50,
    sort: str = "value",
    descending: bool = True,
    category: str | None = None,
    supplier: str | None = None,
    search: str | None = None,
    below_floor_only: bool = False,
    reason_code: str | None = None,
    exception: str | None = None,
    choices: bool = True,
) -> LinePage:
    """A page of lines (1-based `page`) filtered by category, supplier, SKU text, reason code
    (any of the line's reasons) and exception (`LINE_EXCEPTIONS`); with `choices`, also the
    proposal's categories and suppliers (the grid's filter options; the API has no use for them).

    Ties are broken by the line id in the sort's direction, so a page is read in the order of
    the (proposal, key, id) index. Rows are (line row, SKU name, category code): the line row
    has `ProposalLine`'s column attributes (read-only; no ORM object is loaded for a page)."""
    if sort not in LINE_SORTS:
        raise InvalidInput(f"sort {sort!r}: expected one of {', '.join(LINE_SORTS)}")
    if reason_code is not None and reason_code not in set(ReasonCode):
        raise InvalidInput(f"reason code {reason_code[:40]!r}: expected one of {', '.join(ReasonCode)}")
    if exception is not None and exception not in LINE_EXCEPTIONS:
        raise InvalidInput(f"exception {exception[:40]!r}: expected one of {', '.join(LINE_EXCEPTIONS)}")
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page must be ≥ 1 and size in 1..{MAX_PAGE_SIZE}")
    proposal = get_proposal_row(session, proposal_id)
    conditions: list[ColumnElement[bool]] = [ProposalLine.proposal_id == proposal_id]
    if category:
        conditions.append(Category.code == category)
    if supplier:
        conditions.append(ProposalLine.supplier_code == supplier)
    if search:
        pattern = "%" + search.strip().replace("%", "").replace("_", "")[:64] + "%"
        conditions.append(ProposalLine.sku_code.ilike(pattern) | Sku.name.ilike(pattern))
    if below_floor_only or exception == "below_floor":
        floor = stored_problem(proposal).margin_floor * 100
        conditions.append(ProposalLine.margin_pct < floor - 1e-9)
    if exception == "override":
        conditions.append(ProposalLine.override_reason.is_not(None))
    if exception == "changed":
        conditions.append(ProposalLine.state != LINE_PROPOSED)
    if reason_code:
        conditions.append(_has_reason(reason_code))
    # A line has at most one SKU and a SKU one category (outer joins on unique keys), so the
    # count needs the joins only when a filter reads the SKU or its category.
    counted = select(func.count()).select_from(ProposalLine)
    if category or search:
        counted = _with_sku(counted)
    total = int(session.scalar(counted.where(*conditions)) or 0)
    column = LINE_SORTS[sort]
    ordered = (
        _with_sku(select(*_LINE_COLUMNS, Sku.name, Category.code).select_from(ProposalLine))
        .where(*conditions)
        .order_by(*((column.desc(), ProposalLine.id.desc()) if descending else (column, ProposalLine.id)))
    )
    rows = [
        (line, line[-2] or "", line[-1] or "")
        for line in session.execute(ordered.offset((page - 1) * size).limit(size))
    ]
    if not choices:
        return LinePage(rows, total, page, size)
    categories = list(
        session.scalars(
            select(Category.code)
            .join(Sku)
            .where(Sku.code.in_(select(ProposalLine.sku_code).where(ProposalLine.proposal_id == proposal_id)))
            .distinct()
            .order_by(Category.code)
        )
    )
    suppliers = list(
        session.scalars(
            select(ProposalLine.supplier_code)
            .where(ProposalLine.proposal_id == proposal_id)
            .distinct()
            .order_by(ProposalLine.supplier_code)
        )
    )
    return LinePage(rows, total, page, size, categories, suppliers)


def _with_sku(query: Select[Any]) -> Select[Any]:
    return query.join(Sku, Sku.code == ProposalLine.sku_code, isouter=True).join(
        Category, Category.id == Sku.category_id, isouter=True
    )


def _has_reason(code: str) -> ColumnElement[bool]:
    # A line's reasons are a JSON list of {"code": ..., "params": ...}; the code is matched in
    # the stored text (the same on SQLite and PostgreSQL: SQLAlchemy writes it with json.dumps),
    # so the filter runs in the database. Codes are [a-z_] words, so no LIKE escaping is needed.
    text = cast(ProposalLine.reasons, Text)
    return or_(text.like(f'%"code": "{code}"%'), text.like(f'%"code":"{code}"%'))


def line_reason_codes(session: Session, proposal_id: int) -> list[str]:
    """The reason codes a proposal's lines quote, in `ReasonCode` order (for the grid's filter)."""
    stored = session.scalars(select(ProposalLine.reasons).where(ProposalLine.proposal_id == proposal_id))
    seen = {r["code"] for reasons in stored for r in reasons or []}
    return [code.value for code in ReasonCode if code.value in seen]


def exclusion_reason_codes(session: Session, proposal_id: int) -> list[str]:
    """The reason codes of a proposal's left-out SKUs, in `ReasonCode` order."""
    query = select(ProposalExclusion.code).where(ProposalExclusion.proposal_id == proposal_id).distinct()
    seen = set(session.scalars(query))
    return [code.value for code in ReasonCode if code.value in seen]


def proposal_exclusions(
    session: Session, proposal_id: int, *, reason_code: str | None = None
) -> list[ProposalExclusion]:
    """The SKUs left out of a proposal with their reasons (optionally only those with one code)."""
    get_proposal_row(session, proposal_id)
    query = select(ProposalExclusion).where(ProposalExclusion.proposal_id == proposal_id)
    if reason_code:
        query = query.where(ProposalExclusion.code == reason_code)
    return list(session.scalars(query.order_by(ProposalExclusion.sku_code, ProposalExclusion.id)))


@dataclass(frozen=True)
class LineDetail:
    """One line with its SKU's stored inputs: price, position, window, supplier options."""

    line: ProposalLine
    sku_name: str
    category: str
    price: Decimal
    position: dict[str, int]
    window: tuple[date, date]
    mode: str
    season: str | None
    order_by: date | None
    demand_quantiles: dict[str, float]
    options: list[dict[str, Any]]
    margin_at_list_pct: float


def line_detail(session: Session, proposal_id: int, line_id: int) -> LineDetail:
    """A line and the stored inputs it was decided from (from the proposal's saved problem)."""
    proposal = get_proposal_row(session, proposal_id)
    line = session.get(ProposalLine, line_id)
    if line is None or line.proposal_id != proposal_id:
        raise NotFound(f"proposal {proposal_id} has no line {line_id}")
    problem = stored_problem(proposal)
    sku = next((s for s in problem.skus if s.code == line.sku_code), None)
    if sku is None:
        raise NotFound(f"SKU {line.sku_code} is not in proposal {proposal_id}'s problem")
    options = [
        {
            "supplier": item.supplier,
            "unit_cost": item.unit_cost,
            "moq": item.moq,
            "case_pack": item.case_pack,
            "lead_time_days": item.lead_time_days,
            "chosen": item.supplier == line.supplier_code,
        }
        for item in problem.items
        if item.sku == sku.code
    ]
    margin_at_list = float((sku.price - line.unit_cost) / sku.price * 100) if sku.price else 0.0
    return LineDetail(
        line=line,
        sku_name=sku.name,
        category=sku.category,
        price=sku.price,
        position={
            "on_hand": sku.on_hand,
            "on_order": sku.on_order,
            "committed": sku.committed,
            "position": sku.position,
        },
        window=(sku.window_start, sku.window_end),
        mode=sku.mode,
        season=sku.season,
        order_by=sku.order_by,
        demand_quantiles={
            f"q{round(q * 100)}": v for q, v in zip(QUANTILE_LEVELS, sku.demand_quantiles, strict=True)
        },
        options=sorted(options, key=lambda o: (not o["chosen"], o["unit_cost"])),
        margin_at_list_pct=margin_at_list,
    )
