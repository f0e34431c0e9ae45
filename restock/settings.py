"""restock's one validated settings object: config/restock.toml, then RESTOCK_* environment variables.

`get_settings()` builds it on first use (never at import); `--config FILE` points
`RESTOCK_CONFIG` at another file. A bad value raises `ConfigError` naming the
key, the value and what was expected.
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from forecasting.settings import CalendarSettings, ForecastingSettings, ForecastSettings
from kernel.errors import ConfigError
from kernel.seasons import SeasonSettings
from replenishment.settings import ProposalSettings, ReplenishmentSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "restock.toml"

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebSettings(_Strict):
    """The web app: cookies, sessions, login rate limit."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    secure_cookies: Literal["auto", "always", "never"] = "auto"  # auto: Secure when served over https
    session_hours: int = Field(12, ge=1, le=24 * 30)
    login_max_failures: int = Field(5, ge=1, le=100)
    login_window_minutes: int = Field(15, ge=1, le=24 * 60)


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
    web: WebSettings = Field(default_factory=WebSettings)

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

    def forecast_settings(self) -> ForecastSettings:
        """The sections a forecast run reads (`[forecasting]`, `[calendar]`, `[seasons]`)."""
        return ForecastSettings(forecasting=self.forecasting, calendar=self.calendar, seasons=self.seasons)

    def proposal_settings(self) -> ProposalSettings:
        """The sections a proposal reads (`[replenishment]`, `[seasons]`)."""
        return ProposalSettings(replenishment=self.replenishment, seasons=self.seasons)

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
