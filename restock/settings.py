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

from forecasting.settings import BrushingSettings, CalendarSettings, ForecastingSettings, ForecastSettings
from kernel.errors import ConfigError
from kernel.seasons import SeasonSettings
from replenishment.settings import ApprovalSettings, ProposalSettings, ReplenishmentSettings
from suppliers.settings import ExportSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "restock.toml"

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SchedulerSettings(_Strict):
    """How `restock scheduler` runs jobs: inbox, grace for missed runs, lock lease, retries."""

    inbox_dir: str = Field("var/inbox", description="CSV files dropped here are imported nightly")
    misfire_grace_s: int = Field(6 * 3600, ge=1, description="a run missed by more than this is skipped")
    lease_s: int = Field(60, ge=5, description="a lock whose heartbeat (lease/4) stops is free after this")
    retry_attempts: int = Field(4, ge=1, le=20, description="tries of a job on transient database errors")
    retry_max_wait_s: float = Field(30.0, ge=0, description="longest backoff between tries")


class BackupSettings(_Strict):
    """Where backups go and how many are kept."""

    dir: str = "var/backups"
    mirror_dir: str | None = Field(None, description="second directory (off-site mount) for a verified copy")
    keep_daily: int = Field(7, ge=1, le=3650)
    keep_weekly: int = Field(4, ge=0, le=520)
    pg_dump: str = "pg_dump"
    pg_restore: str = "pg_restore"


class AuditSettings(_Strict):
    """Who the CLI records as the actor when --user is not given (empty: the OS user)."""

    user: str = ""


class ImportingSettings(_Strict):
    """How imports judge their input."""

    # Days after the import's business date a history row (sale, stock, PO order date) may carry.
    future_tolerance_days: int = Field(default=0, ge=0, le=366)


class WebSettings(_Strict):
    """The web app: cookies, sessions, login rate limit."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    secure_cookies: Literal["auto", "always", "never"] = "auto"  # auto: Secure when served over https
    session_hours: int = Field(12, ge=1, le=24 * 30)
    login_max_failures: int = Field(5, ge=1, le=100)
    login_window_minutes: int = Field(15, ge=1, le=24 * 60)
    # The JSON API's response cache, per worker process (0 entries: off); see restock.web.cache.
    response_cache_entries: int = Field(2000, ge=0, le=1_000_000)
    response_cache_mib: float = Field(64.0, ge=0, le=65536)


class Settings(BaseSettings):
    """Every setting restock reads; see config/restock.toml for the defaults and their meaning."""

    model_config = SettingsConfigDict(
        env_prefix="RESTOCK_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    database_url: str = "sqlite:///var/restock.db"
    timezone: str = "Asia/Shanghai"
    currency: Literal["CNY"] = "CNY"
    # How long a job (import, forecast, propose) waits for another of its kind before giving up.
    lock_wait_s: float = Field(default=600.0, ge=0)
    replenishment: ReplenishmentSettings = Field(default_factory=ReplenishmentSettings)
    forecasting: ForecastingSettings = Field(default_factory=ForecastingSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    brushing: BrushingSettings = Field(default_factory=BrushingSettings)
    importing: ImportingSettings = Field(default_factory=ImportingSettings)
    seasons: dict[str, SeasonSettings] = Field(default_factory=dict)
    schedules: dict[str, str] = Field(default_factory=dict)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)

    @field_validator("schedules")
    @classmethod
    def _cron(cls, value: dict[str, str]) -> dict[str, str]:
        from apscheduler.triggers.cron import CronTrigger

        for job, expression in value.items():
            try:
                CronTrigger.from_crontab(expression)
            except ValueError as exc:
                raise ValueError(
                    f"schedules.{job}: expected a cron expression such as '0 2 * * *', "
                    f"got {expression!r} ({exc})"
                ) from exc
        return value
    approval: ApprovalSettings = Field(default_factory=ApprovalSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
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

    def project_path(self, value: str) -> Path:
        """A configured path; a relative one is taken from the project root."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else PROJECT_ROOT / path

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
        relative = not url.startswith(prefix + "/") and not url.startswith(prefix + "file:/")
        if url.startswith(prefix) and relative and ":memory:" not in url:
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
