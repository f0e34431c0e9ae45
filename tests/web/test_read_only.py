"""A web app on a read-only database answers a write with 503 and says why; nothing is written."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, select, text

from replenishment.models import ProposalLine
from restock.accounts import WebSession
from restock.db import make_engine
from restock.settings import load_settings
from restock.web.app import create_app
from tests.web.conftest import csrf_from
from tests.web.shop import PASSWORD


def _read_only_twin(engine: Engine) -> Engine:
    """A second engine on the same database that may only read."""
    if engine.dialect.name == "sqlite":
        return make_engine(f"sqlite:///file:{engine.url.database}?mode=ro&uri=true")
    with engine.connect() as conn:
        search_path = conn.execute(text("SHOW search_path")).scalar_one()
    return create_engine(
        engine.url.render_as_string(hide_password=False),
        connect_args={"options": f"-csearch_path={search_path} -cdefault_transaction_read_only=on"},
    )


def test_logging_in_on_a_read_only_database_answers_503_and_writes_nothing(shop, clock) -> None:  # type: ignore[no-untyped-def]
    engine, _ = shop
    with engine.connect() as conn:
        sessions_before = conn.execute(select(func.count()).select_from(WebSession)).scalar_one()
    read_only = _read_only_twin(engine)
    app = create_app(engine=read_only, settings=load_settings(), clock=clock)
    client = TestClient(app)
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={"username": "mia", "password": PASSWORD, "csrf_token": csrf_from(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 503
    assert "read-only" in response.text
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(WebSession)).scalar_one() == sessions_before


def test_a_signed_in_merchandiser_reads_pages_but_an_edit_answers_503_and_changes_nothing(  # type: ignore[no-untyped-def]
    shop, clock, client_as
) -> None:
    engine, pid = shop
    signed_in = client_as("mei")  # the session is stored while the database was writable
    line_id, units = _first_line(engine, pid)
    client = TestClient(create_app(engine=_read_only_twin(engine), settings=load_settings(), clock=clock))
    client.cookies.update(signed_in.cookies)
    page = client.get(f"/proposals/{pid}")
    assert page.status_code == 200, page.text
    response = client.patch(
        f"/api/v1/proposals/{pid}/lines/{line_id}",
        json={"units": units + 10, "reason_code": "budget"},
        headers={"X-CSRF-Token": csrf_from(page.text)},
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "DatabaseReadOnly"
    assert _first_line(engine, pid) == (line_id, units)


def _first_line(engine: Engine, pid: int) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.execute(
            select(ProposalLine.id, ProposalLine.units)
            .where(ProposalLine.proposal_id == pid)
            .order_by(ProposalLine.id)
            .limit(1)
        ).one()
    return row.id, row.units


def test_restock_serve_warns_at_start_that_a_read_only_database_refuses_writes(
    sqlite_engine, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    import restock.settings
    from restock.cli import web

    path = sqlite_engine.url.database
    monkeypatch.setenv("RESTOCK_DATABASE_URL", f"sqlite:///file:{path}?mode=ro&uri=true")
    monkeypatch.setattr(restock.settings, "get_settings", load_settings)
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    web.serve(host="127.0.0.1", port=8765, workers=1)
    out = " ".join(capsys.readouterr().out.split())
    assert started and "warning:" in out and "is read-only" in out and "answer 503" in out
