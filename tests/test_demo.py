"""The demo end to end on the committed sample: what the README promises the merchandiser sees."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select

from kernel.catalog import Sku
from replenishment.reasons import ReasonCode
from replenishment.services import get_proposal
from restock.db import make_engine
from restock.demo import run_demo
from restock.settings import load_settings
from scheduler.runs import last_runs


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, dict]:
    database = tmp_path_factory.mktemp("demo") / "demo.db"
    console = Console(file=io.StringIO(), width=120)
    summary = run_demo(
        load_settings(), samples_dir=Path("data/samples"), database_file=database, console=console
    )
    engine = make_engine(f"sqlite:///{database}")
    proposal = get_proposal(engine, 1)
    runs = last_runs(engine)
    with engine.connect() as connection:
        active = set(connection.execute(select(Sku.code).where(Sku.status == "active")).scalars())
    engine.dispose()
    return summary, {"proposal": proposal, "runs": runs, "active": active, "database": database}


def test_every_step_ran_and_is_recorded(demo: tuple[object, dict]) -> None:
    summary, stored = demo
    assert [step for step, _ in summary.steps] == [
        "import",
        "brushing",
        "forecast",
        "proposal",
        "pre-sale",
        "web login",
    ]
    assert [(run["job"], run["status"]) for run in stored["runs"]] == [
        ("propose", "succeeded"),
        ("forecast", "succeeded"),
        ("import", "succeeded"),
    ]


def codes(line: dict) -> set[str]:
    return {reason["code"] for reason in line["reasons"]}


def test_down_jackets_are_bought_on_their_pre_build_date(demo: tuple[object, dict]) -> None:
    lines = demo[1]["proposal"]["lines"]
    jackets = [line for line in lines if line["sku"].startswith("DJK-")]
    assert len(jackets) >= 5
    for line in jackets:
        prebuild = line["reasons"][0]
        assert prebuild["code"] == ReasonCode.PREBUILD
        # SUP-A's own lead time (30 days) sets the date: 15 Nov − 45 days − 30 days
        assert prebuild["params"]["order_by"] == "2026-09-01"
        assert (prebuild["params"]["supplier"], prebuild["params"]["lead_time_days"]) == ("SUP-A", 30)


def test_a_rebate_tier_is_reached_and_shown(demo: tuple[object, dict]) -> None:
    proposal = demo[1]["proposal"]
    raised = [line for line in proposal["lines"] if ReasonCode.RAISED_TO_TIER in codes(line)]
    assert raised
    for line in raised:
        params = next(r["params"] for r in line["reasons"] if r["code"] == ReasonCode.RAISED_TO_TIER)
        assert params["to_units"] == line["units"] and params["tier"] > params["tier_without"]
    tiers = {summary["supplier"]: summary["tier_reached"] for summary in proposal["suppliers"]}
    assert tiers["SUP-A"] == 2


def test_rebate_shares_of_one_agreement_are_each_lines_own_not_the_whole_gain(
    demo: tuple[object, dict],
) -> None:
    proposal = demo[1]["proposal"]
    agreement = next(a for a in proposal["agreements"] if a["supplier"] == "SUP-C")
    shares = [Decimal(line["rebate_share"]) for line in proposal["lines"] if line["supplier"] == "SUP-C"]
    assert len(shares) >= 2 and all(share < Decimal(agreement["gain"]) for share in shares)
    assert sum(shares) == Decimal(agreement["gain"])
    assert agreement["tier_after"] > agreement["tier_before"]
    assert Decimal(agreement["purchases_after"]) > Decimal(agreement["purchases_before"])


def test_jackets_below_the_floor_at_list_cost_are_admitted_only_through_tier_two(
    demo: tuple[object, dict],
) -> None:
    lines = {line["sku"]: line for line in demo[1]["proposal"]["lines"]}
    admitted = [lines[code] for code in ("DJK-003", "DJK-007", "DJK-011") if code in lines]
    assert admitted, "at least one of the tier-2-only jackets is bought"
    for line in admitted:
        params = next(r["params"] for r in line["reasons"] if r["code"] == ReasonCode.ADMITTED_BY_TIER)
        assert (params["tier_needed"], params["tier_reached"]) == (2, 2)
        assert float(line["margin_pct"]) >= 30.0


def test_skus_below_the_floor_whatever_happens_are_left_out_with_the_reason(
    demo: tuple[object, dict],
) -> None:
    exclusions = {item["sku"]: item for item in demo[1]["proposal"]["exclusions"]}
    for code in ("DJK-015", "CMC-004", "KIT-009"):
        assert exclusions[code]["code"] == ReasonCode.BELOW_MARGIN_FLOOR
        assert exclusions[code]["params"]["floor_pct"] == "30.0"


def test_every_active_sku_has_exactly_one_outcome_a_line_or_a_reason(demo: tuple[object, dict]) -> None:
    proposal, active = demo[1]["proposal"], demo[1]["active"]
    with_line = {line["sku"] for line in proposal["lines"]}
    reasons = [e["sku"] for e in proposal["exclusions"] if e["supplier"] is None]
    assert len(reasons) == len(set(reasons))
    assert with_line.isdisjoint(reasons)
    assert with_line | set(reasons) == active


def test_the_brushing_step_quotes_the_stored_flags(demo: tuple[object, dict]) -> None:
    from sqlalchemy import func, select

    from forecasting.models import Order, OrderFlag

    summary, stored = demo
    text = dict(summary.steps)["brushing"]
    engine = make_engine(f"sqlite:///{stored['database']}")
    with engine.connect() as conn:
        orders, units, clusters = conn.execute(
            select(func.count(func.distinct(Order.order_id)), func.sum(Order.units),
                   func.count(func.distinct(OrderFlag.cluster)))
            .join(Order, Order.id == OrderFlag.order_row_id)).one()
    engine.dispose()
    assert orders > 0
    assert f"brushing: {orders:,} orders, {units:,} units removed from demand in {clusters} clusters" in text


def test_the_pre_sale_replay_shows_double_11_with_and_without_the_stored_deposit_signal(
    demo: tuple[object, dict],
) -> None:
    from forecasting.services import load_run

    summary, stored = demo
    text = dict(summary.steps)["pre-sale"]
    engine = make_engine(f"sqlite:///{stored['database']}")
    replay = load_run(engine, 2)
    engine.dispose()
    assert replay.params["as_of"] == "2025-11-04"
    adjustments = replay.params["presale"]
    assert adjustments and all(row["deposits"] > 0 for row in adjustments)
    without = sum(row["model_mean"] for row in adjustments)
    with_signal = sum(row["mean"] for row in adjustments)
    assert f"{len(adjustments)} SKUs with deposits" in text
    assert f"forecast {without:.0f} units without the deposit signal" in text
    assert f"{with_signal:.0f} with it" in text


def test_a_merchandiser_logs_in_to_the_demo_with_the_printed_password(demo: tuple[object, dict]) -> None:
    from fastapi.testclient import TestClient

    from restock.web.app import create_app
    from tests.web.conftest import log_in

    summary, facts = demo
    login = summary.login
    assert login is not None and login.user == "demo" and len(login.password) >= 16
    # printed at the end, and written next to the database for its owner only
    out = io.StringIO()
    Console(file=out, width=400).print(summary)
    assert f"with the password {login.password}" in out.getvalue() and "make serve" in out.getvalue()
    assert login.file == facts["database"].with_name("demo-login.txt")
    assert login.file.stat().st_mode & 0o777 == 0o600
    assert f"password: {login.password}\n" in login.file.read_text(encoding="utf-8")
    assert login.database == f"sqlite:///{facts['database']}"
    engine = make_engine(login.database)
    try:
        app = create_app(engine=engine, settings=load_settings())
        client = log_in(TestClient(app), "demo", login.password)
        assert client.get("/api/v1/me").json()["role"] == "merchandiser"
        page = client.get("/proposals/1")
        assert page.status_code == 200 and "SUP-" in page.text
        wrong = TestClient(app)
        token = re.search(r'name="csrf_token" value="([^"]*)"', wrong.get("/login").text).group(1)
        refused = wrong.post("/login", data={"username": "demo", "password": "demo", "csrf_token": token})
        assert refused.status_code in (400, 401)
    finally:
        engine.dispose()


def test_the_demo_in_a_browser_in_english_and_chinese(demo: tuple[object, dict], tmp_path: Path) -> None:
    """Issue 15's done-when on the demo database itself: the merchandiser `demo` logs in with the
    password the demo wrote, sees the proposal's rebate tiers, filters the grid to the down-jacket
    pre-build, opens a line's chart, edits it, approves and downloads a supplier file — and reads
    the line's reason in English and in Chinese. Screenshots: var/screenshots/demo-*.png."""
    import threading
    import time

    import uvicorn

    from restock.web.app import create_app
    from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, IN_CI, SHOTS, _free_port

    if not Path(CHROMIUM).exists():
        (pytest.fail if IN_CI else pytest.skip)(f"{CHROMIUM} missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    summary, _ = demo
    login = summary.login
    password = re.search(r"^password: (\S+)$", login.file.read_text(encoding="utf-8"), re.M).group(1)
    settings = load_settings()
    settings.export.outbox = str(tmp_path / "outbox")
    engine = make_engine(login.database)
    server = uvicorn.Server(
        uvicorn.Config(create_app(engine=engine, settings=settings), host="127.0.0.1", port=_free_port())
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(
                viewport={"width": 1280, "height": 900},
                base_url=f"http://127.0.0.1:{server.config.port}",
                accept_downloads=True,
            )
            page = context.new_page()
            page.set_default_timeout(90_000)
            _walk_the_demo(page, password, tmp_path / "outbox")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


def _walk_the_demo(page, password: str, outbox: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_browser import SHOTS

    page.goto("/")
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#total-value")
    assert page.locator(".tier").count() >= 1  # the rebate agreements' progress bars
    page.screenshot(path=str(SHOTS / "demo-1-this-week-en.png"), full_page=True)

    page.click("nav.tabs >> text=Lines")
    page.wait_for_selector("#lines-table")
    page.select_option("select[name=reason]", "prebuild")
    page.wait_for_function("location.search.includes('reason=prebuild')")
    page.wait_for_selector("#lines-table tbody tr[data-sku]")
    rows = page.locator("#lines-table tbody tr[data-sku]")
    assert rows.count() >= 1
    # the grid names each line's reasons in a few words; the sentence is in the cell's title
    assert all("season pre-build" in rows.nth(i).inner_text() for i in range(rows.count()))
    assert "pre-build: order by" in rows.first.locator("td.reason").get_attribute("title")
    page.screenshot(path=str(SHOTS / "demo-2-grid-prebuild-en.png"), full_page=True)

    rows.first.locator("a").first.click()
    page.wait_for_selector("#history-chart")
    page.wait_for_function(
        "['#history-chart', '#projection-chart'].every(s => document.querySelector(s).naturalWidth > 0)"
    )
    assert "pre-build: order by" in page.locator("#line-reason").inner_text()
    page.screenshot(path=str(SHOTS / "demo-3-line-en.png"), full_page=True)
    units = int(page.locator("#line-units").inner_text().split()[0].replace(",", ""))
    page.fill("#edit-form input[name=units]", str(units + 1))  # rounded up to the next whole case
    page.select_option("#edit-form select[name=reason_code]", "promotion_plan_changed")
    page.click("#edit-form button[value=save]")
    page.wait_for_selector("#edit-outcome")
    assert int(page.locator("#line-units").inner_text().split()[0].replace(",", "")) > units
    page.wait_for_function(
        "['#history-chart', '#projection-chart'].every(s => document.querySelector(s).naturalWidth > 0)"
    )
    page.screenshot(path=str(SHOTS / "demo-4-line-edited-en.png"), full_page=True)

    page.select_option("#language-form select", "zh_CN")
    page.wait_for_selector("text=历史与预测")
    page.wait_for_function(
        "['#history-chart', '#projection-chart'].every(s => document.querySelector(s).naturalWidth > 0)"
    )
    assert "提前备货：须在" in page.locator("#line-reason").inner_text()
    page.screenshot(path=str(SHOTS / "demo-5-line-zh.png"), full_page=True)

    page.goto("/")
    page.wait_for_selector("text=返利协议")
    page.screenshot(path=str(SHOTS / "demo-6-this-week-zh.png"), full_page=True)
    page.click("nav.tabs >> text=批准或驳回")
    page.wait_for_selector("#approve-form")
    overrides = page.locator("#approve-form input[name^='override:']")
    for i in range(overrides.count()):
        overrides.nth(i).fill("agreed with the category manager")
    page.screenshot(path=str(SHOTS / "demo-7-approve-zh.png"), full_page=True)
    page.click("#approve-button")
    page.wait_for_selector("#orders-table")
    page.click("#export-button")
    page.wait_for_selector("a.download")
    with page.expect_download() as downloading:
        page.locator("a.download").first.click()
    download = downloading.value
    assert Path(download.path()).read_bytes() == (outbox / download.suggested_filename).read_bytes()
    page.screenshot(path=str(SHOTS / "demo-8-orders-zh.png"), full_page=True)
