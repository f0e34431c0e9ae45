"""The sample's order-level file adds up to its daily sales, carries pre-sales before 618 and Double 11,
and the benchmarks that measure the brushing rules and the deposit signal on it still run (quick size)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from restock.sample_orders import ORDER_CATEGORIES

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "orders" / "orders.csv", keep_default_na=False, dtype=str)


def test_orders_add_up_to_the_daily_sales_of_their_skus(orders: pd.DataFrame) -> None:
    sales = pd.read_csv(SAMPLES / "sales.csv", keep_default_na=False, dtype=str)
    sales = sales[sales["sku_code"].str[:3].isin(ORDER_CATEGORIES)]
    live = orders[orders["status"] != "cancelled"]
    sale_day = live["final_payment_time"].where(live["presale"] == "true", live["order_time"]).str[:10]
    lines = live.assign(day=sale_day, units=live["units"].astype(int))
    summed = lines.groupby(["sku_code", "day"])["units"].sum()
    recorded = sales.assign(units=sales["units"].astype(int)).set_index(["sku_code", "date"])["units"]
    recorded = recorded[recorded > 0]
    assert summed.sort_index().to_dict() == recorded.sort_index().to_dict()


def test_pre_sale_deposits_are_paid_before_the_event_and_paid_off_on_its_day(orders: pd.DataFrame) -> None:
    presale = orders[orders["presale"] == "true"]
    paid_off = presale[presale["final_payment_time"] != ""]
    assert set(paid_off["final_payment_time"].str[5:10]) == {"06-18", "11-11"}
    assert (presale["deposit_time"] < presale["final_payment_time"].where(
        presale["final_payment_time"] != "", "9999")).all()
    assert set(presale.loc[presale["final_payment_time"] == "", "status"]) == {"cancelled"}
    double_11 = paid_off["final_payment_time"].str[5:10] == "11-11"
    years = set(paid_off.loc[double_11, "final_payment_time"].str[:4])
    assert years == {"2023", "2024", "2025"}


def test_quick_brushing_bench_writes_precision_and_recall(tmp_path: Path) -> None:
    from bench import brushing

    result = json.loads(brushing.main(["--quick", "--out", str(tmp_path)]).read_text())
    for key in ("precision", "recall", "recall_obvious", "recall_subtle", "recall_stray"):
        assert 0.0 <= result["figures"][key] <= 1.0
    assert result["figures"]["planted_lines"] > 0
    assert "ip_burst_only" in result["baselines"]


def test_quick_presale_bench_writes_errors_with_and_without_deposits(tmp_path: Path) -> None:
    from bench import presale

    result = json.loads(presale.main(["--quick", "--out", str(tmp_path)]).read_text())
    assert {"wape_d7", "total_abs_pct_error_d7"} <= set(result["figures"])
    assert {"wape_d7", "total_abs_pct_error_d7"} <= set(result["baselines"]["engine_without_deposits"])
    assert "wape_d7_with_vs_without" in result["ratios"]
