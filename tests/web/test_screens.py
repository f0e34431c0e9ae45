"""What the pages and the API show: tier progress, totals, paging, filters, charts, languages."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forecasting.models import ForecastRun
from kernel.orm import unit_of_work
from replenishment.models import Proposal, ProposalLine
from restock.settings import load_settings
from restock.web.app import create_app
from tests.web.conftest import csrf_from, log_in
from tests.web.shop import seed_shop


def test_tier_progress_counts_this_proposal_toward_sup_a_tier_two(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    _, pid = shop
    body = client_as("vera").get(f"/api/v1/proposals/{pid}").json()
    (tier,) = body["tiers"]
    # ¥1,900,000 so far + ¥60,000 + ¥40,000 of SUP-A lines = ¥2,000,000: tier 2 reached exactly.
    assert Decimal(tier["purchases_to_date"]) == Decimal("1900000")
    assert Decimal(tier["this_proposal"]) == Decimal("100000.00")
    assert Decimal(tier["total"]) == Decimal("2000000.00")
    assert (tier["tier_before"], tier["tier_after"], tier["next_threshold"]) == (1, 2, None)
    by_supplier = {g["key"]: Decimal(g["value"]) for g in body["by_supplier"]}
    assert by_supplier == {"SUP-A": Decimal("100000.00"), "SUP-C": Decimal("360.00")}
    by_category = {g["key"]: (g["lines"], g["units"]) for g in body["by_category"]}
    assert by_category == {"down_jackets": (2, 220), "kitchen": (1, 12)}
    assert body["budget_used"] == pytest.approx(100360 / 3_000_000)


def test_this_week_page_shows_the_same_numbers(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    _, pid = shop
    html = client_as("vera").get(f"/proposals/{pid}").text
    assert "¥100,360.00" in html  # total value
    assert "SUP-A-2026" in html and "¥1,900,000.00" in html and "¥2,000,000.00" in html
    assert "tier 1 → 2" in html


def test_this_week_counts_stale_inputs_left_out_and_below_floor_overrides(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    with unit_of_work(engine) as session:
        proposal = session.get(Proposal, pid)
        proposal.messages = [
            "STALE INPUTS (proposed with --allow-stale): stock snapshot 2026-08-20 is 11 days old",
            "solver: optimal",
        ]
        line = next(ln for ln in proposal.lines if ln.sku_code == "KIT-001")
        line.override_reason = "clearance buy"
    client = client_as("vera")
    body = client.get(f"/api/v1/proposals/{pid}").json()
    assert (body["stale_inputs"], body["overrides"], body["below_floor"]) == (1, 1, 0)
    assert body["proposal"]["left_out"] == 1
    html = client.get(f"/proposals/{pid}").text
    assert re.search(r'id="stale-inputs" class="error">Stale inputs: 1<', html)
    assert "Approved below the floor (override): 1" in html and "Left out: 1" in html


@pytest.fixture
def big_app(engine):  # type: ignore[no-untyped-def]
    pid = seed_shop(engine, extra_lines=120)
    return create_app(engine=engine, settings=load_settings()), pid


def test_grid_pages_sorts_and_filters_on_the_server(big_app) -> None:  # type: ignore[no-untyped-def]
    app, pid = big_app
    client = log_in(TestClient(app), "mei")
    first = client.get(f"/api/v1/proposals/{pid}/lines", params={"size": 50}).json()
    assert (first["total"], first["pages"], len(first["rows"])) == (123, 3, 50)
    last = client.get(f"/api/v1/proposals/{pid}/lines", params={"size": 50, "page": 3}).json()
    assert len(last["rows"]) == 23
    units = client.get(
        f"/api/v1/proposals/{pid}/lines", params={"sort": "units", "order": "asc", "size": 500}
    ).json()
    values = [r["units"] for r in units["rows"]]
    assert values == sorted(values)
    jackets = client.get(f"/api/v1/proposals/{pid}/lines", params={"category": "down_jackets"}).json()
    assert sorted(r["sku"] for r in jackets["rows"]) == ["DJK-001", "DJK-002"]
    found = client.get(f"/api/v1/proposals/{pid}/lines", params={"q": "kit-"}).json()
    assert [r["sku"] for r in found["rows"]] == ["KIT-001"]
    sup_a = client.get(f"/api/v1/proposals/{pid}/lines", params={"supplier": "SUP-A"}).json()
    assert sup_a["total"] == 2
    html = client.get(f"/proposals/{pid}/lines?page=2&size=50", headers={"HX-Request": "true"}).text
    assert "<html" not in html and "page 2 / 3" in html


def test_grid_filters_by_reason_code_and_exception_on_the_server(big_app, engine) -> None:  # type: ignore[no-untyped-def]
    app, pid = big_app
    with unit_of_work(engine) as session:
        stored = session.scalars(select(ProposalLine).where(ProposalLine.proposal_id == pid))
        lines = {ln.sku_code: ln for ln in stored}
        lines["KIT-001"].override_reason = "clearance buy agreed with the category manager"
        lines["FIL-0003"].state = "edited"
    client = log_in(TestClient(app), "mei")

    def skus(**params: str) -> list[str]:
        body = client.get(f"/api/v1/proposals/{pid}/lines", params={"size": 500, **params}).json()
        assert body["total"] == len(body["rows"])
        return sorted(r["sku"] for r in body["rows"])

    # any of a line's reasons counts: raised_to_tier is DJK-002's second reason
    assert skus(reason="raised_to_tier") == ["DJK-002"]
    assert skus(reason="prebuild") == ["DJK-001", "DJK-002"]
    assert len(skus(reason="below_order_up_to")) == 121
    assert skus(reason="rounded_to_cases", category="kitchen") == ["KIT-001"]
    assert skus(reason="budget") == []
    assert skus(exception="override") == ["KIT-001"]
    assert skus(exception="changed") == ["FIL-0003"]
    assert skus(exception="below_floor") == []  # every shop line clears the 10 % floor
    assert len(skus(reason="", exception="")) == 123  # the page's "all" options
    for bad in ({"reason": "not_a_code"}, {"exception": "stale"}, {"reason": "covered%"}):
        assert client.get(f"/api/v1/proposals/{pid}/lines", params=bad).status_code == 422
    # the page: the filter offers the codes the lines quote, in the user's language, and filters
    page = client.get(f"/proposals/{pid}/lines", params={"reason": "raised_to_tier"}).text
    assert '<option value="raised_to_tier" selected>raised to reach a rebate tier</option>' in page
    assert 'value="covered"' not in page  # a left-out reason, not a line's
    assert 'data-sku="DJK-002"' in page and 'data-sku="DJK-001"' not in page
    table = client.get(
        f"/proposals/{pid}/lines", params={"exception": "override"}, headers={"HX-Request": "true"}
    ).text
    assert 'data-sku="KIT-001"' in table and "exception=override" in table  # paging keeps the filter
    # left-out SKUs: their own tab, filtered by their reason code too
    left = client.get(f"/api/v1/proposals/{pid}/left-out", params={"reason": "covered"}).json()
    assert [(e["sku"], e["code"]) for e in left] == [("KIT-002", "covered")]
    assert client.get(f"/api/v1/proposals/{pid}/left-out", params={"reason": "budget"}).json() == []
    assert client.get(f"/api/v1/proposals/{pid}/left-out", params={"reason": "prebuild"}).status_code == 422
    tab = client.get(f"/proposals/{pid}/left-out", params={"reason": "budget"}).text
    assert "KIT-002" not in tab and '<option value="covered">covered</option>' in tab


def test_bad_grid_parameters_are_422_not_500(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    _, pid = shop
    client = client_as("vera")
    assert client.get(f"/api/v1/proposals/{pid}/lines", params={"sort": "price; drop"}).status_code == 422
    assert client.get(f"/api/v1/proposals/{pid}/lines", params={"size": 0}).status_code == 422
    assert client.get("/api/v1/proposals/999999").status_code == 404


def test_line_detail_quotes_the_stored_inputs_and_draws_both_charts(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    _, pid = shop
    client = client_as("mei")
    rows = client.get(
        f"/api/v1/proposals/{pid}/lines", params={"category": "down_jackets", "sort": "sku", "order": "asc"}
    ).json()["rows"]
    line = rows[0]
    detail = client.get(f"/api/v1/proposals/{pid}/lines/{line['id']}").json()
    assert detail["line"]["sku"] == "DJK-001"
    assert detail["order_by"] == "2026-09-01" and detail["mode"] == "prebuild"
    assert [o["supplier"] for o in detail["options"]] == ["SUP-A", "SUP-J"]  # chosen first
    # (899 − 500) / 899 at list cost; the stored 46.33 % after the rebate.
    assert detail["margin_at_list_pct"] == pytest.approx(44.383, abs=1e-3)
    page = client.get(f"/proposals/{pid}/lines/{line['id']}").text
    assert "2026-09-01" in page and "44.4%" in page and "46.3%" in page
    svg = client.get(f"/proposals/{pid}/lines/{line['id']}/history.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text and "double_11" in svg.text
    projection = client.get(f"/proposals/{pid}/lines/{line['id']}/projection.svg")
    assert projection.status_code == 200 and "<svg" in projection.text
    series = client.get(f"/api/v1/proposals/{pid}/lines/{line['id']}/series").json()
    assert len(series["history"]) == 730 and len(series["forecast"]) == 182
    assert series["band"] == ["q10", "q90"]
    assert {e["event"] for e in series["events"]} >= {"double_11", "spring_festival", "e618"}


def test_a_line_of_another_proposal_is_404(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    _, pid = shop
    assert client_as("vera").get(f"/api/v1/proposals/{pid + 1}/lines/1").status_code == 404


def test_chinese_pages_translate_labels_and_format_money(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    _, pid = shop
    client = client_as("mei")
    token = csrf_from(client.get(f"/proposals/{pid}").text)
    client.post("/language", data={"language": "zh_CN", "next": "/", "csrf_token": token})
    html = client.get(f"/proposals/{pid}").text
    assert 'lang="zh-CN"' in html
    assert "返利协议" in html and "按供应商" in html
    assert "¥100,360.00" in html
    # The preference is stored with the user: a new login comes back in Chinese.
    fresh = log_in(TestClient(client.app), "mei")
    assert "返利协议" in fresh.get(f"/proposals/{pid}").text


def test_error_pages_escape_what_they_quote(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    client = client_as("vera")
    response = client.get("/api/v1/proposals/1/lines", params={"q": "<script>alert(1)</script>"})
    assert response.status_code in (200, 404)
    page = client.get("/proposals/1/lines", params={"q": "<script>x</script>"})
    assert "<script>x</script>" not in page.text


def test_security_headers_on_every_page(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    response = client_as(None).get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_assets_are_served_from_the_package(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    client = client_as(None)
    assert client.get("/static/htmx-2.0.11.min.js").status_code == 200
    assert client.get("/static/restock.css").status_code == 200
    # nothing loaded from another host (a random CSRF token may well contain the letters "cdn")
    page = client.get("/login").text
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page), page


def test_forecast_accuracy_by_category_and_model_against_seasonal_naive(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, _ = shop
    client = client_as("vera")
    report = client.get("/api/v1/forecast/accuracy").json()
    # the shop's backtests: DJK-001 AutoETS MASE 0.8 (seasonal naive 1.2), KIT-001 Croston 0.9 (1.0)
    assert report["by_category"]["down_jackets"]["mase"] == 0.8
    assert report["by_category"]["down_jackets"]["seasonal_naive_mase"] == 1.2
    assert report["by_model"]["CrostonSBA"]["seasonal_naive_mase"] == 1.0
    html = client.get("/accuracy").text
    assert re.search(r"<td>down_jackets</td><td class=\"num\">1</td><td class=\"num\">0.800</td>"
                     r"<td class=\"num\">1.200</td>", html)
    assert re.search(r"<td>AutoETS</td><td class=\"num\">1</td><td class=\"num\">0.800</td>", html)
    # a newer run without backtests is said so on the page (the API answers 422 with the reason)
    with unit_of_work(engine) as session:
        session.add(ForecastRun(
            as_of=date(2026, 8, 30), started_at=datetime(2026, 8, 31, tzinfo=UTC), status="succeeded",
            freq="D", horizon=7, quantiles=[0.5], parameters={}, library_versions={}, effects=[],
            duration_s=1.0, n_series=0, n_fallbacks=0,
        ))
    page = client.get("/accuracy")
    assert page.status_code == 200 and "no backtested series to score" in page.text


def test_overview_sums_in_the_database_equal_the_lines_summed_in_python(big_app, engine) -> None:  # type: ignore[no-untyped-def]
    """The overview's totals, counts and tier sums (aggregated in SQL) against the stored lines
    summed here; the agreement is then limited to one SKU after the overview was shown (its parsed
    problem cached), and the new stored problem is the one counted."""
    app, pid = big_app
    client = log_in(TestClient(app), "mei")
    assert client.get(f"/api/v1/proposals/{pid}").status_code == 200  # caches the parsed problem
    with unit_of_work(engine) as session:
        proposal = session.get(Proposal, pid)
        problem = json.loads(proposal.problem)
        problem["agreements"][0]["skus"] = ["DJK-001"]
        proposal.problem = json.dumps(problem)
        lines = {ln.sku_code: ln for ln in proposal.lines}
        lines["KIT-001"].override_reason = "clearance buy"
        lines["FIL-0002"].state = "rejected"
        lines["FIL-0004"].margin_pct = 1.0
    body = client.get(f"/api/v1/proposals/{pid}").json()
    with unit_of_work(engine) as session:
        bought = [
            ln
            for ln in session.scalars(select(ProposalLine).where(ProposalLine.proposal_id == pid))
            if ln.state != "rejected"
        ]
        floor = float(json.loads(session.get(Proposal, pid).problem)["margin_floor"]) * 100
    by_supplier: dict[str, list] = {}
    for ln in bought:
        entry = by_supplier.setdefault(ln.supplier_code, [0, 0, Decimal("0")])
        entry[0] += 1
        entry[1] += ln.units
        entry[2] += ln.value
    shown = {g["key"]: [g["lines"], g["units"], Decimal(g["value"])] for g in body["by_supplier"]}
    assert shown == by_supplier
    assert sum(g["lines"] for g in body["by_category"]) == len(bought)
    assert sum(Decimal(g["value"]) for g in body["by_category"]) == sum(ln.value for ln in bought)
    assert body["below_floor"] == sum(1 for ln in bought if ln.margin_pct < floor - 1e-9) >= 1
    assert body["overrides"] == 1
    (tier,) = body["tiers"]
    scoped = sum(ln.value for ln in bought if ln.supplier_code == "SUP-A" and ln.sku_code == "DJK-001")
    assert Decimal(tier["this_proposal"]) == scoped < Decimal("100000.00")


def test_grid_pages_partition_the_lines_with_ties_broken_by_id(big_app) -> None:  # type: ignore[no-untyped-def]
    app, pid = big_app
    client = log_in(TestClient(app), "mei")
    for order in ("desc", "asc"):
        rows = []
        for page in range(1, 20):
            params = {"sort": "supplier", "order": order, "size": 7, "page": page}
            rows += client.get(f"/api/v1/proposals/{pid}/lines", params=params).json()["rows"]
        assert len(rows) == len({r["id"] for r in rows}) == 123
        keys = [(r["supplier"], r["id"]) for r in rows]
        assert keys == sorted(keys, reverse=order == "desc")


def test_a_problem_without_or_with_a_wrong_digest_is_parsed_from_its_text(shop) -> None:  # type: ignore[no-untyped-def]
    """`stored_problem` keeps parsed problems by `problem_sha256` (the ORM sets it with the text);
    a row written around the ORM without a digest, or with one that matches neither its text nor
    a kept problem, is parsed from its text, and such a parse is not kept."""
    from replenishment import browse
    from replenishment.models import problem_digest

    engine, pid = shop
    with unit_of_work(engine) as session:
        proposal = session.get(Proposal, pid)
        assert proposal.problem_sha256 == problem_digest(proposal.problem)
        problem = json.loads(proposal.problem)
    changed = json.dumps({**problem, "margin_floor": 0.123})
    with Session(engine) as session:
        assert browse.stored_problem(browse.get_proposal_row(session, pid)).margin_floor != 0.123
    for digest in (None, "0" * 64, "0" * 64):  # the second wrong-digest read must not find a kept parse
        with engine.begin() as conn:
            conn.execute(
                update(Proposal).where(Proposal.id == pid).values(problem=changed, problem_sha256=digest)
            )
        with unit_of_work(engine) as session:
            assert browse.stored_problem(browse.get_proposal_row(session, pid)).margin_floor == 0.123
