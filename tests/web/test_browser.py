"""The merchandiser's path in a real browser: Debian's Chromium driven by Playwright.

Serves the small shop with uvicorn on a free loopback port, logs in, reads this week's
proposal, filters the grid, opens a line and its charts, edits the line with a reason, switches
to Chinese, approves the proposal, writes the supplier files and downloads one.
Screenshots go to var/screenshots/ (ignored by git). Never downloads a browser: the
executable is /usr/bin/chromium (`make test` installs it through apt).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from restock.settings import load_settings
from restock.web.app import create_app
from tests.web.shop import PASSWORD, seed_shop

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def outbox(tmp_path) -> Path:  # type: ignore[no-untyped-def]
    return tmp_path / "outbox"


@pytest.fixture
def served(sqlite_engine, outbox) -> Iterator[str]:  # type: ignore[no-untyped-def]
    seed_shop(sqlite_engine, extra_lines=60)
    settings = load_settings()
    settings.export.outbox = str(outbox)
    app = create_app(engine=sqlite_engine, settings=settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(served):  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} missing: `make test` installs Debian's chromium"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, base_url=served, accept_downloads=True
        )
        page = context.new_page()
        # The machine is small and shared: allow slow steps rather than flake.
        page.set_default_timeout(90_000)
        yield page
        context.close()
        browser.close()


def test_merchandiser_reviews_edits_approves_and_downloads(page, outbox) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    assert "/login" in page.url
    page.fill("input[name=username]", "mei")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    try:
        page.wait_for_selector("#total-value")
    except Exception:
        page.screenshot(path=str(SHOTS / "failed-after-login.png"), full_page=True)
        raise AssertionError(f"no proposal after login at {page.url}: {page.content()[:2000]}") from None
    assert "/proposals/" in page.url
    # 2 jacket lines ¥100,000 + kitchen ¥360 + 60 filler lines ¥9,000.
    assert page.locator("#total-value").inner_text() == "¥109,360.00"
    assert page.locator(".tier[data-agreement='SUP-A-2026']").inner_text().count("tier 1 → 2") == 1
    page.screenshot(path=str(SHOTS / "1-this-week-en.png"), full_page=True)

    page.click("nav.tabs >> text=Lines")
    page.wait_for_selector("#lines-table")
    assert "63 lines" in page.locator("#line-count").inner_text()
    page.select_option("select[name=category]", "down_jackets")
    page.wait_for_function("document.querySelector('#line-count').innerText.startsWith('2 lines')")
    assert "category=down_jackets" in page.url  # htmx pushed the filter into the address
    page.screenshot(path=str(SHOTS / "2-grid-filtered.png"), full_page=True)

    page.click("#lines-table >> text=DJK-001")
    page.wait_for_selector("#history-chart")
    page.wait_for_function(
        "['#history-chart', '#projection-chart'].every(s => document.querySelector(s).naturalWidth > 0)"
    )
    assert "2026-09-01" in page.content()
    page.screenshot(path=str(SHOTS / "3-line-detail.png"), full_page=True)

    # Edit: 125 units are rounded up to 13 cases of 10; SUP-A stays at tier 2.
    page.fill("#edit-form input[name=units]", "125")
    page.select_option("#edit-form select[name=reason_code]", "promotion_plan_changed")
    page.fill("#edit-form input[name=note]", "livestream on 9-20")
    page.click("#edit-form button[value=save]")
    page.wait_for_selector("#edit-outcome")
    assert "125 → 130 units (rounded up to 13 case(s) of 10)" in page.locator("#edit-outcome").inner_text()
    assert page.locator("#line-units").inner_text() == "130 units"
    page.screenshot(path=str(SHOTS / "4-line-edited.png"), full_page=True)

    page.select_option("#language-form select", "zh_CN")
    page.wait_for_load_state("load")
    page.wait_for_selector("text=历史与预测")
    page.goto("/")
    page.wait_for_selector("text=返利协议")
    page.screenshot(path=str(SHOTS / "5-this-week-zh.png"), full_page=True)

    page.click("nav.tabs >> text=批准或驳回")
    page.wait_for_selector("#approve-form")
    # The edit's impact, in Chinese: 10 more units at ¥500 from SUP-A, 3.5 % rebate at tier 2.
    impact = page.locator("#decide-impact").inner_text()
    assert impact.startswith("采购额 +¥5,000.00，返利 +¥175.00，预期利润")
    page.screenshot(path=str(SHOTS / "6-approve-zh.png"), full_page=True)
    page.click("#approve-button")
    page.wait_for_selector("#orders-table")
    assert page.locator("#orders-table tbody tr").count() == 2
    page.click("#export-button")
    page.wait_for_selector("a.download")
    with page.expect_download() as downloading:
        page.locator("a.download", has_text="SUP-A").click()
    download = downloading.value
    assert download.suggested_filename.startswith("SUP-A_PO-")
    assert Path(download.path()).read_bytes() == (outbox / download.suggested_filename).read_bytes()
    page.screenshot(path=str(SHOTS / "7-orders-zh.png"), full_page=True)
