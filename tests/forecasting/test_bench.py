"""The forecast benchmark still runs (quick size): it writes every key the issue asks for."""

from __future__ import annotations

import json
from pathlib import Path

from bench.forecast import main


def test_quick_bench_writes_the_result_keys(tmp_path: Path) -> None:
    path = main(["--quick", "--out", str(tmp_path)])
    result = json.loads(path.read_text())
    assert {"mase", "wape", "q90_coverage", "wall_s_10k", "peak_rss_gib_10k"} <= set(result["figures"])
    assert result["params"]["quick"] is True
    assert {"mase", "wall_s_per_1k"} <= set(result["baselines"]["autoets"])
    assert "mase" in result["baselines"]["seasonal_naive"]
    assert {"mase_vs_seasonal_naive", "mase_vs_autoets", "wall_per_sku_vs_autoets"} <= set(result["ratios"])
    assert (tmp_path / "forecast.md").exists()
