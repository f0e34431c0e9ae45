"""Fixtures for the web tests: the small shop on both databases, and logged-in clients."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from restock.settings import load_settings
from restock.web.app import create_app
from tests.web.shop import NOW, PASSWORD, seed_shop


class Clock:
    """A clock the tests move by hand (sessions expire, rate-limit windows pass)."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):  # type: ignore[no-untyped-def]
    """Argon2 with the smallest cost: the same algorithm, without 100 ms per hash in every test."""
    from argon2 import PasswordHasher

    import restock.accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(restock.accounts, "_hasher", cheap)
    monkeypatch.setattr(restock.accounts, "_DUMMY_HASH", cheap.hash("restock-no-such-user"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(engine: Engine) -> tuple[Engine, int]:
    """The small shop on SQLite and PostgreSQL in turn; returns (engine, proposal id)."""
    return engine, seed_shop(engine)


@pytest.fixture
def app(shop, clock, tmp_path):  # type: ignore[no-untyped-def]
    engine, _ = shop
    settings = load_settings()
    settings.export.outbox = str(tmp_path / "outbox")  # supplier files stay in the test's folder
    return create_app(engine=engine, settings=settings, clock=clock)


def csrf_from(html: str) -> str:
    """The CSRF token a page carries in its forms."""
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def log_in(client: TestClient, user: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": csrf_from(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def client_as(app) -> Callable[[str | None], TestClient]:  # type: ignore[no-untyped-def]
    """A test client logged in as the given user (None: anonymous)."""

    def _make(user: str | None) -> TestClient:
        client = TestClient(app)
        return log_in(client, user) if user else client

    return _make
