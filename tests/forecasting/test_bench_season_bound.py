"""The season-total bound bench: its Bayes forecast is right where it must be, and it runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.season_bound import DRIFT_SD, bayes_total, main, stockouts


def _series(drift: float, level: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    days = np.arange(-730, 120)
    years = days / 365.0
    shape = 0.05 + np.exp(-0.5 * ((days % 365 - 300) / 25.0) ** 2)  # a winter peak each year
    mean = level * shape * np.exp(np.log1p(drift) * years)
    return shape, years, mean


@pytest.mark.parametrize("drift", [0.0, DRIFT_SD, -DRIFT_SD])
def test_bayes_total_recovers_a_well_measured_season(drift: float) -> None:
    shape, years, mean = _series(drift, level=400.0)
    past, future = years < 0, years >= 0
    # ~60,000 units of history (almost Poisson): the likelihood pins level and drift far more
    # tightly than the prior, so the season's expected total is recovered
    total = bayes_total(mean[past], shape[past], years[past], 1e6, shape[future], years[future])
    assert total == pytest.approx(mean[future].sum(), rel=0.01)


def test_bayes_total_shrinks_a_thinly_measured_drift_toward_none() -> None:
    shape, years, mean = _series(DRIFT_SD, level=4.0)
    past, future = years < 0, years >= 0
    # ~600 units: the drift is measured about as precisely as the prior knows it, so the
    # forecast lies between no drift (the history's average level carried) and the truth
    total = bayes_total(mean[past], shape[past], years[past], 1e6, shape[future], years[future])
    no_drift = mean[past].sum() / shape[past].sum() * shape[future].sum()
    assert no_drift < total < mean[future].sum()


def test_stockouts_censor_only_flagged_days() -> None:
    rng = np.random.default_rng(3)
    mean = np.full(400, 5.0)
    sales = rng.poisson(mean).astype(float)
    before = sales.copy()
    for _ in range(10):
        out = stockouts(rng, sales, mean)
        assert (sales[~out] == before[~out]).all() and (sales[out] <= before[out]).all()
        before = sales.copy()


def test_one_replicate_writes_the_result_keys(tmp_path: Path) -> None:
    result = json.loads(main(["--replicates", "1", "--out", str(tmp_path)]).read_text())
    for category in ("down_jackets", "swimwear", "mooncakes", "cny_gift_boxes"):
        assert f"{category}_bayes_from_history_vs_same_as_last_season" in result["ratios"]
        assert f"{category}_ratio_restock_split" in result["figures"]
        figures = result["figures"]
        assert figures[f"{category}_wape_oracle"] < figures[f"{category}_wape_same_as_last_season"]
    assert (tmp_path / "season_bound.md").exists()


@pytest.mark.parametrize("replicates", ["0", "-3"])
def test_fewer_than_one_replicate_is_refused(replicates: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--replicates", replicates])
    assert "--replicates: must be at least 1" in capsys.readouterr().err
