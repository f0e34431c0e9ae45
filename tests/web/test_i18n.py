"""The zh_CN catalogue covers every message the pages use and every reason template; money, dates
and the numbers inside reasons format per locale."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecasting.calendar import EVENT_NAMES
from replenishment import reasons
from replenishment.models import ProposalLine
from restock.settings import load_settings
from restock.web import i18n
from tests.web.conftest import csrf_from

WEB = Path(i18n.__file__).resolve().parent
LITERAL = re.compile(r"""_\(\s*(["'])(.+?)\1\s*\)""")
# Values passed through _() from data rather than written as literals.
DYNAMIC = {"viewer", "merchandiser", "admin", "optimal", "feasible", "relaxed", "fallback",
           "succeeded", "failed", "running", "retroactive", "incremental", "replenish", "prebuild",
           "in_season", "draft", "in_review", "approved", "partially_approved", "rejected", "ordered",
           "exported", "superseded", "edited", "added", "open", "received", "cancelled",
           "promotion_plan_changed", "supplier_capacity", "quality_issue", "other",
           "{supplier} drops below tier {tier_before} ({agreement}, now tier {tier_after}): "
           "{rebate} rebate for the period"}


def _used_messages() -> set[str]:
    found: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        found.update(match.group(2) for match in LITERAL.finditer(path.read_text(encoding="utf-8")))
    # calendar events on the history chart and the configured seasons' names (in reasons, line pages)
    return found | DYNAMIC | set(EVENT_NAMES) | set(load_settings().seasons) | set(reasons.LABELS.values())


def test_every_message_has_a_chinese_translation() -> None:
    with (WEB / "locale/zh_CN/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN")
    translated = {m.id for m in catalog if m.id and m.string}
    missing = sorted(_used_messages() - translated)
    assert not missing, f"add these to messages.po: {missing}"


def test_translation_and_formatting_follow_the_current_language() -> None:
    token = i18n.current_language.set("zh_CN")
    try:
        assert i18n.gettext("Proposals") == "采购建议"
        assert i18n.money(Decimal("1234567.5")) == "¥1,234,567.50"
        assert i18n.percent(0.305) == "30.5%"
    finally:
        i18n.current_language.reset(token)
    assert i18n.gettext("Proposals") == "Proposals"
    assert i18n.money(Decimal("1234567.5")) == "¥1,234,567.50"
    assert i18n.money(Decimal("-20")) == "-¥20.00"


def test_stored_codes_read_as_words_in_english_and_translated_in_chinese() -> None:
    assert i18n.code_label("promotion_plan_changed") == "promotion plan changed"
    token = i18n.current_language.set("zh_CN")
    try:
        assert i18n.code_label("promotion_plan_changed") == "促销计划变更"
    finally:
        i18n.current_language.reset(token)


def test_times_are_shown_in_the_business_zone_with_its_name() -> None:
    shown = i18n.make_datetime_formatter(ZoneInfo("Asia/Shanghai"))(datetime(2026, 8, 30, 22, 5, tzinfo=UTC))
    assert shown == "2026-08-31 06:05 CST"


PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_every_reason_template_has_a_chinese_translation_with_the_same_numbers() -> None:
    with (WEB / "locale/zh_CN/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = {m.id: m.string for m in read_po(handle, locale="zh_CN") if m.id}
    for template in reasons.TEMPLATES:
        translated = catalog.get(template)
        assert translated, f"add the reason template to messages.po: {template!r}"
        # every stored number the English sentence quotes is quoted in Chinese too, and no other
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(template)), template
        assert re.search(r"[\u4e00-\u9fff]|：|；", translated), template


def test_every_reason_code_renders_in_chinese_from_its_stored_numbers() -> None:
    zh = i18n.translations("zh_CN").gettext
    for code in reasons.ReasonCode:
        params = {name: "1234.5" for name in _names_of(code)}
        english = reasons.render(reasons.Reason(code, params))
        chinese = reasons.render(reasons.Reason(code, params), zh)
        assert chinese != english and re.search(r"[\u4e00-\u9fff]", chinese), code
        assert english.count("1,234.5") == chinese.count("1,234.5"), code


def _names_of(code: reasons.ReasonCode) -> set[str]:
    return {
        name
        for key, template in reasons._T.items()
        if key.split("+")[0] == code.value
        for name in PLACEHOLDER.findall(template)
    }


def test_a_chinese_page_shows_the_stored_reason_in_chinese(client_as, shop) -> None:  # type: ignore[no-untyped-def]
    engine, pid = shop
    mei = client_as("mei")
    token = csrf_from(mei.get(f"/proposals/{pid}").text)
    mei.post("/language", data={"csrf_token": token, "language": "zh_CN", "next": "/"})
    with Session(engine) as session:
        line = session.scalars(
            select(ProposalLine).where(ProposalLine.proposal_id == pid, ProposalLine.sku_code == "DJK-002")
        ).one()
        stored = {r["code"]: r["params"] for r in line.reasons}
    raised = stored["raised_to_tier"]
    prebuild = stored["prebuild"]
    # the words are Chinese, every number is the stored parameter (money with the locale's grouping)
    expected_raised = (
        f"由 {raised['from_units']} 提高到 {raised['to_units']}，使 {raised['agreement']} 达到第 "
        f"{raised['tier']} 档（不加这些数量为第 {raised['tier_without']} 档）；本行分摊的返利增益 "
        f"¥{Decimal(raised['rebate_share']):,.2f}"
    )
    expected_prebuild = f"冬季提前备货：须在 {prebuild['order_by']} 前下单"
    page = mei.get(f"/proposals/{pid}/lines/{line.id}")
    assert expected_raised in page.text and expected_prebuild in page.text
    assert "pre-build" not in page.text
    grid = mei.get(f"/proposals/{pid}/lines")
    assert f'title="{expected_prebuild}' in grid.text  # the sentence, and its codes in a few words
    assert "季前备货</span> · <span class=\"code\">为达到返利档而提高</span>" in grid.text
    api = mei.get(f"/api/v1/proposals/{pid}/lines/{line.id}").json()["line"]
    assert expected_raised in api["reason"] and api["reason_codes"] == ["prebuild", "raised_to_tier"]
    left_out = mei.get(f"/proposals/{pid}/left-out")
    assert "库存头寸 9 已覆盖补货目标 8.5" in left_out.text
    # English users read the same numbers in English
    mei.post("/language", data={"csrf_token": token, "language": "en", "next": "/"})
    english = mei.get(f"/proposals/{pid}/lines/{line.id}").text
    assert "so that SUP-A-2026 reaches tier 2 (tier 1 without the extra units)" in english
    assert "¥12,500.00" in english


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_numbers_are_formatted_exactly_as_babel_formats_them(language: str) -> None:
    """`money`, `number` and `percent` keep Babel's parsed locale and patterns and remember
    results per exact value: the text must stay Babel's own, for every kind of value."""
    from babel.numbers import format_decimal, format_percent

    values = [
        Decimal("1234567.891"), Decimal("1.0"), Decimal("1.00"), Decimal("-0.005"), Decimal("0.015"),
        1234.5, -0.0, 0.0, 2.675, 1e15, -98765, 0, 7, 0.30549, Decimal("99.995"),
    ]
    token = i18n.current_language.set(language)
    try:
        for _ in range(2):  # the second round is answered from the memo
            for value in values:
                for pattern in ("#,##0", "#,##0.0", "#,##0.00"):
                    expected = format_decimal(value, pattern, locale=language)
                    assert i18n._format_number(value, pattern) == expected
                for pattern in ("#,##0%", "#,##0.0%"):
                    expected = format_percent(value, pattern, locale=language)
                    assert i18n._format_number(value, pattern) == expected
    finally:
        i18n.current_language.reset(token)
