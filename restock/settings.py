"""restock's one validated settings object: config/restock.toml, then RESTOCK_* environment variables.

`get_settings()` builds it on first use (never at import); `--config FILE` points
`RESTOCK_CONFIG` at another file. A bad value raises `ConfigError` naming the
key, the value and what was expected.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from kernel.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "restock.toml"

_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeasonSettings(_Strict):
    """A selling season: fixed month-days, or offsets from a lunar festival."""

    anchor: Literal["fixed", "spring_festival", "mid_autumn"] = "fixed"
    start: str | None = Field(default=None, description="MM-DD for a fixed season")
    end: str | None = Field(default=None, description="MM-DD; may fall in the next year")
    start_offset_days: int = 0
    end_offset_days: int = 0
    prebuild_days: int = Field(ge=0, le=365)

    @field_validator("start", "end")
    @classmethod
    def _month_day(cls, value: str | None) -> str | None:
        if value is not None and not _MONTH_DAY.match(value):
            raise ValueError(f"expected MM-DD such as 11-15, got {value!r}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> SeasonSettings:
        if self.anchor == "fixed" and (self.start is None or self.end is None):
            raise ValueError("a fixed season needs both start and end (MM-DD)")
        if self.anchor != "fixed" and self.end_offset_days < self.start_offset_days:
            raise ValueError("end_offset_days must not be before start_offset_days")
        return self


class ReplenishmentSettings(_Strict):
    margin_floor: float = Field(0.30, ge=0.0, lt=1.0)
    review_period_days: int = Field(7, ge=1, le=90)
    holding_cost_rate_per_year: float = Field(0.25, ge=0.0, le=5.0)
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


class ForecastingSettings(_Strict):
    horizon_days: int = Field(182, ge=7, le=731)
    backtest_origins: int = Field(3, ge=1, le=20)
    selection_metric: Literal["mase", "wape", "rmsse"] = "mase"
    quantiles: list[float] = Field(default_factory=lambda: [0.1, 0.5, 0.8, 0.9, 0.95, 0.99])
    executor: Literal["serial", "process", "dask"] = "process"
    chunk_size: int = Field(500, ge=1)
    returns_as_demand: bool = False

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, value: list[float]) -> list[float]:
        if any(not 0 < q < 1 for q in value) or sorted(set(value)) != value:
            raise ValueError(f"quantiles must be strictly increasing in (0, 1), got {value}")
        return value


class CalendarSettings(_Strict):
    spring_festival: bool = True
    qingming: bool = True
    labour_day: bool = True
    dragon_boat: bool = True
    mid_autumn: bool = True
    national_day: bool = True
    e618: bool = True
    double_11: bool = True
    double_12: bool = True
    member_day: bool = True
    promotions: bool = True


class Settings(BaseSettings):
    """Every setting restock reads; see config/restock.toml for the defaults and their meaning."""

    model_config = SettingsConfigDict(
        env_prefix="RESTOCK_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    database_url: str = "sqlite:///var/restock.db"
    timezone: str = "Asia/Shanghai"
    currency: Literal["CNY"] = "CNY"
    replenishment: ReplenishmentSettings = Field(default_factory=ReplenishmentSettings)
    forecasting: ForecastingSettings = Field(default_factory=ForecastingSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    seasons: dict[str, SeasonSettings] = Field(default_factory=dict)
    schedules: dict[str, str] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (expected an IANA name such as Asia/Shanghai)"
            ) from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError(f"expected a sqlite:/// or postgresql+psycopg:// URL, got {value!r}")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def resolved_database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute against the project root."""
        url = self.database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(PROJECT_ROOT / url[len(prefix) :])
        if url.startswith("postgresql://"):
            return "postgresql+psycopg://" + url[len("postgresql://") :]
        return url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def season_window(season: SeasonSettings, year: int) -> tuple[date, date]:
    """Return the inclusive (start, end) business dates of the season that starts in `year`.

    A fixed season whose end month-day is before its start ends in the next year
    (winter 15 Nov → end of February). A lunar season is anchored on that year's
    festival, computed from the lunar calendar.
    """
    if season.anchor == "fixed":
        assert season.start and season.end
        start = _month_day(year, season.start)
        end = _month_day(year, season.end)
        if end < start:
            end = _month_day(year + 1, season.end)
        return start, end
    from forecasting.calendar import festival_date

    anchor = festival_date(season.anchor, year)
    return anchor + timedelta(days=season.start_offset_days), anchor + timedelta(days=season.end_offset_days)


def _month_day(year: int, month_day: str) -> date:
    month, day = (int(part) for part in month_day.split("-"))
    if month == 2 and day >= 28:
        # "end of February" follows leap years.
        return date(year, 3, 1) - timedelta(days=1)
    return date(year, month, day)


def _format_validation(exc: ValidationError, source: str) -> str:
    lines = [f"invalid settings ({source}):"]
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" = {value!r}"
        lines.append(f"  {key}{shown}: {err['msg']}")
    return "\n".join(lines)


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Read the TOML file (default config/restock.toml), apply RESTOCK_* env vars, validate.

    Environment variables win over the file; keyword overrides win over both.
    """
    path = Path(config_file or os.environ.get("RESTOCK_CONFIG") or DEFAULT_CONFIG)
    try:
        file_values = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    file_values.pop("config", None)
    try:
        from_env = Settings()  # environment only, validated
        env_set = from_env.model_dump(exclude_unset=True)
        merged = _deep_merge(_deep_merge(file_values, env_set), overrides)
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, str(path))) from exc


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings (after `--config` or an environment change; tests)."""
    get_settings.cache_clear()
