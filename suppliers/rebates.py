"""Volume-rebate tier math: which tier a period total reaches and the rebate it earns (pure, CNY).

Retroactive tiers pay the reached tier's rate on every purchase of the period;
incremental tiers pay each tier's rate only on the part of the total inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kernel.errors import InvalidInput

RETROACTIVE = "retroactive"
INCREMENTAL = "incremental"
AGREEMENT_KINDS = (RETROACTIVE, INCREMENTAL)


@dataclass(frozen=True)
class Tier:
    """Tier `tier` (1, 2, ...) pays `rate` (0.035 = 3.5 %) once period purchases reach `threshold` CNY."""

    tier: int
    threshold: Decimal
    rate: Decimal


def validate_tiers(tiers: Sequence[Tier], agreement: str) -> None:
    """Raise `InvalidInput` naming the agreement and field unless tiers are numbered 1..n with
    strictly increasing thresholds and strictly increasing rates in (0, 1)."""
    if not tiers:
        raise InvalidInput(f"agreement {agreement}: tiers: an agreement needs at least one tier")
    for position, tier in enumerate(tiers, start=1):
        if tier.tier != position:
            raise InvalidInput(
                f"agreement {agreement}: tier: tiers must be numbered 1..{len(tiers)} in order, "
                f"found tier {tier.tier} at position {position}"
            )
        if tier.threshold <= 0:
            raise InvalidInput(
                f"agreement {agreement}: tier {tier.tier} threshold: must be > 0, got {tier.threshold}"
            )
        if not Decimal(0) < tier.rate < Decimal(1):
            raise InvalidInput(
                f"agreement {agreement}: tier {tier.tier} rate: must be in (0, 1), got {tier.rate}"
            )
    for lower, upper in zip(tiers, tiers[1:], strict=False):
        if upper.threshold <= lower.threshold:
            raise InvalidInput(
                f"agreement {agreement}: tier {upper.tier} threshold: tiers overlap or are unordered "
                f"({upper.threshold} is not above tier {lower.tier}'s {lower.threshold})"
            )
        if upper.rate <= lower.rate:
            raise InvalidInput(
                f"agreement {agreement}: tier {upper.tier} rate: a higher tier must pay more "
                f"({upper.rate} is not above tier {lower.tier}'s {lower.rate})"
            )


def tier_reached(period_total: Decimal, tiers: Sequence[Tier]) -> int:
    """The highest tier number whose threshold `period_total` (CNY) reaches; 0 when none."""
    reached = 0
    for tier in tiers:
        if period_total >= tier.threshold:
            reached = tier.tier
    return reached


def rate_reached(period_total: Decimal, tiers: Sequence[Tier]) -> Decimal:
    """The rate of the tier reached (0 when none)."""
    reached = tier_reached(period_total, tiers)
    return tiers[reached - 1].rate if reached else Decimal(0)


def rebate_earned(period_total: Decimal, tiers: Sequence[Tier], kind: str = RETROACTIVE) -> Decimal:
    """The rebate (CNY) a period total earns.

    Retroactive: rate of the tier reached × the whole total (docs/design-notes.md: 2 % × ¥1.98M
    = ¥39,600; 3.5 % × ¥2.0M = ¥70,000). Incremental: each tier's rate × the part of the
    total between its threshold and the next one.
    """
    if kind == RETROACTIVE:
        return rate_reached(period_total, tiers) * period_total
    if kind != INCREMENTAL:
        raise InvalidInput(f"agreement kind: expected one of {AGREEMENT_KINDS}, got {kind!r}")
    earned = Decimal(0)
    for index, tier in enumerate(tiers):
        upper = tiers[index + 1].threshold if index + 1 < len(tiers) else None
        if period_total <= tier.threshold:
            break
        top = period_total if upper is None else min(period_total, upper)
        earned += tier.rate * (top - tier.threshold)
    return earned


def rebate_of_purchase(
    purchases_before: Decimal, purchase: Decimal, tiers: Sequence[Tier], kind: str = RETROACTIVE
) -> Decimal:
    """The extra rebate (CNY) a purchase earns on top of what `purchases_before` already earned;
    under retroactive tiers this includes the uplift on earlier purchases of the period."""
    return rebate_earned(purchases_before + purchase, tiers, kind) - rebate_earned(
        purchases_before, tiers, kind
    )


def cumulative_rebate_at_thresholds(tiers: Sequence[Tier], kind: str) -> list[Decimal]:
    """Rebate earned exactly at each tier's threshold (used to linearise incremental tiers)."""
    return [rebate_earned(tier.threshold, tiers, kind) for tier in tiers]
