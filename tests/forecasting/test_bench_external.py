"""The external accuracy bench still runs (quick size) and scores what it says on the held-out split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.forecast_external import EXTERNAL, load_splits, main, mase_scales

needs_data = pytest.mark.skipif(not (EXTERNAL / "meta.csv").exists(),
                                reason=f"external data sets not at {EXTERNAL}")


@needs_data
def test_quick_external_bench_writes_per_set_keys(tmp_path: Path) -> None:
    path = main(["--quick", "--sets", "tuna,tourism", "--out", str(tmp_path)])
    result = json.loads(path.read_text())
    for name in ("tuna", "tourism"):
        assert {f"{name}_mase", f"{name}_wape", f"{name}_q90_coverage", f"{name}_q50_coverage"} <= set(
            result["figures"])
        assert {f"{name}_mase_vs_autoets", f"{name}_mase_vs_best_baseline"} <= set(result["ratios"])
        for baseline in ("SeasonalNaive", "Naive", "AutoETS", "AutoTheta", "CrostonSBA"):
            assert f"{name}_mase" in result["baselines"][baseline]
    assert "## Per set" in (tmp_path / "forecast_external.md").read_text()


@needs_data
def test_the_split_holds_out_the_last_h_of_every_series() -> None:
    splits = load_splits(EXTERNAL, "tourism", limit=4)
    assert {s.freq for s in splits} == {"MS", "QS"}
    for split in splits:
        assert split.test.groupby("unique_id").size().eq(split.h).all()
        last_train = split.train.groupby("unique_id")["ds"].max()
        first_test = split.test.groupby("unique_id")["ds"].min()
        assert (last_train < first_test.reindex(last_train.index)).all()


def test_mase_scale_is_the_in_sample_seasonal_naive_error() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0] * 3 + [5.0, 6.0, 7.0, 8.0])
    train = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2001-01-01", periods=16, freq="QS"), "y": y})
    assert mase_scales(train, 4)["a"] == pytest.approx(4 * 4 / 12)


@needs_data
def test_parts_run_in_processes_score_the_same_as_in_one() -> None:
    from bench.forecast_external import evaluate_all

    alone = evaluate_all(["tuna"], EXTERNAL, 2, jobs=1)[0]
    pooled = evaluate_all(["tuna"], EXTERNAL, 2, jobs=2)[0]
    assert pooled["mase"] == alone["mase"] and pooled["coverage"] == alone["coverage"]
    assert pooled["models"] == alone["models"]
