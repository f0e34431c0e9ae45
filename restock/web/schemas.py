"""JSON API schemas (`...Read`, `...Form`): what `/api/v1` returns and accepts; not ORM rows.

Money travels as decimal strings (CNY, exact), dates as ISO strings.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, Field

# Database ids in paths: positive and within a 32-bit integer, so a huge number is a 422, not a 500.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]


class MeRead(BaseModel):
    name: str
    role: str
    language: str


class ProposalSummaryRead(BaseModel):
    id: int
    week: date
    version: int
    status: str
    state: str
    proposal_version: int
    created_at: datetime
    spend: Decimal
    budget: Decimal | None
    rebate: Decimal
    lines: int
    left_out: int


class GroupTotalRead(BaseModel):
    key: str
    lines: int
    units: int
    value: Decimal


class TierProgressRead(BaseModel):
    agreement: str
    supplier: str
    kind: str
    purchases_to_date: Decimal
    this_proposal: Decimal
    total: Decimal
    tier_before: int
    tier_after: int
    next_threshold: Decimal | None
    thresholds: list[Decimal]


class ProposalOverviewRead(BaseModel):
    proposal: ProposalSummaryRead
    solver: str
    solver_status: str
    gap: float | None
    expected_profit: Decimal
    fill_rate: float
    budget_used: float | None
    by_supplier: list[GroupTotalRead]
    by_category: list[GroupTotalRead]
    tiers: list[TierProgressRead]
    below_floor: int  # lines below the margin floor (approving them needs an override each)
    overrides: int  # lines approved below the floor with an override
    stale_inputs: int  # inputs older than allowed when proposed (--allow-stale)
    margin_floor: float
    messages: list[Any]


class LineRead(BaseModel):
    id: int
    sku: str
    sku_name: str
    category: str
    supplier: str
    units: int
    cases: int
    unit_cost: Decimal
    effective_unit_cost: Decimal
    value: Decimal
    margin_pct: float
    days_of_cover: float | None
    stockout_probability_without: float
    stockout_probability_with: float
    reason: str  # in the caller's language, numbers as stored
    reason_codes: list[str]  # the line's reason codes, first the one that explains why it exists
    state: str
    line_version: int
    proposed_units: int | None
    proposed_supplier: str | None
    reason_code: str | None
    reason_note: str | None
    changed_by: str | None


class LinePageRead(BaseModel):
    rows: list[LineRead]
    total: int
    page: int
    size: int
    pages: int


class ExclusionRead(BaseModel):
    sku: str
    supplier: str | None
    code: str | None
    reason: str


class SupplierOptionRead(BaseModel):
    supplier: str
    unit_cost: Decimal
    moq: int
    case_pack: int
    lead_time_days: int
    chosen: bool


class LineDetailRead(BaseModel):
    line: LineRead
    price: Decimal
    position: dict[str, int]
    window_start: date
    window_end: date
    mode: str
    season: str | None
    order_by: date | None
    demand_quantiles: dict[str, float]
    options: list[SupplierOptionRead]
    margin_at_list_pct: float


class SeriesPointRead(BaseModel):
    ds: date
    y: float


class ForecastPointRead(BaseModel):
    ds: date
    mean: float
    lo: float
    hi: float


class EventRead(BaseModel):
    ds: date
    event: str


class SkuSeriesRead(BaseModel):
    sku: str
    run_id: int | None
    band: list[str]
    history: list[SeriesPointRead]
    forecast: list[ForecastPointRead]
    events: list[EventRead]


class JobRunRead(BaseModel):
    id: int
    job: str
    as_of: date | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    message: str | None


class AuditRead(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_key: str | None
    before: Any | None = None
    after: Any | None = None
    note: str | None


class LanguageForm(BaseModel):
    language: str = Field(pattern=r"^(en|zh_CN)$")


class ErrorRead(BaseModel):
    error: str
    detail: str


# --- decisions (the approval service's inputs and outcomes) ---------------------------------

ReasonText = Annotated[str, Field(max_length=2000)]


class LineEditForm(BaseModel):
    """A change to one line: new units and/or another supplier, or reject; always with a reason
    code (one of the configured `approval.reason_codes`; `other` needs a note)."""

    units: int | None = Field(None, ge=0, le=10_000_000)
    supplier_to: str | None = Field(None, max_length=64)
    reject: bool = False
    reason_code: str = Field(max_length=40)
    note: ReasonText | None = None
    expected_version: int | None = Field(None, ge=1, le=2_147_483_647)
    dry_run: bool = False


class LineEditRead(BaseModel):
    proposal_id: int
    action: str
    line: dict[str, Any]
    rounding: str | None
    impact: list[str]
    findings: list[dict[str, Any]]
    below_floor: list[str]
    saved: bool
    proposal_version: int


class ApproveForm(BaseModel):
    """Approve the proposal's lines that are not rejected (or only `lines`, by id: the others are
    rejected with `leave_out_reason`); `overrides` gives a reason for each SKU below the margin
    floor. A draft is put in review first."""

    overrides: dict[Annotated[str, Field(max_length=64)], ReasonText] = Field(default_factory=dict)
    expected_version: int | None = Field(None, ge=1, le=2_147_483_647)
    order_date: date | None = None
    lines: list[Annotated[int, Field(ge=1, le=2_147_483_647)]] | None = Field(None, max_length=100_000)
    leave_out_reason: str | None = Field(None, max_length=40)


class ApprovalRead(BaseModel):
    proposal_id: int
    state: str
    created: bool
    purchase_orders: list[dict[str, Any]]
    superseded: list[int]
    overrides: list[str]


class RejectForm(BaseModel):
    reason_code: str = Field(max_length=40)
    note: ReasonText | None = None
    expected_version: int | None = Field(None, ge=1, le=2_147_483_647)


class StateRead(BaseModel):
    proposal_id: int
    state: str


class ReoptimizeForm(BaseModel):
    expected_version: int | None = Field(None, ge=1, le=2_147_483_647)


class ReoptimizeRead(BaseModel):
    proposal_id: int
    pinned: int
    replaced: int
    lines: int
    status: str
    impact: list[str]
    proposal_version: int


class SupplierFileRead(BaseModel):
    id: int
    file_name: str
    export_format: str
    sha256: str
    size_bytes: int
    written_at: datetime | None


class PurchaseOrderRead(BaseModel):
    po_number: str
    supplier: str
    status: str
    order_date: date
    expected_date: date
    lines: int
    units: int
    value: Decimal
    proposal_id: int | None
    file: SupplierFileRead | None


class ExportRead(BaseModel):
    written: list[str]
    recovered: list[str]
    damaged: list[str]
