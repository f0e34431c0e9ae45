"""Languages of the web app: Babel message catalogues (en, zh_CN) and locale-aware formatting.

Catalogues are the `.po` files under `locale/`, compiled in memory on first use (no build
step). Amounts are CNY with the locale's grouping; dates and times are shown in the
configured business time zone. Reasons (codes with their stored numbers) are rendered by
`replenishment.reasons.render` with the user's catalogue and these number formats.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.core import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, parse_pattern
from babel.support import NullTranslations, Translations

from replenishment.reasons import Formats, ParamValue, Reason, ReasonCode, label, render, render_all

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}
current_language: ContextVar[str] = ContextVar("restock_language", default="en")


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of a language (English is the source language: identity)."""
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def gettext(message: str) -> str:
    """`message` in the current request's language."""
    return translations(current_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Singular or plural form of a message in the current language."""
    return translations(current_language.get()).ngettext(singular, plural, n)


def _babel_locale() -> str:
    return current_language.get()


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


@cache
def _pattern(pattern: str) -> NumberPattern:
    return parse_pattern(pattern)


def _format_number(value: float | int | Decimal, pattern: str) -> str:
    # Babel's format_decimal / format_percent with their defaults, minus parsing the locale and
    # the pattern again on every call (a page of 50 lines formats a few hundred numbers), and
    # remembered per exact value (its type and text: 1.0 and 1.00 are different keys).
    return _formatted(pattern, current_language.get(), type(value), str(value), value)


@lru_cache(maxsize=16384)
def _formatted(pattern: str, language: str, _kind: type, _text: str, value: float | int | Decimal) -> str:
    return _pattern(pattern).apply(value, _locale(language))


def money(value: Decimal | float | int | str | None, signed: bool = False) -> str:
    """An amount in CNY with the locale's grouping and two decimals: ¥1,234.50, −¥20.00
    (+¥20.00 with `signed`).

    The sign is ¥ in every language (Babel's English "CN¥" is not what a Chinese shop reads).
    """
    if value is None:
        return "—"
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    text = _format_number(abs(amount), "#,##0.00")
    return ("-¥" if amount < 0 else ("+¥" if signed and amount > 0 else "¥")) + text


def number(value: float | int | Decimal | None, digits: int = 0) -> str:
    """A grouped number with `digits` decimals."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return _format_number(value, pattern)


def percent(value: float | None, digits: int = 1) -> str:
    """A share (0.305) as a percentage in the locale (30.5%)."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return _format_number(value, pattern)


def make_datetime_formatter(zone: ZoneInfo) -> Callable[[datetime | None], str]:
    """A formatter showing instants in the business time zone with the zone's abbreviation."""

    def _format(value: datetime | None) -> str:
        if value is None:
            return "—"
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        local = value.astimezone(zone)
        return format_datetime(local, "yyyy-MM-dd HH:mm", locale=_babel_locale()) + " " + local.strftime("%Z")

    return _format


def day(value: date | None) -> str:
    """A business date as ISO-like text in the locale."""
    if value is None:
        return "—"
    return format_date(value, "yyyy-MM-dd", locale=_babel_locale())


def _reason_units(value: ParamValue) -> str:
    amount = Decimal(str(value))
    return number(amount, 0 if amount == amount.to_integral_value() else 1)


def _reason_percent(value: ParamValue) -> str:
    return percent(Decimal(str(value)) / 100, 1)  # type: ignore[arg-type]


# Reason numbers in the current language: the stored parameters, grouped per locale.
REASON_FORMATS = Formats(units=_reason_units, money=money, pct=_reason_percent)


def reason_text(stored: list[dict[str, Any]] | None, fallback: str = "") -> str:
    """A line's stored reasons (codes and parameters) in the current request's language;
    `fallback` (the words stored with the line) when it has no reason codes."""
    if not stored:
        return fallback
    return render_all([Reason.from_json(r) for r in stored], gettext, REASON_FORMATS)


def reason_label(code: str) -> str:
    """The few words naming a reason code, in the current request's language."""
    return label(code, gettext)


def exclusion_text(code: str | None, params: dict[str, Any] | None, fallback: str = "") -> str:
    """A left-out SKU's reason in the current request's language (`fallback` without a code)."""
    if not code:
        return fallback
    return render(Reason(ReasonCode(code), dict(params or {})), gettext, REASON_FORMATS)


def code_label(code: str) -> str:
    """A stored code (an edit's reason code, a state) in the current language: its translation,
    else the code's words ("promotion_plan_changed" → "promotion plan changed")."""
    translated = gettext(code)
    return translated if translated != code else code.replace("_", " ")
