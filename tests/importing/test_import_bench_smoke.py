"""The import benchmark still runs end to end at a reduced size (asserting nothing about speed)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import import_bench
from tests.conftest import require_postgres


def test_quick_import_bench_writes_results_with_the_agreed_keys(tmp_path: Path) -> None:
    require_postgres()

    json_path = import_bench.main(["--quick", "--rows", "4000", "--skus", "50", "--out", str(tmp_path)])

    result = json.loads(Path(json_path).read_text())
    assert result["bench"] == "import"
    assert {"rows_per_s_sqlite", "rows_per_s_postgres", "peak_rss_gib"} <= set(result["figures"])
    assert set(result["baselines"]) == {"pandas_read_csv", "postgres_server_side_load"}
    assert {"rows_per_s_sqlite_vs_read_csv", "rows_per_s_postgres_vs_read_csv"} <= set(result["ratios"])
    assert result["params"]["rows"] == 4000
    assert (tmp_path / "import.md").exists()
