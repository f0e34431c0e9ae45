"""bench/import: generated daily sales imported into SQLite and PostgreSQL, against pandas.read_csv alone.

Run `python -m bench.import_bench [--quick] [--rows N]`. Each measured run is a
child process of its own, so its peak RSS is that run's alone; a quarter-size
run beside the full one shows whether memory stays flat as the file grows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._common import write_results

PG_URL = os.environ.get("RESTOCK_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SEED = 7
SKUS = 1_000
CATEGORIES = 10
FIRST_DAY = date(2023, 12, 1)


def generate_business(directory: Path, rows: int, skus: int, seed: int) -> Path:
    """Write categories.csv, skus.csv and a sales.csv of `rows` rows (skus × days); return sales.csv.

    Deterministic for a seed: Poisson units, price × units revenue, a few
    returns, flagged fraud and stockout days.
    """
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    days = -(-rows // skus)
    sku_codes = np.array([f"SKU-{number:05d}" for number in range(skus)])
    prices = np.round(rng.uniform(9.9, 999.0, skus), 2)
    pd.DataFrame(
        {
            "category_code": [f"cat_{n:02d}" for n in range(CATEGORIES)],
            "name": [f"品类 {n}" for n in range(CATEGORIES)],
        }
    ).to_csv(directory / "categories.csv", index=False)
    pd.DataFrame(
        {
            "sku_code": sku_codes,
            "name": [f"商品 {n}" for n in range(skus)],
            "category_code": [f"cat_{n % CATEGORIES:02d}" for n in range(skus)],
            "price": [f"{price:.2f}" for price in prices],
            "abc_class": rng.choice(["A", "B", "C"], skus),
            "status": "active",
            "launch_date": "",
        }
    ).to_csv(directory / "skus.csv", index=False)
    sku_index = np.tile(np.arange(skus), days)[:rows]
    day_index = np.repeat(np.arange(days), skus)[:rows]
    units = rng.poisson(3.0, rows)
    fraud = np.minimum(units, rng.binomial(1, 0.02, rows))
    dates = pd.date_range(FIRST_DAY, periods=days, freq="D").strftime("%Y-%m-%d").to_numpy()
    sales = pd.DataFrame(
        {
            "date": dates[day_index],
            "sku_code": sku_codes[sku_index],
            "units": units,
            "revenue": np.char.mod("%.2f", units * prices[sku_index]),
            "returned_units": rng.binomial(units, 0.05),
            "fraud_units": fraud,
            "stockout": np.where(rng.random(rows) < 0.03, "true", "false"),
        }
    )
    path = directory / "sales.csv"
    sales.to_csv(path, index=False)
    return path


def run_one(target: str, directory: Path, database: str | None) -> dict[str, Any]:
    """One measured run in this process: `read_csv` of sales.csv, or an import into `database`."""
    sales = directory / "sales.csv"
    if target == "read_csv":
        started = time.perf_counter()
        frame = pd.read_csv(sales)
        wall = time.perf_counter() - started
        rows = len(frame)
    else:
        from restock.db import make_engine, upgrade
        from restock.importing import import_path

        schema = None
        url = database or ""
        if "#" in url:
            url, schema = url.split("#", 1)
        engine = make_engine(url, schema=schema)
        upgrade(engine)
        now = datetime(2026, 11, 25, tzinfo=UTC)
        for master in ("categories.csv", "skus.csv"):
            import_path(engine, directory / master, actor="bench", now=now, season_names=())
        started = time.perf_counter()
        if target == "import":
            report = import_path(engine, sales, actor="bench", now=now, season_names=())
            rows = report.rows
            assert report.inserted == rows, report
        else:
            rows = _server_side_load(engine, sales)
        wall = time.perf_counter() - started
        engine.dispose()
    peak = _peak_rss_bytes() / 2**30
    return {
        "rows": rows,
        "wall_s": round(wall, 3),
        "rows_per_s": round(rows / wall),
        "peak_rss_gib": round(peak, 3),
    }


def _server_side_load(engine: Any, sales: Path) -> int:
    """The PostgreSQL floor: COPY the raw file into a temp table, one INSERT … SELECT … ON CONFLICT.

    No validation, no line numbers, no counts: what the database alone needs to
    take the same rows into daily_sales with its indexes and foreign key.
    """
    from sqlalchemy import text

    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TEMP TABLE raw_sales (date date, sku_code text, units int, revenue numeric, "
                "returned_units int, fraud_units int, stockout boolean) ON COMMIT DROP"
            )
        )
        raw = connection.connection.driver_connection
        with (
            sales.open("rb") as handle,
            raw.cursor() as cursor,
            cursor.copy("COPY raw_sales FROM STDIN (FORMAT csv, HEADER)") as copy,
        ):
            while block := handle.read(1 << 20):
                copy.write(block)
        return connection.execute(
            text(
                "INSERT INTO daily_sales (sku_id, date, units, revenue, returned_units, fraud_units, "
                "stockout) SELECT s.id, r.date, r.units, r.revenue, r.returned_units, r.fraud_units, "
                "r.stockout FROM raw_sales r JOIN skus s ON s.code = r.sku_code "
                "ON CONFLICT (sku_id, date) DO UPDATE SET units = excluded.units, "
                "revenue = excluded.revenue, returned_units = excluded.returned_units, "
                "fraud_units = excluded.fraud_units, stockout = excluded.stockout"
            )
        ).rowcount


def _peak_rss_bytes() -> int:
    """This process's own peak RSS (VmHWM).

    Not ru_maxrss: Linux carries that across fork + exec, so a child would report
    the parent's size at the time it was started.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _measure(target: str, directory: Path, database: str | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.import_bench", "--run-one", target, "--dir", str(directory)]
    if database:
        command += ["--database", database]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{target} run failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _postgres_schema() -> tuple[str, Any]:
    from sqlalchemy import create_engine, text

    schema = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    return schema, admin


def _drop_schema(admin: Any, schema: str) -> None:
    from sqlalchemy import text

    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def measure_size(work: Path, rows: int, skus: int, seed: int) -> dict[str, dict[str, Any]]:
    """read_csv, SQLite and PostgreSQL runs on one generated file of `rows` rows."""
    directory = work / f"rows_{rows}"
    generate_business(directory, rows, skus, seed)
    runs = {"read_csv": _measure("read_csv", directory)}
    runs["sqlite"] = _measure("import", directory, f"sqlite:///{directory / 'bench.db'}")
    for target, name in (("import", "postgres"), ("server_side_load", "postgres_server_side")):
        schema, admin = _postgres_schema()
        try:
            runs[name] = _measure(target, directory, f"{PG_URL}#{schema}")
        finally:
            _drop_schema(admin, schema)
    return runs


def main(argv: list[str] | None = None) -> Path | None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 rows: a CI smoke test")
    parser.add_argument("--rows", type=int, default=None, help="sales rows (default 1,000,000)")
    parser.add_argument("--skus", type=int, default=SKUS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    parser.add_argument(
        "--run-one", choices=["read_csv", "import", "server_side_load"], help=argparse.SUPPRESS
    )
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        print(json.dumps(run_one(args.run_one, args.dir, args.database)))
        return None

    rows = args.rows or (20_000 if args.quick else 1_000_000)
    skus = min(args.skus, 200) if args.quick else args.skus
    small_rows = rows // 4
    with tempfile.TemporaryDirectory(prefix="restock-bench-import-") as temp:
        work = Path(temp)
        small = measure_size(work, small_rows, skus, args.seed)
        full = measure_size(work, rows, skus, args.seed)

    figures = {
        "rows_per_s_sqlite": full["sqlite"]["rows_per_s"],
        "rows_per_s_postgres": full["postgres"]["rows_per_s"],
        "peak_rss_gib": max(full["sqlite"]["peak_rss_gib"], full["postgres"]["peak_rss_gib"]),
        "wall_s_sqlite": full["sqlite"]["wall_s"],
        "wall_s_postgres": full["postgres"]["wall_s"],
        "peak_rss_gib_sqlite": full["sqlite"]["peak_rss_gib"],
        "peak_rss_gib_postgres": full["postgres"]["peak_rss_gib"],
        f"peak_rss_gib_sqlite_{small_rows}_rows": small["sqlite"]["peak_rss_gib"],
        f"peak_rss_gib_postgres_{small_rows}_rows": small["postgres"]["peak_rss_gib"],
        f"rows_per_s_sqlite_{small_rows}_rows": small["sqlite"]["rows_per_s"],
        f"rows_per_s_postgres_{small_rows}_rows": small["postgres"]["rows_per_s"],
        "rss_growth_postgres_full_vs_quarter": round(
            full["postgres"]["peak_rss_gib"] / small["postgres"]["peak_rss_gib"], 3
        ),
    }
    baseline = full["read_csv"]
    server_side = full["postgres_server_side"]
    baselines = {"pandas_read_csv": baseline, "postgres_server_side_load": server_side}
    ratios = {
        "rows_per_s_sqlite_vs_read_csv": round(figures["rows_per_s_sqlite"] / baseline["rows_per_s"], 4),
        "rows_per_s_postgres_vs_read_csv": round(figures["rows_per_s_postgres"] / baseline["rows_per_s"], 4),
        "peak_rss_vs_read_csv": round(figures["peak_rss_gib"] / baseline["peak_rss_gib"], 3),
        "rows_per_s_postgres_vs_server_side_load": round(
            figures["rows_per_s_postgres"] / server_side["rows_per_s"], 4
        ),
    }
    return write_results(
        "import",
        params={
            "rows": rows,
            "skus": skus,
            "days": -(-rows // skus),
            "seed": args.seed,
            "quarter_rows": small_rows,
            "chunk_rows": _chunk_rows(),
            "quick": args.quick,
        },
        figures=figures,
        baselines=baselines,
        ratios=ratios,
        libraries=["pandas", "sqlalchemy", "psycopg", "numpy"],
        notes=[
            "Times cover import_path of sales.csv alone (validation, staging, duplicate and reference "
            "checks, upsert, audit) into a freshly migrated database holding its SKUs; PostgreSQL "
            "stages through COPY. Every row is new here, so the whole-file duplicate-key and "
            "SKU-reference scans are answered by the upsert's outcome (all rows inserted fresh) "
            "instead of being run; a re-import runs them.",
            "Each run is a separate child process; peak RSS is that process's own maximum "
            "resident set (VmHWM).",
            "Baseline: pandas.read_csv of the same file, default options, in its own process.",
            "Baseline postgres_server_side_load: the database's own floor for the same rows (COPY of "
            "the raw file into a temp table, one INSERT … SELECT … ON CONFLICT into daily_sales, "
            "no validation); the import can at best approach it.",
        ],
        out_dir=args.out,
    )


def _chunk_rows() -> int:
    from restock.importing.service import CHUNK_ROWS

    return CHUNK_ROWS


if __name__ == "__main__":
    main()
