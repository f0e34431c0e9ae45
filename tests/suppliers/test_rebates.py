"""Tier math: the worked example of docs/design-notes.md, incremental tiers, and refused tier tables."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kernel.errors import InvalidInput
from suppliers.rebates import (
    Tier,
    rebate_earned,
    rebate_of_purchase,
    tier_reached,
    validate_tiers,
)

SUPPLIER_A = (Tier(1, D("1000000"), D("0.02")), Tier(2, D("2000000"), D("0.035")))


def test_product_worked_example_retroactive_tiers() -> None:
    assert tier_reached(D("1980000"), SUPPLIER_A) == 1
    assert rebate_earned(D("1980000"), SUPPLIER_A) == D("39600")
    assert rebate_earned(D("2000000"), SUPPLIER_A) == D("70000")
    # the extra ¥20,000 of goods earns ¥30,400 more rebate
    extra = rebate_of_purchase(D("1900000"), D("100000"), SUPPLIER_A) - rebate_of_purchase(
        D("1900000"), D("80000"), SUPPLIER_A
    )
    assert extra == D("30400")


def test_below_the_first_tier_earns_nothing() -> None:
    assert tier_reached(D("999999.99"), SUPPLIER_A) == 0
    assert rebate_earned(D("999999.99"), SUPPLIER_A) == 0


def test_incremental_tiers_pay_each_rate_on_its_band_only() -> None:
    # 2 % on 1.0M..2.0M = 20,000, then 3.5 % on 0.5M above 2.0M = 17,500
    assert rebate_earned(D("2500000"), SUPPLIER_A, "incremental") == D("37500.000")
    assert rebate_earned(D("1500000"), SUPPLIER_A, "incremental") == D("10000.00")


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        (
            (Tier(1, D("2000000"), D("0.02")), Tier(2, D("1000000"), D("0.035"))),
            "tier 2 threshold: tiers overlap or are unordered",
        ),
        ((Tier(1, D("1000000"), D("0.02")), Tier(2, D("1000000"), D("0.035"))), "tier 2 threshold"),
        ((Tier(1, D("1000000"), D("0.04")), Tier(2, D("2000000"), D("0.035"))), "tier 2 rate"),
        ((Tier(2, D("1000000"), D("0.02")),), "tier: tiers must be numbered"),
        ((Tier(1, D("0"), D("0.02")),), "tier 1 threshold: must be > 0"),
        ((), "at least one tier"),
    ],
)
def test_bad_tier_tables_are_refused_naming_the_agreement_and_field(tiers, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=f"agreement A-2026: .*{message}"):
        validate_tiers(tiers, "A-2026")


def test_a_valid_table_passes() -> None:
    validate_tiers(SUPPLIER_A, "A-2026")
