"""Login, sessions, roles, CSRF and API tokens: one authorization dependency for every route."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from kernel.orm import unit_of_work
from replenishment.models import ProposalLine
from restock.accounts import ApiToken, User, WebSession, create_api_token
from tests.web.conftest import csrf_from, log_in
from tests.web.shop import NOW, PASSWORD, USERS

READ_PATHS = [
    "/api/v1/me",
    "/api/v1/proposals",
    "/api/v1/proposals/{pid}",
    "/api/v1/proposals/{pid}/lines",
    "/api/v1/proposals/{pid}/left-out",
    "/api/v1/jobs",
    "/api/v1/audit",
    "/proposals",
    "/proposals/{pid}",
    "/proposals/{pid}/lines",
    "/proposals/{pid}/left-out",
    "/jobs",
    "/audit",
]


@pytest.mark.parametrize("path", READ_PATHS)
def test_anonymous_reads_are_refused_or_sent_to_login(client_as, shop, path) -> None:  # type: ignore[no-untyped-def]
    _, pid = shop
    response = client_as(None).get(path.format(pid=pid), follow_redirects=False)
    if path.startswith("/api/"):
        assert response.status_code == 401
        assert response.json()["error"] == "NotAuthenticated"
    else:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/")


@pytest.mark.parametrize("user", sorted(USERS))
def test_every_role_can_read_every_screen(client_as, shop, user) -> None:  # type: ignore[no-untyped-def]
    _, pid = shop
    client = client_as(user)
    for path in READ_PATHS:
        response = client.get(path.format(pid=pid))
        assert response.status_code == 200, (path, response.text[:200])


def _unsafe_routes(app):  # type: ignore[no-untyped-def]
    from fastapi.routing import iter_route_contexts

    from restock.web.security import ADMIN_MARK

    # Included routers are kept nested: walk their route contexts to see every full path.
    for context in iter_route_contexts(app.router.routes):
        route = context.route
        methods = getattr(route, "methods", None) or set()
        extra = getattr(route, "openapi_extra", None) or getattr(
            context.original_route, "openapi_extra", None
        )
        for method in sorted(methods - {"GET", "HEAD", "OPTIONS"}):
            yield method, route.path, (extra or {}).get(ADMIN_MARK)


def test_a_viewer_is_refused_every_change_that_is_not_marked_for_viewers(app, client_as, shop) -> None:  # type: ignore[no-untyped-def]
    _, pid = shop
    viewer = client_as("vera")
    token = csrf_from(viewer.get(f"/proposals/{pid}").text)
    checked = 0
    for method, path, mark in _unsafe_routes(app):
        if path == "/login" or mark == "viewer":
            continue
        concrete = path.replace("{proposal_id}", str(pid)).replace("{line_id}", "1")
        response = viewer.request(method, concrete, headers={"X-CSRF-Token": token}, follow_redirects=False)
        assert response.status_code == 403, (method, path, response.status_code)
        checked += 1
    # Every route that changes data is either marked for viewers (their own session and language)
    # or was just refused to the viewer; a new change route cannot slip past this test unlisted.
    viewer_routes = {path for _, path, mark in _unsafe_routes(app) if mark == "viewer" or path == "/login"}
    assert viewer_routes == {"/login", "/logout", "/language", "/api/v1/me/language"}


def test_required_role_is_taken_from_the_route_mark_before_the_method() -> None:
    from types import SimpleNamespace

    from restock.web.security import ADMIN_MARK, required_role

    def request(method: str, mark: str | None):  # type: ignore[no-untyped-def]
        route = SimpleNamespace(openapi_extra={ADMIN_MARK: mark} if mark else None)
        return SimpleNamespace(method=method, scope={"route": route})

    assert required_role(request("GET", None)) == "viewer"
    assert required_role(request("POST", None)) == "merchandiser"
    assert required_role(request("DELETE", None)) == "merchandiser"
    assert required_role(request("POST", "viewer")) == "viewer"
    assert required_role(request("GET", "admin")) == "admin"


def test_a_change_with_a_session_cookie_needs_the_csrf_token(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    client = client_as("mei")
    assert client.put("/api/v1/me/language", json={"language": "zh_CN"}).status_code == 403
    wrong = client.put("/api/v1/me/language", json={"language": "zh_CN"}, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "CsrfFailed"
    token = csrf_from(client.get("/proposals").text)
    ok = client.put("/api/v1/me/language", json={"language": "zh_CN"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200 and ok.json()["language"] == "zh_CN"


def test_form_posts_carry_the_csrf_field(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    client = client_as("vera")
    refused = client.post(
        "/language", data={"language": "zh_CN", "next": "/proposals"}, follow_redirects=False
    )
    assert refused.status_code == 403
    token = csrf_from(client.get("/proposals").text)
    moved = client.post(
        "/language",
        data={"language": "zh_CN", "next": "/proposals", "csrf_token": token},
        follow_redirects=False,
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/proposals"


def test_api_tokens_act_as_their_user_without_csrf_and_are_stored_as_digests(app, shop) -> None:  # type: ignore[no-untyped-def]
    engine, _ = shop
    from tests.web.shop import NOW

    with unit_of_work(engine) as session:
        secret = create_api_token(session, user_name="mei", token_name="nightly", now=NOW, actor="mei")
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).json()["name"] == "mei"
    assert client.put("/api/v1/me/language", json={"language": "en"}, headers=headers).status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer rst_wrong"}).status_code == 401
    with unit_of_work(engine) as session:
        stored = session.scalars(select(ApiToken.token_sha256)).all()
        assert secret not in stored and all(len(d) == 64 for d in stored)
        hashes = session.scalars(select(User.password_hash)).all()
        assert all(h.startswith("$argon2") and PASSWORD not in h for h in hashes)


def test_wrong_password_then_rate_limit_then_the_window_passes(client_as, clock, shop) -> None:  # type: ignore[no-untyped-def]
    client = client_as(None)
    for _ in range(5):
        page = client.get("/login")
        bad = client.post(
            "/login", data={"username": "mei", "password": "nope", "csrf_token": csrf_from(page.text)}
        )
        assert bad.status_code == 401
    page = client.get("/login")
    limited = client.post(
        "/login", data={"username": "mei", "password": PASSWORD, "csrf_token": csrf_from(page.text)}
    )
    assert limited.status_code == 429
    clock.now += timedelta(minutes=16)
    log_in(client, "mei")


def test_login_without_the_form_token_is_refused(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    client = client_as(None)
    response = client.post("/login", data={"username": "mei", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 403


def test_session_cookie_flags_and_expiry(client_as, clock, shop, app) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "mei", "password": PASSWORD, "csrf_token": csrf_from(page.text), "next": "/jobs"},
        follow_redirects=False,
    )
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("restock_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert response.headers["location"] == "/jobs"
    assert client.get("/jobs").status_code == 200
    clock.now += timedelta(hours=13)
    assert client.get("/jobs", follow_redirects=False).status_code == 303


def test_cookies_are_secure_behind_tls(app, shop) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(app, base_url="https://restock.example")
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "mei", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("restock_session="))
    assert "Secure" in cookie


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "\\\\evil", "proposals"])
def test_login_never_redirects_off_site(client_as, shop, target) -> None:  # type: ignore[no-untyped-def]
    client = client_as(None)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "mei", "password": PASSWORD, "csrf_token": csrf_from(page.text), "next": target},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_logout_ends_the_session_in_the_database(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, _ = shop
    client = client_as("mei")
    token = csrf_from(client.get("/proposals").text)
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    with unit_of_work(engine) as session:
        assert session.scalars(select(WebSession)).all() == []
    assert client.get("/api/v1/me").status_code == 401


def test_the_login_is_committed_before_the_redirect_is_sent(app, client_as, shop) -> None:  # type: ignore[no-untyped-def]
    """A browser follows the login redirect at once: the session row must already be committed
    when the response starts, or the next page sends it back to the login form (seen in CI)."""
    import anyio
    from sqlalchemy import func

    engine, _ = shop
    browser = client_as(None)
    page = browser.get("/login")
    body = urlencode(
        {"username": "mei", "password": PASSWORD, "csrf_token": csrf_from(page.text), "next": "/"}
    ).encode()
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    sessions_when_sent: list[int] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            with engine.connect() as connection:
                sessions_when_sent.append(connection.scalar(select(func.count()).select_from(WebSession)))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/login",
        "raw_path": b"/login",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            (b"cookie", cookie.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    anyio.run(app, scope, receive, send)
    assert sessions_when_sent == [1]


def test_the_principal_is_looked_up_off_the_event_loop(monkeypatch, client_as, shop) -> None:  # type: ignore[no-untyped-def]
    """A database call on the event loop blocks it: with more concurrent requests than pooled
    connections, every request then waited 30 s for a connection (the web bench timed out)."""
    import asyncio

    import restock.web.security as security

    where: list[str] = []
    original = security.find_principal

    def spy(request, session):  # type: ignore[no-untyped-def]
        try:
            asyncio.get_running_loop()
            where.append("event loop")
        except RuntimeError:
            where.append("worker thread")
        return original(request, session)

    monkeypatch.setattr(security, "find_principal", spy)
    _, pid = shop
    assert client_as("mei").get(f"/api/v1/proposals/{pid}").status_code == 200
    assert where and set(where) == {"worker thread"}


PUBLIC_READS = {"/login", "/healthz", "/api/v1/openapi.json", "/api/v1/docs", "/docs/oauth2-redirect"}


def _read_routes(app):  # type: ignore[no-untyped-def]
    from fastapi.routing import iter_route_contexts

    for context in iter_route_contexts(app.router.routes):
        methods = getattr(context.route, "methods", None) or set()
        if "GET" in methods and context.route.path not in PUBLIC_READS:
            yield context.route.path


def test_every_read_route_is_refused_to_anonymous_and_served_to_every_role(app, client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    with Session(engine) as session:
        line_id = session.scalars(select(ProposalLine.id).where(ProposalLine.proposal_id == pid)).first()
        token = create_api_token(session, user_name="vera", token_name="script", now=NOW, actor="vera")
        session.commit()
    paths = [
        p.replace("{proposal_id}", str(pid)).replace("{line_id}", str(line_id)).replace("{file_id}", "1")
        for p in _read_routes(app)
    ]
    assert len(paths) >= 25  # every page and API read, found from the app: a new route is covered
    anonymous = client_as(None)
    for path in paths:
        response = anonymous.get(path, follow_redirects=False)
        expected = 401 if path.startswith("/api/") else 303
        assert response.status_code == expected, (path, response.status_code)
    for user in sorted(USERS):
        client = client_as(user)
        for path in paths:
            status = client.get(path).status_code
            # 404: the shop has no supplier file 1 and no forecast accuracy to show yet
            assert status in (200, 404), (user, path, status)
    scripted = client_as(None)
    for path in (p for p in paths if p.startswith("/api/")):
        response = scripted.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (200, 404), (path, response.status_code)
        wrong = scripted.get(path, headers={"Authorization": "Bearer not-a-token"})
        assert wrong.status_code == 401, path
