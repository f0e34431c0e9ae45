"""bench/brushing: precision and recall of restock's brushing rules on the sample's planted bursts.

Run `python -m bench.brushing [--quick] [--seeds 7 8 9]`. For each seed the sample business and its
order-level file are generated (planted brushing: `obvious` rings on one IP, `subtle` drips from
mobile IPs to collection addresses, `stray` single fake orders) and the rules run on the order
lines exactly as the import stores them (keys hashed). Precision and recall are per order line and
per unit, overall and per planted kind; a burst counts as found when half its lines are flagged.
The baseline in the same run is the simplest same-IP rule alone (`ip_burst`, every other weight 0).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._common import peak_rss_gib, write_results
from forecasting import brushing as rules
from forecasting.settings import BrushingSettings
from restock.importing.orders import KeyHasher
from restock.sample_orders import build_sample_orders
from restock.samples import build_sample_business

KINDS = ("obvious", "subtle", "stray")


def rules_frame(orders: pd.DataFrame, salt: bytes = b"bench-salt-0123456789abcdef") -> pd.DataFrame:
    """The generated orders as the rules read them after import (keys hashed the importer's way)."""
    hasher = KeyHasher(salt)
    return pd.DataFrame({
        rules.ORDER_ROW: np.arange(1, len(orders) + 1),
        rules.ORDER_ID: orders["order_id"].to_numpy(),
        rules.SKU: orders["sku_code"].to_numpy(),
        rules.AT: pd.to_datetime(orders["order_time"], utc=True, format="ISO8601"),
        rules.UNITS: orders["units"].astype(int).to_numpy(),
        rules.PRICE: orders["unit_price"].astype(float).to_numpy(),
        rules.BUYER: [hasher.hash(v) for v in orders["buyer_key"]],
        rules.IP: [hasher.hash(v) for v in orders["ip"]],
        rules.ADDRESS: [hasher.hash(v, address=True) for v in orders["address_key"]],
        rules.STATUS: orders["status"].to_numpy(),
    })


def score(frame: pd.DataFrame, truth: pd.Series, flagged_rows: set[int], bursts: pd.Series) -> dict[str, Any]:
    """Precision/recall per line and per unit, recall per planted kind, and bursts found."""
    flagged = frame[rules.ORDER_ROW].isin(flagged_rows).to_numpy()
    planted = (truth != "genuine").to_numpy()
    units = frame[rules.UNITS].to_numpy()
    live = (frame[rules.STATUS] != "cancelled").to_numpy()
    tp, fp, fn = (flagged & planted).sum(), (flagged & ~planted).sum(), (~flagged & planted).sum()
    out: dict[str, Any] = {
        "planted_lines": int(planted.sum()),
        "flagged_lines": int(flagged.sum()),
        "precision": round(float(tp / max(tp + fp, 1)), 4),
        "recall": round(float(tp / max(tp + fn, 1)), 4),
        "unit_precision": round(float((units * (flagged & planted & live)).sum()
                                      / max((units * (flagged & live)).sum(), 1)), 4),
        "unit_recall": round(float((units * (flagged & planted & live)).sum()
                                   / max((units * (planted & live)).sum(), 1)), 4),
        "genuine_units_removed": int((units * (flagged & ~planted & live)).sum()),
    }
    for kind in KINDS:
        mask = (truth == kind).to_numpy()
        out[f"recall_{kind}"] = round(float((flagged & mask).sum() / max(mask.sum(), 1)), 4)
        out[f"lines_{kind}"] = int(mask.sum())
    for kind in ("obvious", "subtle"):
        ids = bursts[(truth == kind).to_numpy()]
        found = pd.Series(flagged[(truth == kind).to_numpy()]).groupby(ids.to_numpy()).mean()
        out[f"bursts_{kind}"] = int(len(found))
        out[f"bursts_{kind}_found"] = int((found >= 0.5).sum())
    return out


def burst_ids(orders: pd.DataFrame, truth: pd.Series) -> pd.Series:
    """A burst id per planted line: its kind, SKU and the run of consecutive days it belongs to."""
    day = pd.to_datetime(orders["order_time"].str[:10])
    keys = truth.astype(str) + ":" + orders["sku_code"].astype(str)
    out = pd.Series("", index=orders.index)
    for key, rows in day[truth != "genuine"].groupby(keys[truth != "genuine"]):
        ordered = rows.sort_values()
        run = (ordered.diff().dt.days.fillna(99) > 1).cumsum()
        out.loc[ordered.index] = key + ":" + run.astype(str)
    return out


def run(seeds: list[int], out_dir: Path | None = None) -> Path:
    settings = BrushingSettings()
    baseline_settings = BrushingSettings(weights={name: (1.0 if name == "ip_burst" else 0.0)
                                                  for name in rules.RULES})
    totals: dict[str, list[dict[str, Any]]] = {"restock": [], "baseline": []}
    wall = {"restock": 0.0, "baseline": 0.0}
    lines = 0
    for seed in seeds:
        business = build_sample_business(seed)
        sample = build_sample_orders(business.frames["sales"], seed)
        frame = rules_frame(sample.orders)
        bursts = burst_ids(sample.orders, sample.truth)
        lines += len(frame)
        for name, chosen in (("restock", settings), ("baseline", baseline_settings)):
            started = time.perf_counter()
            result = rules.detect_brushing(frame, chosen)
            wall[name] += time.perf_counter() - started
            totals[name].append(score(frame, sample.truth, set(result.flags[rules.ORDER_ROW]), bursts))
        print(f"seed {seed}: {len(frame):,} lines; restock {totals['restock'][-1]}", flush=True)

    def pooled(results: list[dict[str, Any]]) -> dict[str, Any]:
        keys = [k for k in results[0] if k.startswith(("planted", "flagged", "lines_", "bursts_", "genuine"))]
        summed = {k: int(sum(r[k] for r in results)) for k in keys}
        mean = {k: round(float(np.mean([r[k] for r in results])), 4)
                for k in results[0] if k not in keys}
        return {**mean, **summed}

    figures = pooled(totals["restock"])
    baseline = pooled(totals["baseline"])
    figures["wall_s"] = round(wall["restock"], 2)
    figures["lines_per_s"] = round(lines / max(wall["restock"], 1e-9))
    figures["peak_rss_gib"] = peak_rss_gib()
    figures["per_seed"] = totals["restock"]
    baseline["wall_s"] = round(wall["baseline"], 2)
    ratios = {
        "recall_vs_ip_burst_only": round(figures["recall"] / max(baseline["recall"], 1e-9), 3),
        "precision_vs_ip_burst_only": round(figures["precision"] / max(baseline["precision"], 1e-9), 3),
    }
    return write_results(
        "brushing",
        params={"seeds": seeds, "lines": lines, "settings": settings.model_dump()},
        figures=figures,
        baselines={"ip_burst_only": baseline},
        ratios=ratios,
        libraries=["numpy", "pandas", "scipy"],
        notes=["precision/recall are means over seeds; line and burst counts are summed",
               "stray = a single fake order of 1–2 units: the rules are not meant to catch it alone"],
        out_dir=out_dir,
    )


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9, 10, 11])
    parser.add_argument("--quick", action="store_true", help="one seed (smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    args = parser.parse_args(argv)
    return run([7] if args.quick else args.seeds, args.out)


if __name__ == "__main__":
    main()
