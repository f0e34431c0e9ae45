"""The zh_CN catalogue covers every message the pages use, and money/dates format per locale."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po

from restock.web import i18n

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
    return found | DYNAMIC


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


def test_times_are_shown_in_the_business_zone_with_its_name() -> None:
    shown = i18n.make_datetime_formatter(ZoneInfo("Asia/Shanghai"))(datetime(2026, 8, 30, 22, 5, tzinfo=UTC))
    assert shown == "2026-08-31 06:05 CST"
