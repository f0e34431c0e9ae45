"""What a proposal reads from the configuration: `[replenishment]` and the seasons.

The shell (`restock.settings`) reads and validates the file and hands a `ProposalSettings` to the
services; nothing in replenishment reads the whole settings object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kernel.seasons import SeasonSettings


class ReplenishmentSettings(BaseModel):
    """`[replenishment]`: margin floor, review period, holding cost, budget, solver, service levels."""

    model_config = ConfigDict(extra="forbid")

    margin_floor: float = Field(0.30, ge=0.0, lt=1.0)
    review_period_days: int = Field(7, ge=1, le=90)
    holding_cost_rate_per_year: float = Field(0.25, ge=0.0, le=5.0)
    obsolescence_rate_per_year: float = Field(0.10, ge=0.0, le=5.0)
    max_cover_days: int = Field(120, ge=1, le=3650)
    budget_cny: float = Field(3_000_000, gt=0)
    solver: Literal["highs", "cbc"] = "highs"
    time_limit_s: float = Field(60, gt=0)
    mip_gap: float = Field(0.01, ge=0.0, lt=1.0)
    fixed_order_cost_cny: float = Field(0, ge=0)
    # A proposal is refused (unless --allow-stale) when an input is older than this many days
    # before its week.
    max_inventory_age_days: int = Field(7, ge=0, le=365)
    max_sales_age_days: int = Field(7, ge=0, le=365)
    max_forecast_age_days: int = Field(8, ge=0, le=365)
    service_levels: dict[str, float] = Field(default_factory=lambda: {"A": 0.98, "B": 0.95, "C": 0.90})

    @field_validator("service_levels")
    @classmethod
    def _levels(cls, value: dict[str, float]) -> dict[str, float]:
        for klass, level in value.items():
            if not 0.5 <= level < 1.0:
                raise ValueError(f"service level for class {klass} must be in [0.5, 1), got {level}")
        return value


DEFAULT_REASON_CODES = ["promotion_plan_changed", "supplier_capacity", "quality_issue", "budget", "other"]
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ApprovalSettings(BaseModel):
    """`[approval]`: the reason codes a line edit or a rejection carries (`other` needs a text)."""

    model_config = ConfigDict(extra="forbid")

    reason_codes: list[str] = Field(default_factory=lambda: list(DEFAULT_REASON_CODES))

    @field_validator("reason_codes")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not _CODE.match(code)]
        if bad:
            raise ValueError(f"reason codes are lower-case words joined by _ (≤ 40 characters), got {bad}")
        if "other" not in value:
            raise ValueError("reason_codes must include 'other' (with a text)")
        if len(set(value)) != len(value):
            raise ValueError(f"reason codes repeat: {value}")
        return value


@dataclass(frozen=True, kw_only=True)
class ProposalSettings:
    """The sections a proposal reads; `seasons` gives seasonal categories their window and pre-build."""

    replenishment: ReplenishmentSettings = field(default_factory=ReplenishmentSettings)
    seasons: Mapping[str, SeasonSettings] = field(default_factory=dict)
