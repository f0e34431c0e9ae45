"""The JSON API under /api/v1: the same reads and writes as the pages, for scripts.

Authentication is a session cookie (with the CSRF header on changes) or a bearer token
(`restock user token NAME`); authorization is the one `authorize` dependency.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecasting.services import accuracy_report, load_run
from kernel.errors import NotFound
from replenishment import browse
from restock.accounts import Principal, set_language
from restock.web import actions, presenters, schemas
from restock.web.cache import CachingRoute, cacheable
from restock.web.schemas import RowId
from restock.web.security import DbSession, authorize, role_mark
from scheduler.models import JobRun
from suppliers.export import supplier_file
from suppliers.exporters import MEDIA_TYPES

router = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize)], route_class=CachingRoute)
SessionDep = Annotated[Session, DbSession]
PrincipalDep = Annotated[Principal, Depends(authorize)]


@router.get("/me", response_model=schemas.MeRead)
def me(principal: PrincipalDep) -> schemas.MeRead:
    """Who the caller is."""
    return schemas.MeRead(name=principal.name, role=principal.role, language=principal.language)


@router.put("/me/language", response_model=schemas.MeRead, openapi_extra=role_mark("viewer"))
def change_language(
    form: schemas.LanguageForm, principal: PrincipalDep, session: SessionDep
) -> schemas.MeRead:
    """Store the caller's language (en or zh_CN)."""
    set_language(session, principal.user_id, form.language)
    return schemas.MeRead(name=principal.name, role=principal.role, language=form.language)


@router.get("/proposals", response_model=list[schemas.ProposalSummaryRead])
@cacheable
def proposals(
    session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[schemas.ProposalSummaryRead]:
    """Stored proposals, newest week and version first."""
    return [presenters.proposal_summary(p) for p in browse.list_proposals(session, limit)]


@router.get("/proposals/{proposal_id}", response_model=schemas.ProposalOverviewRead)
@cacheable
def proposal(proposal_id: RowId, session: SessionDep) -> schemas.ProposalOverviewRead:
    """Totals by supplier and category, tier progress and exceptions of one proposal."""
    return presenters.overview(session, proposal_id)


@router.get("/proposals/{proposal_id}/lines", response_model=schemas.LinePageRead)
@cacheable
def proposal_lines(
    proposal_id: RowId,
    session: SessionDep,
    filters: Annotated[presenters.LineFilters, Depends(presenters.line_filters)],
) -> schemas.LinePageRead:
    """A page of lines, sorted and filtered on the server."""
    return presenters.line_page(filters.fetch(session, proposal_id, choices=False))


@router.get("/proposals/{proposal_id}/left-out", response_model=list[schemas.ExclusionRead])
@cacheable
def left_out(
    proposal_id: RowId,
    session: SessionDep,
    reason: Annotated[str | None, Depends(presenters.exclusion_reason)] = None,
) -> list[schemas.ExclusionRead]:
    """SKUs left out of the proposal, with the reason for each (optionally only one reason code)."""
    return [
        presenters.exclusion(e)
        for e in browse.proposal_exclusions(session, proposal_id, reason_code=reason or None)
    ]


@router.get("/proposals/{proposal_id}/lines/{line_id}", response_model=schemas.LineDetailRead)
@cacheable
def line(proposal_id: RowId, line_id: RowId, session: SessionDep) -> schemas.LineDetailRead:
    """One line with its stored inputs and the supplier alternatives."""
    return presenters.line_detail(session, proposal_id, line_id)


@router.get("/proposals/{proposal_id}/lines/{line_id}/series", response_model=schemas.SkuSeriesRead)
@cacheable
def line_series(proposal_id: RowId, line_id: RowId, session: SessionDep) -> schemas.SkuSeriesRead:
    """The line SKU's two-year history, the proposal's forecast with its band, and events."""
    detail = browse.line_detail(session, proposal_id, line_id)
    return presenters.series_read(presenters.chart_series(session, proposal_id, detail.line.sku_code))


@router.get("/jobs", response_model=list[schemas.JobRunRead])
@cacheable
def jobs(session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[schemas.JobRunRead]:
    """Job runs, newest first."""
    rows = session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit))
    return [schemas.JobRunRead.model_validate(r, from_attributes=True) for r in rows]


@router.get("/forecast/accuracy")
@cacheable
def forecast_accuracy(
    session: SessionDep, run: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None
) -> dict:
    """Backtest accuracy by category and model against seasonal naive (latest run by default)."""
    run_id = run if run is not None else presenters.latest_run_id(session)
    if run_id is None:
        raise NotFound("no forecast run yet: run `restock forecast`")
    return accuracy_report(load_run(session, run_id))


@router.get("/audit", response_model=list[schemas.AuditRead])
def audit(
    request: Request,
    session: SessionDep,
    filters: Annotated[presenters.AuditFilters, Depends(presenters.audit_filters)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[schemas.AuditRead]:
    """Audit entries, newest first, filtered by entity kind and key, action, user and date range."""
    entries = presenters.audit_entries(session, filters, request.app.state.settings.tz, limit)
    return [schemas.AuditRead.model_validate(r, from_attributes=True) for r in entries]


# --- decisions: the approval service ----------------------------------------------------------


@router.get("/proposals/{proposal_id}/review")
@cacheable
def review(
    proposal_id: RowId,
    request: Request,
    line: Annotated[
        list[Annotated[int, Field(ge=1, le=2_147_483_647)]] | None, Query(max_length=100_000)
    ] = None,
) -> dict:
    """The reviewer's view: the impact of every edit against the optimizer's plan, lines below the
    margin floor, each agreement's tier (read only: nothing changes). With `line` ids, the view of
    approving only those lines, and the impact of leaving the others out."""
    return actions.review(request, proposal_id, line)


@router.patch("/proposals/{proposal_id}/lines/{line_id}", response_model=schemas.LineEditRead)
def edit_line(
    proposal_id: RowId, line_id: RowId, form: schemas.LineEditForm, request: Request, principal: PrincipalDep
) -> schemas.LineEditRead:
    """Change a line's units (rounded to whole cases) or supplier, or reject it, with a reason code;
    `expected_version` (the line version read) refuses a lost update with 409; `dry_run` saves
    nothing and returns the impact."""
    return actions.edit_line(request, principal, proposal_id, line_id, form)


@router.post("/proposals/{proposal_id}/approve", response_model=schemas.ApprovalRead)
def approve(
    proposal_id: RowId, form: schemas.ApproveForm, request: Request, principal: PrincipalDep
) -> schemas.ApprovalRead:
    """Approve the proposal (a draft is put in review first) and raise its purchase orders; lines
    below the margin floor need an override reason each. Approving twice changes nothing."""
    return actions.approve(request, principal, proposal_id, form)


@router.post("/proposals/{proposal_id}/reject", response_model=schemas.StateRead)
def reject(
    proposal_id: RowId, form: schemas.RejectForm, request: Request, principal: PrincipalDep
) -> schemas.StateRead:
    """Reject a draft or in-review proposal with a reason code."""
    return actions.reject(request, principal, proposal_id, form)


@router.post("/proposals/{proposal_id}/reoptimize", response_model=schemas.ReoptimizeRead)
def reoptimize(
    proposal_id: RowId, form: schemas.ReoptimizeForm, request: Request, principal: PrincipalDep
) -> schemas.ReoptimizeRead:
    """Keep the edited, added and rejected lines and re-solve the others."""
    return actions.reoptimize(request, principal, proposal_id, form)


@router.get("/purchase-orders", response_model=list[schemas.PurchaseOrderRead])
@cacheable
def purchase_orders(
    session: SessionDep, proposal: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None
) -> list[schemas.PurchaseOrderRead]:
    """Purchase orders, newest first (of one proposal with `proposal`), each with its file."""
    return actions.purchase_orders(session, proposal)


@router.post("/purchase-orders/export", response_model=schemas.ExportRead)
def export_pending(request: Request, principal: PrincipalDep) -> schemas.ExportRead:
    """Write every PO not exported yet to its supplier's file (exactly once per PO)."""
    report = actions.export_pending(request, principal)
    return schemas.ExportRead(
        written=[item["file"] for item in report.written], recovered=report.recovered, damaged=report.damaged
    )


@router.get("/files/{file_id}", response_class=Response)
def download(file_id: RowId, request: Request) -> Response:
    """A supplier file's bytes, identical to the file written to the outbox."""
    name, data = supplier_file(request.app.state.engine, file_id)
    return file_response(name, data)


def file_response(name: str, data: bytes) -> Response:
    """An attachment with the media type of its format."""
    suffix = name.rsplit(".", 1)[-1].lower()
    return Response(
        data,
        media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
