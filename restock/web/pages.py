"""Server-rendered pages for merchandisers: login, this week, the line grid, a line's detail,
editing a line, approving or rejecting the proposal, purchase orders and their files.

Routes parse the request, call one read or service function, and render a template; the
grid answers htmx requests with just the table so paging and filters do not reload the page.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from forecasting.services import accuracy_report, load_run
from kernel.errors import InvalidInput, NotFound, RestockError
from replenishment import browse
from restock.accounts import LANGUAGES, AuthenticationFailed, Principal, TooManyAttempts, log_in, log_out
from restock.accounts import set_language as store_language
from restock.web import actions, charts, presenters, schemas
from restock.web.api import file_response
from restock.web.i18n import gettext as _
from restock.web.schemas import RowId
from restock.web.security import SESSION_COOKIE, DbSession, authorize, role_mark, status_for
from scheduler.models import JobRun

LOGIN_CSRF_COOKIE = "restock_login_csrf"
LANGUAGE_COOKIE = "restock_lang"

public = APIRouter(include_in_schema=False)
router = APIRouter(include_in_schema=False, dependencies=[Depends(authorize)])
SessionDep = Annotated[Session, DbSession]
PrincipalDep = Annotated[Principal, Depends(authorize)]


def _render(request: Request, template: str, status_code: int = 200, **context: object) -> HTMLResponse:
    templates = request.app.state.templates
    principal = getattr(request.state, "principal", None)
    return templates.TemplateResponse(
        request, template, {"principal": principal, **context}, status_code=status_code
    )


def _secure(request: Request) -> bool:
    mode = request.app.state.web_settings.secure_cookies
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect to another host after login.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@public.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = _render(request, "login.html", next=_safe_next(next), login_csrf=token, error=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request))
    return response


@public.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        return _render(
            request,
            "login.html",
            status_code=403,
            next=_safe_next(next),
            login_csrf=cookie,
            error=_("The form expired: please try again."),
        )
    settings = request.app.state.web_settings
    client = request.client.host if request.client else "unknown"
    try:
        token, principal = log_in(
            session,
            name=username,
            password=password,
            client=client,
            now=request.app.state.clock(),
            lifetime=timedelta(hours=settings.session_hours),
            max_failures=settings.login_max_failures,
            window=timedelta(minutes=settings.login_window_minutes),
        )
    except TooManyAttempts:
        return _render(
            request,
            "login.html",
            status_code=429,
            next=_safe_next(next),
            login_csrf=cookie,
            error=_("Too many failed logins: wait a few minutes and try again."),
        )
    except AuthenticationFailed:
        session.commit()  # keep the failure for the rate limit
        return _render(
            request,
            "login.html",
            status_code=401,
            next=_safe_next(next),
            login_csrf=cookie,
            error=_("Wrong user name or password."),
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=settings.session_hours * 3600,
    )
    response.set_cookie(LANGUAGE_COOKIE, principal.language, samesite="lax", secure=_secure(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout", openapi_extra=role_mark("viewer"))
def logout(request: Request, session: SessionDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        log_out(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language", openapi_extra=role_mark("viewer"))
def change_language(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    language: Annotated[str, Form()],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if language not in LANGUAGES:
        raise InvalidInput(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    store_language(session, principal.user_id, language)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, language, samesite="lax", secure=_secure(request))
    return response


@router.get("/")
def home(session: SessionDep) -> Response:
    latest = browse.latest_proposal_id(session)
    return RedirectResponse(f"/proposals/{latest}" if latest else "/proposals", status_code=303)


@router.get("/proposals")
def proposals(request: Request, session: SessionDep) -> HTMLResponse:
    rows = [presenters.proposal_summary(p) for p in browse.list_proposals(session)]
    return _render(request, "proposals.html", proposals=rows)


@router.get("/proposals/{proposal_id}")
def this_week(request: Request, proposal_id: RowId, session: SessionDep) -> HTMLResponse:
    return _render(request, "overview.html", view=presenters.overview(session, proposal_id))


@router.get("/proposals/{proposal_id}/lines")
def grid(
    request: Request,
    proposal_id: RowId,
    session: SessionDep,
    line_filters: Annotated[presenters.LineFilters, Depends(presenters.line_filters)],
) -> HTMLResponse:
    result = line_filters.fetch(session, proposal_id)
    filters = {
        "sort": line_filters.sort,
        "order": line_filters.order,
        "category": line_filters.category or "",
        "supplier": line_filters.supplier or "",
        "q": line_filters.q or "",
        "below_floor": line_filters.below_floor,
        "reason": line_filters.reason or "",
        "exception": line_filters.exception or "",
        "size": line_filters.size,
    }
    template = "_lines_table.html" if request.headers.get("hx-request") else "lines.html"
    proposal = browse.get_proposal_row(session, proposal_id)
    return _render(
        request,
        template,
        proposal=presenters.proposal_summary(proposal),
        result=result,
        page=presenters.line_page(result),
        filters=filters,
        reason_filter=browse.line_reason_codes(session, proposal_id),
        exceptions=browse.LINE_EXCEPTIONS,
    )


@router.get("/proposals/{proposal_id}/left-out")
def left_out(
    request: Request,
    proposal_id: RowId,
    session: SessionDep,
    reason: Annotated[str | None, Depends(presenters.exclusion_reason)] = None,
) -> HTMLResponse:
    proposal = browse.get_proposal_row(session, proposal_id)
    shown = browse.proposal_exclusions(session, proposal_id, reason_code=reason)
    return _render(
        request,
        "left_out.html",
        proposal=presenters.proposal_summary(proposal),
        exclusions=[presenters.exclusion(e) for e in shown],
        reason_filter=browse.exclusion_reason_codes(session, proposal_id),
        reason=reason or "",
    )


@router.get("/proposals/{proposal_id}/lines/{line_id}")
def line(request: Request, proposal_id: RowId, line_id: RowId, session: SessionDep) -> HTMLResponse:
    return _line_page(request, session, proposal_id, line_id)


def _line_page(
    request: Request,
    session: Session,
    proposal_id: int,
    line_id: int,
    *,
    outcome: schemas.LineEditRead | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    session.expire_all()
    detail = presenters.line_detail(session, proposal_id, line_id)
    proposal = browse.get_proposal_row(session, proposal_id)
    return _render(
        request,
        "line.html",
        status_code=status_code,
        proposal=presenters.proposal_summary(proposal),
        detail=detail,
        reason_codes=actions.reason_codes(request),
        outcome=outcome,
        impact=[presenters.finding_text(f["code"], f["params"]) for f in outcome.findings] if outcome else [],
        error=error,
    )


def _optional_int(value: str | None, field: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{field}: {value[:40]!r} is not a whole number") from None


@router.post("/proposals/{proposal_id}/lines/{line_id}")
def edit_line(
    request: Request,
    proposal_id: RowId,
    line_id: RowId,
    session: SessionDep,
    principal: PrincipalDep,
    reason_code: Annotated[str, Form(max_length=40)],
    action: Annotated[str, Form(max_length=16)] = "save",
    units: Annotated[str | None, Form(max_length=20)] = None,
    supplier_to: Annotated[str | None, Form(max_length=64)] = None,
    note: Annotated[str | None, Form(max_length=2000)] = None,
    expected_version: Annotated[str | None, Form(max_length=20)] = None,
) -> HTMLResponse:
    """Save the line form (units, supplier, reason) or reject the line; the page shows the impact."""
    try:
        form = _validated(
            schemas.LineEditForm,
            units=None if action == "reject" else _optional_int(units, "units"),
            supplier_to=supplier_to or None,
            reject=action == "reject",
            reason_code=reason_code,
            note=note,
            expected_version=_optional_int(expected_version, "expected_version"),
        )
        outcome = actions.edit_line(request, principal, proposal_id, line_id, form)
    except RestockError as exc:
        return _line_page(request, session, proposal_id, line_id, error=str(exc), status_code=status_for(exc))
    return _line_page(request, session, proposal_id, line_id, outcome=outcome)


def _decide_page(
    request: Request,
    session: Session,
    proposal_id: int,
    *,
    keep: list[int] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = actions.review(request, proposal_id, keep or None)
    proposal = browse.get_proposal_row(session, proposal_id)
    return _render(
        request,
        "decide.html",
        status_code=status_code,
        proposal=presenters.proposal_summary(proposal),
        view=view,
        impact=[presenters.finding_text(f["code"], f["params"]) for f in view["findings"]],
        reason_codes=actions.reason_codes(request),
        error=error,
    )


@router.get("/proposals/{proposal_id}/decide")
def decide(
    request: Request,
    proposal_id: RowId,
    session: SessionDep,
    line: Annotated[list[str] | None, Query(max_length=100_000)] = None,
) -> HTMLResponse:
    """Approve or reject: the re-evaluated impact first (of every edit, or of approving only the
    `line`s selected in the grid), then the decision."""
    try:
        keep = _line_ids(line)
    except RestockError as exc:
        return _decide_page(request, session, proposal_id, error=str(exc), status_code=status_for(exc))
    return _decide_page(request, session, proposal_id, keep=keep)


def _line_ids(values: list[str] | None) -> list[int] | None:
    if not values:
        return None
    return [value for value in (_optional_int(v, "line") for v in values) if value is not None]


async def submitted_form(request: Request) -> FormData:
    """The posted form, for routes whose fields are not known in advance (`override:SKU`)."""
    return await request.form()


@router.post("/proposals/{proposal_id}/approve")
def approve(
    request: Request,
    proposal_id: RowId,
    session: SessionDep,
    principal: PrincipalDep,
    submitted: Annotated[FormData, Depends(submitted_form)],
) -> Response:
    """Approve (override reasons for lines below the floor come as `override:SKU` fields; a
    selection as `line` ids with `leave_out_reason`)."""
    overrides = {
        str(key)[len("override:") :]: str(value)[:2000]
        for key, value in submitted.multi_items()
        if str(key).startswith("override:") and isinstance(value, str)
    }
    keep: list[int] | None = None
    try:
        keep = _line_ids([v for v in submitted.getlist("line") if isinstance(v, str)])
        form = _validated(
            schemas.ApproveForm,
            overrides=overrides,
            expected_version=_optional_int(_text(submitted.get("expected_version")), "expected_version"),
            lines=keep,
            leave_out_reason=_text(submitted.get("leave_out_reason")),
        )
        actions.approve(request, principal, proposal_id, form)
    except RestockError as exc:
        return _decide_page(
            request, session, proposal_id, keep=keep, error=str(exc), status_code=status_for(exc)
        )
    return RedirectResponse(f"/proposals/{proposal_id}/orders", status_code=303)


def _validated(model: type[BaseModel], **values: object) -> Any:
    """`model(**values)`, a validation failure raised as `InvalidInput` naming the fields."""
    try:
        return model(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}" for err in exc.errors()
        )
        raise InvalidInput(problems) from None


def _text(value: object) -> str | None:
    return value[:40] if isinstance(value, str) else None


@router.post("/proposals/{proposal_id}/reject")
def reject(
    request: Request,
    proposal_id: RowId,
    session: SessionDep,
    principal: PrincipalDep,
    reason_code: Annotated[str, Form(max_length=40)],
    note: Annotated[str | None, Form(max_length=2000)] = None,
    expected_version: Annotated[str | None, Form(max_length=20)] = None,
) -> Response:
    try:
        form = _validated(
            schemas.RejectForm,
            reason_code=reason_code,
            note=note,
            expected_version=_optional_int(expected_version, "expected_version"),
        )
        actions.reject(request, principal, proposal_id, form)
    except RestockError as exc:
        return _decide_page(request, session, proposal_id, error=str(exc), status_code=status_for(exc))
    return RedirectResponse(f"/proposals/{proposal_id}", status_code=303)


@router.post("/proposals/{proposal_id}/reoptimize")
def reoptimize(
    request: Request,
    proposal_id: RowId,
    session: SessionDep,
    principal: PrincipalDep,
    expected_version: Annotated[str | None, Form(max_length=20)] = None,
) -> Response:
    try:
        form = _validated(
            schemas.ReoptimizeForm, expected_version=_optional_int(expected_version, "expected_version")
        )
        actions.reoptimize(request, principal, proposal_id, form)
    except RestockError as exc:
        return _decide_page(request, session, proposal_id, error=str(exc), status_code=status_for(exc))
    return RedirectResponse(f"/proposals/{proposal_id}/decide", status_code=303)


@router.get("/proposals/{proposal_id}/orders")
def proposal_orders(request: Request, proposal_id: RowId, session: SessionDep) -> HTMLResponse:
    proposal = browse.get_proposal_row(session, proposal_id)
    return _render(
        request,
        "orders.html",
        proposal=presenters.proposal_summary(proposal),
        orders=actions.purchase_orders(session, proposal_id),
    )


@router.get("/orders")
def orders(request: Request, session: SessionDep) -> HTMLResponse:
    return _render(request, "orders.html", proposal=None, orders=actions.purchase_orders(session))


@router.post("/orders/export")
def export_orders(
    request: Request,
    principal: PrincipalDep,
    next: Annotated[str, Form(max_length=2000)] = "/orders",
) -> Response:
    """Write the supplier files of every PO not exported yet, then come back to the list."""
    actions.export_pending(request, principal)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.get("/files/{file_id}")
def download(request: Request, file_id: RowId) -> Response:
    """A supplier file, byte for byte the file in the outbox."""
    from suppliers.export import supplier_file

    name, data = supplier_file(request.app.state.engine, file_id)
    return file_response(name, data)


def _chart_labels() -> dict[str, str]:
    return {
        "history": _("units sold"),
        "forecast": _("forecast mean"),
        "band": _("P10–P90"),
        "season": _("season"),
        "order_by": _("order by"),
        "week": _("this week"),
        "units_per_week": _("units per week"),
        "without": _("without the order"),
        "with": _("with the order"),
        "units": _("units"),
    }


@router.get("/proposals/{proposal_id}/lines/{line_id}/history.svg")
def history_chart(proposal_id: RowId, line_id: RowId, session: SessionDep) -> Response:
    detail = browse.line_detail(session, proposal_id, line_id)
    series = presenters.chart_series(session, proposal_id, detail.line.sku_code)
    season = detail.window if detail.mode in ("prebuild", "in_season") else None
    # calendar events by their name in the user's language (a promotion keeps its own code)
    events = series.events.assign(event=[_(str(name)) for name in series.events["event"]])
    svg = charts.history_forecast_svg(
        series.history,
        series.forecast,
        events,
        labels=_chart_labels(),
        season=season,
        order_by=detail.order_by,
        week=browse.get_proposal_row(session, proposal_id).week,
    )
    return Response(svg, media_type="image/svg+xml")


@router.get("/proposals/{proposal_id}/lines/{line_id}/projection.svg")
def projection_chart(proposal_id: RowId, line_id: RowId, session: SessionDep) -> Response:
    detail = browse.line_detail(session, proposal_id, line_id)
    proposal = browse.get_proposal_row(session, proposal_id)
    series = presenters.chart_series(session, proposal_id, detail.line.sku_code)
    chosen = next((o for o in detail.options if o["chosen"]), None)
    if chosen is None:
        raise NotFound(f"line {line_id}'s supplier is not among the SKU's stored options")
    daily = series.forecast.set_index("ds")["mean"] if not series.forecast.empty else None
    days = max((detail.window[1] - proposal.week).days + 1, chosen["lead_time_days"] + 14)
    projection = charts.stock_projection(
        proposal.week,
        detail.position["position"],
        daily if daily is not None else _empty_series(),
        detail.line.units,
        proposal.week + timedelta(days=chosen["lead_time_days"]),
        days,
    )
    return Response(charts.projection_svg(projection, labels=_chart_labels()), media_type="image/svg+xml")


def _empty_series():  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.Series(dtype=float)


@router.get("/jobs")
def jobs(request: Request, session: SessionDep) -> HTMLResponse:
    rows = list(session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(200)))
    return _render(request, "jobs.html", runs=rows)


@router.get("/accuracy")
def accuracy(request: Request, session: SessionDep) -> HTMLResponse:
    run_id = presenters.latest_run_id(session)
    try:
        report = accuracy_report(load_run(session, run_id)) if run_id is not None else None
    except InvalidInput as exc:  # a run without backtests: say so on the page, not as an error
        return _render(request, "accuracy.html", report=None, problem=f"{_('Run')} {run_id}: {exc}")
    return _render(request, "accuracy.html", report=report, problem=None)


@router.get("/audit")
def audit(
    request: Request,
    session: SessionDep,
    filters: Annotated[presenters.AuditFilters, Depends(presenters.audit_filters)],
) -> HTMLResponse:
    return _render(
        request,
        "audit.html",
        entries=presenters.audit_entries(session, filters, request.app.state.settings.tz, 500),
        filters=filters.as_form(),
        choices=presenters.audit_choices(session),
    )


def login_redirect(path: str) -> RedirectResponse:
    """Where an anonymous browser is sent: the login page, coming back afterwards."""
    return RedirectResponse("/login?next=" + quote(path, safe="/"), status_code=303)
