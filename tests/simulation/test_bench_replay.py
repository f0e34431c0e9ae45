"""The replay benchmark still runs end to end (`--quick`); its figures are not asserted."""

from __future__ import annotations

import json
from pathlib import Path

from bench import replay


def test_quick_replay_bench_writes_every_required_key(tmp_path: Path) -> None:
    path = replay.main(["--quick", "--jobs", "1", "--out", str(tmp_path)])
    result = json.loads(path.read_text())
    assert result["params"]["quick"] is True
    assert {
        "wall_s",
        "cpu_s",
        "forecast_and_inputs_s",
        "policies_s",
        "peak_rss_gib",
        "restock_window_forecast",
        "policy",
    } <= set(result["figures"])
    assert set(result["figures"]["policy"]) == set(result["params"]["policies"])
    refit = result["baselines"]["refit_cost_first_weeks"]
    assert refit["weeks"] == 1
    assert {"weekly_refit", "refit_every_4_weeks_weekly_level"} <= set(refit)
    assert result["params"]["refit_weeks"] == refit["replay_refit_weeks"] == 1
    assert len(result["params"]["load_average_at_start"]) == 3
    assert "restock_gp_vs_best_simple" in result["ratios"]
    assert (tmp_path / "replay.md").exists()
