"""The proposal benchmark still runs end to end (`--quick`); its figures are not asserted."""

from __future__ import annotations

import json
from pathlib import Path

from bench import propose


def test_quick_benchmark_writes_every_required_key(tmp_path: Path) -> None:
    path = propose.main(["--quick", "--out", str(tmp_path)])
    result = json.loads(path.read_text())
    assert result["bench"] == "propose"
    for key in ("build_s", "solve_s", "gap", "peak_rss_gib", "expected_profit", "fill_rate", "rebate_gain"):
        assert key in result["figures"]
    for key in ("small_instances", "small_match_share", "small_proven_optimal_share"):
        assert key in result["figures"]
    assert {"expected_profit", "fill_rate"} <= set(result["baselines"]["order_up_to"])
    assert "profit_vs_order_up_to" in result["ratios"]
    assert (tmp_path / "propose.md").exists()
