"""A replay's comparison for people and scripts: terminal tables, CSV, JSON and PNG plots.

Tables keep to 80 columns: metrics down the side, one 9-character column per
policy, money in thousands of CNY (the CSV and JSON keep every fen).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from kernel.csvsafe import SafeWriter
from kernel.jsonable import to_jsonable
from simulation.metrics import TOTAL, policy_metrics, totals
from simulation.policies import POLICIES
from simulation.replay import ReplayResult, yuan

# (metric column, row label, format) for the terminal.
SUMMARY_ROWS = (
    ("fill_rate", "fill rate", "pct"),
    ("stockout_days", "stockout SKU-days", "int"),
    ("lost_sales_value", "lost sales ¥k", "k"),
    ("avg_inventory_value", "avg inventory ¥k", "k"),
    ("inventory_turns", "turns / year", "f1"),
    ("leftover_units", "leftover units", "int"),
    ("leftover_value", "leftover ¥k (cost)", "k"),
    ("purchase_cost", "purchases ¥k", "k"),
    ("rebate_earned", "rebate ¥k", "k"),
    ("gross_margin", "gross margin ¥k", "k"),
    ("gross_margin_pct", "gross margin %", "f1"),
    ("gross_profit_after_rebate", "GP after rebate ¥k", "k"),
    ("holding_cost", "holding cost ¥k", "k"),
)


def _cell(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if kind == "pct":
        return f"{float(value):.1%}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "k":
        return f"{Decimal(value) / 1000:,.0f}"
    return f"{float(value):,.1f}"


def _label(policy: str) -> str:
    return POLICIES[policy].label if policy in POLICIES else policy[:9]


def _table(title: str) -> Table:
    # no vertical rules, one space between columns: six policies and the labels fit 80 columns
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0, 0, 0),
    )


def summary_table(result: ReplayResult, metrics: pd.DataFrame | None = None) -> Table:
    """Metrics (rows) × policies (columns) for the whole shop."""
    metrics = policy_metrics(result) if metrics is None else metrics
    policies = list(result.runs)
    rows = totals(metrics, policies)
    table = _table(f"replay {result.config.start} … {result.config.end} ({len(result.config.weeks())} weeks)")
    table.add_column("metric", no_wrap=True)
    for policy in policies:
        table.add_column(_label(policy), justify="right", no_wrap=True, min_width=9)
    for column, label, kind in SUMMARY_ROWS:
        table.add_row(label, *(_cell(rows.at[p, column], kind) for p in policies))
    return table


def category_table(
    result: ReplayResult, column: str, kind: str, title: str, metrics: pd.DataFrame | None = None
) -> Table:
    """One metric by category (rows) × policy (columns)."""
    metrics = policy_metrics(result) if metrics is None else metrics
    policies = list(result.runs)
    wide = metrics.pivot(index="category", columns="policy", values=column)
    table = _table(title)
    table.add_column("category", no_wrap=True)
    for policy in policies:
        table.add_column(_label(policy), justify="right", no_wrap=True, min_width=9)
    order = [c for c in wide.index if c != TOTAL] + [TOTAL]
    for category in order:
        table.add_row(category[:18], *(_cell(wide.at[category, p], kind) for p in policies))
    return table


def verdict(result: ReplayResult, metrics: pd.DataFrame | None = None) -> list[str]:
    """Sentences comparing restock with the best simple rule and the bound, from the figures."""
    metrics = policy_metrics(result) if metrics is None else metrics
    rows = totals(metrics)
    lines = []
    simple = [p for p in ("min_max", "seasonal_naive_out") if p in rows.index]
    if "restock" in rows.index and simple:
        best = max(simple, key=lambda p: rows.at[p, "gross_profit_after_rebate"])
        gp, gp_best = (
            rows.at["restock", "gross_profit_after_rebate"],
            rows.at[best, "gross_profit_after_rebate"],
        )
        fill, fill_best = rows.at["restock", "fill_rate"], rows.at[best, "fill_rate"]
        diff = gp - gp_best
        lines.append(
            f"restock vs best simple rule ({best}): GP after rebate ¥{gp:,} vs ¥{gp_best:,} "
            f"({'+' if diff >= 0 else '−'}¥{abs(diff):,}, {diff / gp_best:+.1%}); fill rate "
            f"{fill:.1%} vs {fill_best:.1%} — "
            + (
                "restock earns more at an equal or better fill rate"
                if diff > 0 and fill >= fill_best
                else "restock does NOT earn more at an equal or better fill rate"
            )
        )
    if "restock" in rows.index and "perfect_foresight" in rows.index:
        bound = rows.at["perfect_foresight", "gross_profit_after_rebate"]
        gp = rows.at["restock", "gross_profit_after_rebate"]
        if bound > 0:
            lines.append(
                f"perfect-foresight bound: ¥{bound:,}; restock reaches {gp / bound:.1%} of it "
                f"(¥{bound - gp:,} left)"
            )
    return lines


def print_tables(result: ReplayResult, console: Console) -> None:
    """The comparison in the terminal: whole shop, GP and fill rate by category, the verdict."""
    metrics = policy_metrics(result)
    console.print(summary_table(result, metrics))
    console.print(
        category_table(result, "gross_profit_after_rebate", "k", "GP after rebate ¥k by category", metrics)
    )
    console.print(category_table(result, "fill_rate", "pct", "fill rate by category", metrics))
    for line in verdict(result, metrics):
        console.print(line, highlight=False)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """`frame` as UTF-8 CSV through the kernel's formula-safe writer (dates ISO, Decimal as written)."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = SafeWriter(stream)
        writer.writerow(frame.columns)
        for row in frame.itertuples(index=False):
            writer.writerow(to_jsonable(value) for value in row)


def write_outputs(result: ReplayResult, out_dir: Path, sku: str | None = None) -> list[Path]:
    """metrics.csv, weekly.csv, orders.csv, replay.json and three PNG plots in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = policy_metrics(result)
    written = []
    path = out_dir / "metrics.csv"
    write_csv(metrics, path)
    written.append(path)
    weekly = pd.concat([run.weekly for run in result.runs.values()], ignore_index=True)
    money = [
        c
        for c in weekly.columns
        if c.endswith(("value", "cogs", "cost", "proceeds", "revenue", "days"))
        and c not in ("stockout_days",)
    ]
    for column in money:
        if column == "inventory_value_days":
            continue
        weekly[column] = [yuan(int(v)) for v in weekly[column]]
    weekly = weekly.drop(columns=["inventory_value_days"])
    path = out_dir / "weekly.csv"
    write_csv(weekly, path)
    written.append(path)
    orders = pd.DataFrame(
        [
            {
                "policy": o.policy,
                "placed": o.placed,
                "arrival": o.arrival,
                "sku": o.sku,
                "supplier": o.supplier,
                "units": o.units,
                "unit_cost": o.unit_cost,
                "value": yuan(o.value),
                "agreement": o.agreement or "",
            }
            for run in result.runs.values()
            for o in run.orders
        ]
    )
    path = out_dir / "orders.csv"
    write_csv(orders, path)
    written.append(path)
    path = out_dir / "replay.json"
    document = {
        "from": result.config.start.isoformat(),
        "to": result.config.end.isoformat(),
        "weeks": len(result.config.weeks()),
        "policies": list(result.runs),
        "refit_weeks": result.config.refit_weeks,
        "metrics": [{k: to_jsonable(v) for k, v in row.items()} for row in metrics.to_dict("records")],
        "agreements": [
            {
                "policy": name,
                "agreement": p.spec.code,
                "period_start": p.start.isoformat(),
                "period_end": p.end.isoformat(),
                "purchases_before": str(yuan(p.base)),
                "purchases": str(yuan(p.purchases)),
                "rebate": str(yuan(p.rebate())),
            }
            for name, run in result.runs.items()
            for p in run.periods
        ],
        "verdict": verdict(result, metrics),
    }
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)
    written.extend(write_plots(result, metrics, out_dir, sku))
    return written


def default_plot_sku(result: ReplayResult) -> str:
    """The SKU with the most demand value in the replay (what a merchandiser looks at first)."""
    run = next(iter(result.runs.values()))
    demand = run.weekly.groupby("sku")["demand_units"].sum()
    return str(demand.idxmax())


def write_plots(result: ReplayResult, metrics: pd.DataFrame, out_dir: Path, sku: str | None) -> list[Path]:
    """inventory_<SKU>.png, gross_profit.png, fill_vs_inventory.png (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    plt.rcParams.update({"svg.hashsalt": "restock", "figure.dpi": 100})
    sku = sku or default_plot_sku(result)
    first = next(iter(result.runs.values()))
    if sku not in first.daily_on_hand:
        raise ValueError(f"--sku: {sku!r} is not in the replay")
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for name, run in result.runs.items():
        ax.step(result.days, run.daily_on_hand[sku], where="post", label=_label(name), linewidth=1.2)
    ax.set_title(f"{sku}: units on hand at the end of each day")
    ax.set_ylabel("units")
    ax.legend(loc="upper right", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    path = out_dir / f"inventory_{sku}.png"
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    paths.append(path)

    rows = totals(metrics, list(result.runs))
    labels = [_label(p) for p in rows.index]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    values = [float(v) / 1e6 for v in rows["gross_profit_after_rebate"]]
    bars = ax.bar(labels, values, color="#4C72B0")
    ax.bar_label(bars, labels=[f"{v:,.2f}" for v in values], fontsize=8)
    ax.set_ylabel("gross profit after rebate, million CNY")
    ax.set_title("gross profit after rebate by policy")
    fig.tight_layout()
    path = out_dir / "gross_profit.png"
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    paths.append(path)

    fig, ax = plt.subplots(figsize=(7, 5))
    for policy, row in rows.iterrows():
        x, y = float(row["avg_inventory_value"]) / 1e6, float(row["fill_rate"] or 0)
        ax.scatter([x], [y], s=40)
        ax.annotate(_label(str(policy)), (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel("average inventory at cost, million CNY")
    ax.set_ylabel("fill rate (units)")
    ax.set_title("fill rate against average inventory")
    fig.tight_layout()
    path = out_dir / "fill_vs_inventory.png"
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    paths.append(path)
    return paths
