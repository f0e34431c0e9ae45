"""The JSON API's response cache: repeated reads answer with the same bytes, and every change —
through the API, by another connection's raw SQL, a language switch — shows on the next read;
a rolled-back change never does; authorization still runs first (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from restock.settings import load_settings
from restock.web.api import PrincipalDep
from restock.web.app import create_app
from restock.web.cache import CachedEntry, CachingRoute, ResponseCache, cacheable
from tests.web.conftest import csrf_from, log_in


def _line_id(engine: Engine, pid: int, sku: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM proposal_lines WHERE proposal_id = :p AND sku_code = :s"),
                {"p": pid, "s": sku},
            ).scalar_one()
        )


def _paths(engine: Engine, pid: int) -> list[str]:
    line = _line_id(engine, pid, "DJK-001")
    return [
        "/api/v1/proposals",
        f"/api/v1/proposals/{pid}",
        f"/api/v1/proposals/{pid}/lines?size=50",
        f"/api/v1/proposals/{pid}/lines?sort=margin&order=asc&size=2&page=2",
        f"/api/v1/proposals/{pid}/lines?q=DJK&category=down_jackets",
        f"/api/v1/proposals/{pid}/left-out",
        f"/api/v1/proposals/{pid}/lines/{line}",
        f"/api/v1/proposals/{pid}/lines/{line}/series",
        f"/api/v1/proposals/{pid}/review",
        "/api/v1/jobs",
        "/api/v1/forecast/accuracy",
        "/api/v1/purchase-orders",
    ]


def _stats(client: TestClient) -> dict[str, int]:
    return client.app.state.response_cache.stats()  # type: ignore[attr-defined]


def _grid_row(client: TestClient, pid: int, sku: str) -> dict:
    rows = client.get(f"/api/v1/proposals/{pid}/lines", params={"q": sku}).json()["rows"]
    return next(r for r in rows if r["sku"] == sku)


def test_a_repeated_read_is_a_hit_with_the_bytes_and_headers_of_an_uncached_response(
    client_as, shop, clock, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    settings = load_settings()
    settings.export.outbox = str(tmp_path / "outbox")
    settings.web.response_cache_entries = 0
    uncached = log_in(TestClient(create_app(engine=engine, settings=settings, clock=clock)), "mei")
    assert not uncached.app.state.response_cache.enabled  # type: ignore[attr-defined]
    paths = _paths(engine, pid)
    for path in paths:
        first = mei.get(path)
        assert first.status_code == 200, (path, first.text)
        hits = _stats(mei)["hits"]
        second = mei.get(path)
        assert _stats(mei)["hits"] == hits + 1, path
        plain = uncached.get(path)
        assert second.content == first.content == plain.content, path
        assert second.headers.multi_items() == plain.headers.multi_items(), path
    assert _stats(mei)["entries"] == len(paths)


def test_an_edit_through_the_api_is_seen_on_the_next_read(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    token = csrf_from(mei.get(f"/proposals/{pid}").text)
    line = _line_id(engine, pid, "DJK-001")
    detail = f"/api/v1/proposals/{pid}/lines/{line}"
    before = [mei.get(detail).json(), mei.get(f"/api/v1/proposals/{pid}").json()]
    assert mei.get(detail).json() == before[0]  # a hit
    edited = mei.patch(
        detail, json={"units": 130, "reason_code": "promotion_plan_changed"}, headers={"X-CSRF-Token": token}
    )
    assert edited.status_code == 200, edited.text
    assert mei.get(detail).json()["line"]["units"] == 130
    assert _grid_row(mei, pid, "DJK-001")["units"] == 130
    sup_a = next(g for g in mei.get(f"/api/v1/proposals/{pid}").json()["by_supplier"] if g["key"] == "SUP-A")
    sup_a_before = next(g for g in before[1]["by_supplier"] if g["key"] == "SUP-A")
    assert sup_a["units"] == sup_a_before["units"] - before[0]["line"]["units"] + 130


def test_a_catalogue_change_by_another_connection_is_seen_on_the_next_read(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    assert _grid_row(mei, pid, "DJK-001")["sku_name"] == "DJK-001 name"
    overview = mei.get(f"/api/v1/proposals/{pid}").json()
    assert _grid_row(mei, pid, "DJK-001")["sku_name"] == "DJK-001 name"  # served from the cache
    hits = _stats(mei)["hits"]
    assert hits >= 1
    with engine.begin() as conn:  # another process: an import, a script, psql
        conn.execute(text("UPDATE skus SET name = 'Daunenjacke' WHERE code = 'DJK-001'"))
    assert _grid_row(mei, pid, "DJK-001")["sku_name"] == "Daunenjacke"
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE skus SET category_id = (SELECT id FROM categories WHERE code = 'kitchen') "
                "WHERE code = 'DJK-001'"
            )
        )
    after = mei.get(f"/api/v1/proposals/{pid}").json()
    units = {g["key"]: g["units"] for g in after["by_category"]}
    units_before = {g["key"]: g["units"] for g in overview["by_category"]}
    moved = _grid_row(mei, pid, "DJK-001")
    assert moved["category"] == "kitchen"
    assert units["kitchen"] == units_before["kitchen"] + moved["units"]
    assert units.get("down_jackets", 0) == units_before["down_jackets"] - moved["units"]
    with engine.begin() as conn:  # a line changed outside the app's approval service
        conn.execute(text("UPDATE proposal_lines SET units = 70 WHERE id = :id"), {"id": moved["id"]})
    assert mei.get(f"/api/v1/proposals/{pid}/lines/{moved['id']}").json()["line"]["units"] == 70


def test_a_rolled_back_change_is_never_served(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    assert _grid_row(mei, pid, "DJK-001")["sku_name"] == "DJK-001 name"
    with engine.connect() as writer:
        writer.execute(text("UPDATE skus SET name = 'never committed' WHERE code = 'DJK-001'"))
        # while it is open, readers see (and cache) the committed name only
        assert _grid_row(mei, pid, "DJK-001")["sku_name"] == "DJK-001 name"
        assert mei.get(f"/api/v1/proposals/{pid}/lines", params={"q": "never"}).json()["total"] == 0
        writer.rollback()
    assert _grid_row(mei, pid, "DJK-001")["sku_name"] == "DJK-001 name"
    assert mei.get(f"/api/v1/proposals/{pid}/lines", params={"q": "never"}).json()["total"] == 0
    with engine.begin() as conn:  # the next committed change shows, whatever the counter did before
        conn.execute(text("UPDATE skus SET name = 'committed' WHERE code = 'DJK-001'"))
    assert _grid_row(mei, pid, "DJK-001")["sku_name"] == "committed"
    assert mei.get(f"/api/v1/proposals/{pid}/lines", params={"q": "never"}).json()["total"] == 0


def test_the_language_is_part_of_the_key(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    _, pid = shop
    mei = client_as("mei")
    english = _grid_row(mei, pid, "DJK-002")["reason"]
    mei.cookies.set("restock_lang", "zh_CN")
    chinese = _grid_row(mei, pid, "DJK-002")["reason"]
    assert chinese != english
    mei.cookies.set("restock_lang", "en")
    assert _grid_row(mei, pid, "DJK-002")["reason"] == english
    mei.cookies.set("restock_lang", "zh_CN")
    hits = _stats(mei)["hits"]
    assert _grid_row(mei, pid, "DJK-002")["reason"] == chinese
    assert _stats(mei)["hits"] == hits + 1


@pytest.mark.parametrize("user", [None, "vera"])
def test_authorization_runs_before_the_cache(client_as, shop, user) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    line = _line_id(engine, pid, "DJK-001")
    detail = f"/api/v1/proposals/{pid}/lines/{line}"
    assert mei.get(detail).status_code == 200  # the response is cached now
    other: TestClient = client_as(user)
    read = other.get(detail)
    if user is None:
        assert read.status_code == 401
        return
    assert read.status_code == 200 and read.content == mei.get(detail).content
    token = csrf_from(other.get(f"/proposals/{pid}").text)
    refused = other.patch(
        detail, json={"units": 10, "reason_code": "budget"}, headers={"X-CSRF-Token": token}
    )
    assert refused.status_code == 403, refused.text
    assert mei.get(detail).json()["line"]["units"] != 10


def test_the_cache_keeps_to_its_entry_and_byte_bounds() -> None:
    def entry(n: int) -> CachedEntry:
        return CachedEntry(b"x" * n, ((b"content-type", b"application/json"),))

    cache = ResponseCache(max_entries=3, max_bytes=10_000)
    for n in range(5):
        cache.put(("k", n), entry(10))
    assert cache.stats()["entries"] == 3 and cache.get(("k", 0)) is None and cache.get(("k", 4)) is not None
    cache.get(("k", 2))  # used: the least recently used is now 3
    cache.put(("k", 9), entry(10))
    assert cache.get(("k", 3)) is None and cache.get(("k", 2)) is not None
    by_bytes = ResponseCache(max_entries=100, max_bytes=10_000)
    for n in range(20):
        by_bytes.put(("k", n), entry(1_500))
        assert by_bytes.stats()["bytes"] <= 10_000
    assert 1 < by_bytes.stats()["entries"] < 20 and by_bytes.stats()["evictions"] > 0
    by_bytes.put(("big",), entry(5_000))  # more than a quarter of the bound: not stored
    assert by_bytes.get(("big",)) is None and by_bytes.stats()["too_large"] == 1


def test_an_app_with_a_small_cache_stays_within_it(shop, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    settings = load_settings()
    settings.export.outbox = str(tmp_path / "outbox")
    settings.web.response_cache_entries = 3
    client = log_in(TestClient(create_app(engine=engine, settings=settings, clock=clock)), "mei")
    for path in _paths(engine, pid):
        assert client.get(path).status_code == 200
        assert _stats(client)["entries"] <= 3
    assert _stats(client)["evictions"] >= len(_paths(engine, pid)) - 3


def test_an_endpoint_reading_the_principal_cannot_be_marked_cacheable() -> None:
    def mine(principal: PrincipalDep) -> dict:
        return {"name": principal.name}

    with pytest.raises(TypeError, match="principal"):
        CachingRoute("/mine", cacheable(mine), methods=["GET"])
    with pytest.raises(TypeError):
        CachingRoute("/change", cacheable(lambda: {}), methods=["POST"])



def _bearer(engine: Engine) -> dict[str, str]:
    from kernel.orm import unit_of_work
    from restock.accounts import create_api_token
    from tests.web.shop import NOW

    with unit_of_work(engine) as session:
        token = create_api_token(session, user_name="mei", token_name="t", now=NOW, actor="mei")
    return {"Authorization": f"Bearer {token}"}


async def _together(app, headers: dict[str, str], path: str, n: int) -> list:  # type: ignore[no-untyped-def]
    import asyncio

    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client:
        return await asyncio.gather(*(client.get(path) for _ in range(n)))


@pytest.mark.parametrize("first_fails", [False, True])
def test_requests_for_a_response_being_built_wait_for_it_instead_of_building_it_again(
    app, shop, monkeypatch, first_fails
) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import time

    from kernel.errors import NotFound
    from restock.web import presenters

    engine, pid = shop
    real = presenters.overview
    builds: list[int] = []

    def slow_overview(session, proposal_id):  # type: ignore[no-untyped-def]
        builds.append(proposal_id)
        time.sleep(0.3)  # long enough for the other requests to arrive meanwhile
        if first_fails and len(builds) == 1:
            raise NotFound("the first build fails")
        return real(session, proposal_id)

    monkeypatch.setattr(presenters, "overview", slow_overview)
    responses = asyncio.run(_together(app, _bearer(engine), f"/api/v1/proposals/{pid}", 6))
    stats = app.state.response_cache.stats()
    if not first_fails:
        assert [r.status_code for r in responses] == [200] * 6
        assert len(builds) == 1 and stats["shared"] == 5
        assert len({r.content for r in responses}) == 1
    else:  # the waiters build it themselves
        assert sorted(r.status_code for r in responses) == [200] * 5 + [404]
        assert len(builds) == 6 and stats["shared"] == 0
    assert app.state.response_cache.in_flight == {}
