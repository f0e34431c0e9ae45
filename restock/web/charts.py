"""Server-side SVG charts for a proposal line: history with forecast band, and stock projection.

Pure presentation: frames in, SVG text out (matplotlib, Agg backend, no files). Chinese
labels need the WenQuanYi Micro Hei font (Debian `fonts-wqy-microhei`, installed by the
Makefile); without it matplotlib falls back to DejaVu Sans.
"""

from __future__ import annotations

import io
import os
import tempfile
from datetime import date, timedelta

import pandas as pd

os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "restock-mpl"))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# Debian's CJK font. Registered by path when matplotlib's cached font list predates its install
# (the cache is never rescanned, so charts would show empty boxes for Chinese labels).
CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
_KNOWN = {f.name for f in font_manager.fontManager.ttflist}
if os.path.exists(CJK_FONT) and "WenQuanYi Micro Hei" not in _KNOWN:
    font_manager.fontManager.addfont(CJK_FONT)

plt.rcParams["font.sans-serif"] = ["WenQuanYi Micro Hei", "DejaVu Sans"]
plt.rcParams["axes.unicode_minus"] = False
plt.rcParams["svg.hashsalt"] = "restock"  # stable element ids: the same data gives the same SVG


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def history_forecast_svg(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    events: pd.DataFrame,
    *,
    labels: dict[str, str],
    season: tuple[date, date] | None = None,
    order_by: date | None = None,
    week: date | None = None,
) -> str:
    """Weekly units sold, the forecast mean with its band, event markers and the season window.

    `history` has `ds`, `y`; `forecast` has `ds`, `mean`, `lo`, `hi` (daily); both are summed
    to weeks so two years stay readable. `labels` holds the translated legend texts.
    """
    fig, ax = plt.subplots(figsize=(11, 3.6), dpi=100)
    if not history.empty:
        weekly = history.set_index("ds")["y"].resample("W-SUN").sum()
        ax.plot(weekly.index, weekly.values, color="#334", linewidth=1.2, label=labels["history"])
    if not forecast.empty:
        fw = forecast.set_index("ds")[["mean", "lo", "hi"]].astype(float).resample("W-SUN").sum()
        ax.fill_between(fw.index, fw["lo"], fw["hi"], color="#3a7bd5", alpha=0.18, label=labels["band"])
        ax.plot(fw.index, fw["mean"], color="#3a7bd5", linewidth=1.6, label=labels["forecast"])
    if season is not None:
        ax.axvspan(
            pd.Timestamp(season[0]),
            pd.Timestamp(season[1]),
            color="#f5a623",
            alpha=0.12,
            label=labels["season"],
        )
    if order_by is not None:
        ax.axvline(
            pd.Timestamp(order_by), color="#d0021b", linestyle="--", linewidth=1, label=labels["order_by"]
        )
    if week is not None:
        ax.axvline(pd.Timestamp(week), color="#555", linestyle=":", linewidth=1, label=labels["week"])
    top = ax.get_ylim()[1]
    for when, name in zip(events["ds"], events["event"], strict=True):
        ax.axvline(when, color="#999", linewidth=0.5, alpha=0.6)
        ax.text(when, top, str(name), rotation=90, fontsize=6, color="#666", va="top", ha="right")
    ax.set_ylabel(labels["units_per_week"])
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize=7, ncol=3, frameon=False)
    return _svg(fig)


def stock_projection(
    start: date,
    position: int,
    daily_mean: pd.Series,
    order_units: int,
    arrival: date,
    days: int,
) -> pd.DataFrame:
    """Projected stock by day without and with the order (`ds`, `without`, `with`).

    Starts from the stored inventory position and subtracts the forecast's daily mean;
    the order adds its units on the arrival date. Negative values are expected shortfall.
    """
    dates = [start + timedelta(days=i) for i in range(days)]
    demand = [float(daily_mean.get(pd.Timestamp(d), 0.0)) for d in dates]
    without, with_order = [], []
    level = float(position)
    for d, used in zip(dates, demand, strict=True):
        level -= used
        without.append(level)
        with_order.append(level + (order_units if d >= arrival else 0))
    return pd.DataFrame({"ds": pd.to_datetime(dates), "without": without, "with": with_order})


def projection_svg(projection: pd.DataFrame, *, labels: dict[str, str]) -> str:
    """The stock projection as two lines around zero."""
    fig, ax = plt.subplots(figsize=(11, 2.4), dpi=100)
    ax.plot(projection["ds"], projection["without"], color="#d0021b", linewidth=1.2, label=labels["without"])
    ax.plot(projection["ds"], projection["with"], color="#417505", linewidth=1.6, label=labels["with"])
    ax.axhline(0, color="#333", linewidth=0.8)
    ax.set_ylabel(labels["units"])
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=7, frameon=False)
    return _svg(fig)
