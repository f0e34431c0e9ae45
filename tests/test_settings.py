"""Settings: defaults from config/restock.toml, RESTOCK_* overrides, clear errors on bad values."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kernel.errors import ConfigError
from kernel.seasons import season_window
from restock.settings import load_settings


def test_defaults_come_from_the_project_config() -> None:
    settings = load_settings()
    assert settings.timezone == "Asia/Shanghai"
    assert settings.currency == "CNY"
    assert settings.replenishment.margin_floor == pytest.approx(0.30)
    assert settings.replenishment.service_levels == {"A": 0.98, "B": 0.95, "C": 0.90}
    assert settings.seasons["winter"].prebuild_days == 45
    assert settings.resolved_database_url().endswith("/var/restock.db")


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTOCK_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv("RESTOCK_REPLENISHMENT__MARGIN_FLOOR", "0.25")
    settings = load_settings()
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.replenishment.margin_floor == pytest.approx(0.25)
    # untouched keys of the same section keep the file's values
    assert settings.replenishment.service_levels["A"] == pytest.approx(0.98)


def test_a_bad_value_names_the_key_the_value_and_what_was_expected(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[replenishment]\nmargin_floor = 1.5\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    message = str(err.value)
    assert "replenishment.margin_floor" in message
    assert "1.5" in message
    assert "less than 1" in message


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('timezone = "Mars/Olympus"', "timezone"),
        ('database_url = "mysql://x"', "database_url"),
        ('[seasons.winter]\nstart = "11-31x"\nend = "02-28"\nprebuild_days = 45', "seasons.winter.start"),
        ("[replenishment.service_levels]\nA = 1.2", "replenishment.service_levels"),
        ("[forecasting]\nquantiles = [0.9, 0.5]", "forecasting.quantiles"),
        ("unknown_key = 1", "unknown_key"),
    ],
)
def test_each_bad_setting_is_named(tmp_path: Path, toml: str, key: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml + "\n")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(config)


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_winter_runs_from_mid_november_to_the_end_of_february_across_the_year_boundary() -> None:
    winter = load_settings().seasons["winter"]
    assert season_window(winter, 2026) == (date(2026, 11, 15), date(2027, 2, 28))
    assert season_window(winter, 2027) == (date(2027, 11, 15), date(2028, 2, 29))
