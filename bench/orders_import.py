"""bench/orders_import: a generated orders.csv imported (hashing, upsert, brushing rules, derived sales).

Run `python -m bench.orders_import [--quick] [--rows N]`. The file is imported into SQLite at full
size and at a quarter of it, each in a child process of its own so its peak RSS is that run's alone:
memory that stays flat while the file grows fourfold shows the import streams. Both files have the
same orders per day (the quarter file spans a year, the full one four): the brushing rules judge a
few weeks of orders at a time, so what an import may hold is one such window, whatever the file's
length. The baseline in the same run is `pandas.read_csv` of the quarter-size file alone (what
holding it in memory costs). 1,000 SKUs, with buyers, IPs and addresses drawn like the sample's
genuine orders; nothing is planted (this measures speed and memory, not accuracy).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._common import write_results
from bench.import_bench import _peak_rss_bytes

SEED = 7
SKUS = 1_000
LAST_DAY = date(2026, 8, 31)
DAYS = 365  # the quarter-size file's span; the full file spans 4 times as many days
BLOCK = 1_000_000


def generate(directory: Path, rows: int, seed: int = SEED, days: int = DAYS) -> Path:
    """categories.csv, skus.csv and an orders.csv of `rows` order lines over the `days` days ending
    on LAST_DAY; returns orders.csv."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    codes = np.array([f"SKU-{n:05d}" for n in range(SKUS)])
    prices = np.round(rng.uniform(9.9, 999.0, SKUS), 2)
    pd.DataFrame({"category_code": ["cat_00"], "name": ["品类"]}).to_csv(directory / "categories.csv",
                                                                       index=False)
    pd.DataFrame({"sku_code": codes, "name": [f"商品 {n}" for n in range(SKUS)], "category_code": "cat_00",
                  "price": [f"{p:.2f}" for p in prices], "abc_class": "B", "status": "active"}
                 ).to_csv(directory / "skus.csv", index=False)
    path = directory / "orders.csv"
    start = np.datetime64(LAST_DAY - timedelta(days=days - 1), "s")
    buyers = max(rows // 3, 1)
    with path.open("w", encoding="utf-8", newline="") as handle:
        for offset in range(0, rows, BLOCK):
            n = min(BLOCK, rows - offset)
            seconds = np.sort(rng.integers(0, days * 86400, n))
            times = pd.Series(start + seconds.astype("timedelta64[s]")).dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
            sku = rng.integers(0, SKUS, n)
            who = rng.integers(0, buyers, n)
            frame = pd.DataFrame({
                "order_id": [f"B{offset + k:010d}" for k in range(n)],
                "order_time": times,
                "sku_code": codes[sku],
                "units": rng.choice([1, 1, 1, 2, 3], n),
                "unit_price": np.char.mod("%.2f", prices[sku]),
                "buyer_key": np.char.add("u", who.astype(str)),
                "ip": [f"10.{a}.{b}.{c}" for a, b, c in rng.integers(0, 250, (n, 3))],
                "address_key": np.char.add("addr-", (who * 7919 % 1_000_003).astype(str)),
                "channel": "tmall",
                "status": np.where(rng.random(n) < 0.05, "refunded", "paid"),
                "presale": "false",
                "deposit": "",
                "deposit_time": "",
                "final_payment_time": "",
            })
            frame.to_csv(handle, index=False, header=offset == 0, lineterminator="\n")
    return path


def run_one(target: str, directory: Path, database: str) -> dict[str, Any]:
    """One measured run in this process: `read_csv` of orders.csv, or its import into `database`."""
    orders = directory / "orders.csv"
    if target == "read_csv":
        started = time.perf_counter()
        rows = len(pd.read_csv(orders, dtype=str, keep_default_na=False))
        wall = time.perf_counter() - started
        extra: dict[str, Any] = {}
    else:
        from forecasting.settings import BrushingSettings
        from restock.db import make_engine, upgrade
        from restock.importing import import_path
        from restock.importing.orders import import_orders

        engine = make_engine(database)
        upgrade(engine)
        now = datetime(2026, 11, 25, tzinfo=UTC)
        for master in ("categories.csv", "skus.csv"):
            import_path(engine, directory / master, actor="bench", now=now, season_names=())
        started = time.perf_counter()
        report = import_orders(engine, orders, actor="bench", now=now, tz="Asia/Shanghai",
                               brushing=BrushingSettings())
        wall = time.perf_counter() - started
        rows = report.rows
        assert report.inserted == rows, report
        extra = {"flagged_orders": report.demand.flagged_orders, "sales_rows": report.demand.sales_rows}
        engine.dispose()
    return {"rows": rows, "wall_s": round(wall, 3), "rows_per_s": round(rows / wall),
            "peak_rss_gib": round(_peak_rss_bytes() / 2**30, 3), **extra}


def _measure(target: str, directory: Path, database: str = "") -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.orders_import", "--run-one", target, "--dir", str(directory),
               "--database", database]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{target} run failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> Path | None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 rows (smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    parser.add_argument("--run-one", choices=["import", "read_csv"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--database", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        print(json.dumps(run_one(args.run_one, args.dir, args.database)))
        return None
    rows = 20_000 if args.quick else args.rows
    quarter = rows // 4
    with tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        generate(root / "full", rows, days=4 * DAYS)
        generate(root / "quarter", quarter, days=DAYS)
        generate_s = time.perf_counter() - started
        full = _measure("import", root / "full", f"sqlite:///{root / 'full.db'}")
        print(f"full: {full}", flush=True)
        small = _measure("import", root / "quarter", f"sqlite:///{root / 'quarter.db'}")
        print(f"quarter: {small}", flush=True)
        baseline = _measure("read_csv", root / "quarter")
        size_gib = (root / "full" / "orders.csv").stat().st_size / 2**30
    figures = {
        "rows": full["rows"], "file_gib": round(size_gib, 3),
        "wall_s_sqlite": full["wall_s"], "rows_per_s_sqlite": full["rows_per_s"],
        "peak_rss_gib": full["peak_rss_gib"],
        f"peak_rss_gib_sqlite_{quarter}_rows": small["peak_rss_gib"],
        f"rows_per_s_sqlite_{quarter}_rows": small["rows_per_s"],
        "rss_growth_full_vs_quarter": round(full["peak_rss_gib"] / max(small["peak_rss_gib"], 1e-9), 3),
        "flagged_orders": full["flagged_orders"], "derived_sales_rows": full["sales_rows"],
        "generate_s": round(generate_s, 1),
    }
    return write_results(
        "orders_import",
        params={"rows": rows, "quarter_rows": quarter, "skus": SKUS, "days_full": 4 * DAYS,
                "days_quarter": DAYS, "last_day": LAST_DAY.isoformat(), "seed": SEED,
                "quick": args.quick},
        figures=figures,
        baselines={f"read_csv_{quarter}_rows": baseline},
        ratios={"peak_rss_vs_read_csv_quarter": round(
            full["peak_rss_gib"] / max(baseline["peak_rss_gib"], 1e-9), 3)},
        libraries=["pandas", "pyarrow", "sqlalchemy"],
        notes=["each measured run is a child process; peak RSS is its VmHWM",
               "the import includes hashing, staging, the upsert, the brushing rules (blocks of twice the "
               "rules' context, each with its context either side) and the derived daily sales, in one "
               "transaction"],
        out_dir=args.out,
    )


if __name__ == "__main__":
    main()
