"""What the web app's changes call: the approval and export services, with the signed-in user.

Pages and the JSON API both come through here, so a form post and an API call make the same
service call with the same actor, clock, reason codes and time zone. No rule lives here: the
services in `replenishment.approval` and `suppliers.export` decide and audit.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kernel.errors import NotFound
from replenishment import approval
from replenishment.models import ProposalLine
from restock.accounts import Principal
from restock.web import schemas
from suppliers.export import ExportReport, export_purchase_orders
from suppliers.models import PurchaseOrder, SupplierFile
from suppliers.purchase_orders import po_summary


def who(request: Request, principal: Principal) -> approval.Who:
    """The signed-in user as the actor, at the app's clock."""
    return approval.Who(actor=principal.name, now=request.app.state.clock())


def _settings(request: Request) -> Any:
    return request.app.state.settings


def reason_codes(request: Request) -> list[str]:
    """The configured reason codes an edit or a rejection must carry."""
    return list(_settings(request).approval.reason_codes)


def _line(request: Request, proposal_id: int, line_id: int) -> ProposalLine:
    with request.app.state.sessions() as session:
        row = session.get(ProposalLine, line_id)
        if row is None or row.proposal_id != proposal_id:
            raise NotFound(f"proposal {proposal_id} has no line {line_id}")
        session.expunge(row)
        return row


def edit_line(
    request: Request, principal: Principal, proposal_id: int, line_id: int, form: schemas.LineEditForm
) -> schemas.LineEditRead:
    """Change or reject one line (`approval.edit_line`); the line's version guards lost updates."""
    row = _line(request, proposal_id, line_id)
    switch_to = form.supplier_to if form.supplier_to and form.supplier_to != row.supplier_code else None
    outcome = approval.edit_line(
        request.app.state.engine,
        proposal_id,
        row.sku_code,
        who(request, principal),
        reason_codes=reason_codes(request),
        reason_code=form.reason_code,
        note=form.note or None,
        supplier=row.supplier_code,
        units=None if form.reject else form.units,
        switch_to=None if form.reject else switch_to,
        reject=form.reject,
        expected_version=form.expected_version,
        dry_run=form.dry_run,
    )
    return schemas.LineEditRead(
        proposal_id=outcome.proposal_id,
        action=outcome.action,
        line=outcome.line,
        rounding=outcome.rounding,
        impact=outcome.impact,
        findings=[{"code": f.code, "params": f.params} for f in outcome.findings],
        below_floor=outcome.below_floor,
        saved=outcome.saved,
        proposal_version=outcome.proposal_version,
    )


def review(request: Request, proposal_id: int, keep: list[int] | None = None) -> dict[str, Any]:
    """The reviewer's view (impact of every edit, lines below the floor, tiers), read only; with
    `keep` (line ids), the view of approving only those lines."""
    return approval.review_proposal(request.app.state.engine, proposal_id, keep=keep)


def approve(
    request: Request, principal: Principal, proposal_id: int, form: schemas.ApproveForm
) -> schemas.ApprovalRead:
    """Approve (a draft is put in review first) and raise the purchase orders."""
    outcome = approval.approve_proposal(
        request.app.state.engine,
        proposal_id,
        who(request, principal),
        tz=_settings(request).tz,
        overrides={sku: note for sku, note in form.overrides.items() if note.strip()},
        expected_version=form.expected_version,
        order_date=form.order_date,
        review_first=True,
        keep=form.lines,
        leave_out_reason=form.leave_out_reason,
        reason_codes=reason_codes(request),
    )
    return schemas.ApprovalRead(**vars(outcome))


def reject(
    request: Request, principal: Principal, proposal_id: int, form: schemas.RejectForm
) -> schemas.StateRead:
    """Reject the whole proposal with a reason code (and a note for `other`)."""
    state = approval.reject_proposal(
        request.app.state.engine,
        proposal_id,
        who(request, principal),
        reason_codes=reason_codes(request),
        reason_code=form.reason_code,
        note=form.note or None,
        expected_version=form.expected_version,
    )
    return schemas.StateRead(proposal_id=proposal_id, state=state)


def reoptimize(
    request: Request, principal: Principal, proposal_id: int, form: schemas.ReoptimizeForm
) -> schemas.ReoptimizeRead:
    """Keep the edited lines (pinned) and re-solve the rest."""
    outcome = approval.reoptimize_proposal(
        request.app.state.engine, proposal_id, who(request, principal), expected_version=form.expected_version
    )
    return schemas.ReoptimizeRead(
        proposal_id=outcome.proposal_id,
        pinned=outcome.pinned,
        replaced=outcome.replaced,
        lines=outcome.lines,
        status=outcome.status,
        impact=outcome.impact,
        proposal_version=outcome.proposal_version,
    )


def purchase_orders(session: Session, proposal_id: int | None = None) -> list[schemas.PurchaseOrderRead]:
    """Purchase orders (of one proposal, or the latest 500), each with its supplier file if written."""
    query = (
        select(PurchaseOrder)
        .options(selectinload(PurchaseOrder.lines), selectinload(PurchaseOrder.supplier))
        .order_by(PurchaseOrder.po_number.desc())
        .limit(500)
    )
    if proposal_id is not None:
        query = query.where(PurchaseOrder.proposal_id == proposal_id)
    orders = list(session.scalars(query))
    file_ids = {o.supplier_file_id for o in orders if o.supplier_file_id is not None}
    files = (
        {f.id: f for f in session.scalars(select(SupplierFile).where(SupplierFile.id.in_(file_ids)))}
        if file_ids
        else {}
    )
    result = []
    for order in orders:
        summary = po_summary(order)
        sealed = files.get(order.supplier_file_id) if order.supplier_file_id is not None else None
        result.append(
            schemas.PurchaseOrderRead(
                po_number=summary["po_number"],
                supplier=str(summary["supplier"]),
                status=summary["status"],
                order_date=order.order_date,
                expected_date=order.expected_date,
                lines=summary["lines"],
                units=summary["units"],
                value=summary["value"],
                proposal_id=order.proposal_id,
                file=schemas.SupplierFileRead(
                    id=sealed.id,
                    file_name=sealed.file_name,
                    export_format=sealed.export_format,
                    sha256=sealed.sha256,
                    size_bytes=sealed.size_bytes,
                    written_at=sealed.written_at,
                )
                if sealed is not None
                else None,
            )
        )
    return result


def export_pending(request: Request, principal: Principal) -> ExportReport:
    """Write every PO not exported yet to its supplier's file in the outbox (`restock export
    --pending`): exactly once per PO, whoever asks and however often."""
    settings = _settings(request)
    actor = who(request, principal)
    return export_purchase_orders(
        request.app.state.engine,
        actor=actor.actor,
        now=actor.now,
        tz=settings.tz,
        outbox=settings.project_path(settings.export.outbox),
        style_for=settings.export.style,
        pending=True,
        on_exported=lambda session, ids: approval.mark_proposals_exported(session, ids, actor),
    )
