"""The sample-business generator: byte-identical per seed, and the committed sample tells its story."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from lunardate import LunarDate

from restock.samples import FILE_ORDER, generate

COMMITTED = Path(__file__).resolve().parent.parent / "data" / "samples"


def _digests(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*.csv"))
    }


@pytest.fixture(scope="module")
def seed_7(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed7")
    generate(7, out)
    return out


@pytest.fixture(scope="module")
def sample() -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(COMMITTED / f"{name}.csv", keep_default_na=False) for name in FILE_ORDER}


def test_generate_writes_every_contract_file_and_reports_its_rows(tmp_path: Path) -> None:
    rows = generate(3, tmp_path)
    assert list(rows) == [f"{name}.csv" for name in FILE_ORDER] + ["orders/orders.csv"]
    for name, count in rows.items():
        lines = (tmp_path / name).read_bytes().split(b"\n")
        assert lines[-1] == b"" and len(lines) - 2 == count  # header + rows + final newline
        assert b"\r" not in (tmp_path / name).read_bytes()


def test_same_seed_gives_byte_identical_csvs(seed_7: Path, tmp_path: Path) -> None:
    generate(7, tmp_path)
    assert _digests(tmp_path) == _digests(seed_7)


def test_another_seed_gives_another_business(seed_7: Path, tmp_path: Path) -> None:
    generate(8, tmp_path)
    assert (tmp_path / "sales.csv").read_bytes() != (seed_7 / "sales.csv").read_bytes()


def test_committed_sample_is_what_seed_7_generates(seed_7: Path) -> None:
    assert _digests(COMMITTED) == _digests(seed_7)


def test_committed_sample_stays_under_20_mb() -> None:
    assert sum(path.stat().st_size for path in COMMITTED.rglob("*.csv")) < 20 * 1024 * 1024


def test_sales_run_three_years_and_end_on_sunday_30_august_2026(sample: dict[str, pd.DataFrame]) -> None:
    days = pd.to_datetime(sample["sales"]["date"])
    assert days.max() == pd.Timestamp("2026-08-30") and days.max().day_name() == "Sunday"
    assert days.min() == pd.Timestamp("2023-08-31")


def test_catalogue_has_at_least_150_skus_in_8_categories_with_abc_shares(
    sample: dict[str, pd.DataFrame],
) -> None:
    skus = sample["skus"]
    assert len(skus) >= 150 and skus["category_code"].nunique() >= 8
    shares = skus["abc_class"].value_counts(normalize=True)
    assert shares["A"] == pytest.approx(0.2, abs=0.02) and shares["C"] == pytest.approx(0.5, abs=0.02)
    seasons = dict(zip(sample["categories"]["category_code"], sample["categories"]["season"], strict=True))
    assert seasons["down_jackets"] == "winter" and seasons["mooncakes"] == "mid_autumn"
    assert seasons["cny_gift_boxes"] == "spring_festival" and seasons["swimwear"] == "summer"


def test_every_sku_has_a_gapless_daily_history_from_launch(sample: dict[str, pd.DataFrame]) -> None:
    sales = sample["sales"].assign(date=lambda frame: pd.to_datetime(frame["date"]))
    span = sales.groupby("sku_code")["date"].agg(["min", "max", "count"])
    assert ((span["max"] - span["min"]).dt.days + 1 == span["count"]).all()
    launches = sample["skus"].set_index("sku_code")["launch_date"].map(pd.Timestamp)
    assert (span["min"] >= launches[span.index]).all()
    recent = launches[launches >= pd.Timestamp("2026-06-01")]
    assert len(recent) >= 3 and (span.loc[recent.index, "min"] == recent).all()


def test_flagged_units_never_exceed_ordered_units(sample: dict[str, pd.DataFrame]) -> None:
    sales = sample["sales"]
    assert (sales["fraud_units"] <= sales["units"]).all() and (sales["units"] >= 0).all()
    assert (sales.groupby("sku_code")["fraud_units"].sum() >= 50).sum() >= 3  # brushing bursts


def test_stockouts_censor_sales(sample: dict[str, pd.DataFrame]) -> None:
    sales = sample["sales"]
    stockout = sales["stockout"].astype(str).str.lower() == "true"
    selling = ~stockout & (sales["units"] > 0)
    assert sales.loc[stockout, "sku_code"].nunique() >= 20
    assert sales.loc[stockout, "units"].mean() < 0.5 * sales.loc[selling, "units"].mean()


def test_apparel_is_returned_far_more_often_than_food(sample: dict[str, pd.DataFrame]) -> None:
    sales = sample["sales"].merge(sample["skus"][["sku_code", "category_code"]], on="sku_code")
    totals = sales.groupby("category_code")[["returned_units", "units"]].sum()
    rate = totals["returned_units"] / totals["units"]
    assert 0.15 <= rate["down_jackets"] <= 0.25 and 0.15 <= rate["swimwear"] <= 0.25
    assert rate["mooncakes"] < 0.02


def test_spare_parts_sell_on_few_days(sample: dict[str, pd.DataFrame]) -> None:
    sales = sample["sales"]
    parts = sales[sales["sku_code"].str.startswith("SPP-")]
    assert (parts["units"] == 0).mean() > 0.85


def test_mooncakes_peak_in_the_weeks_before_each_lunar_mid_autumn(sample: dict[str, pd.DataFrame]) -> None:
    sales = sample["sales"]
    mooncakes = sales[sales["sku_code"].str.startswith("MCK-")].groupby("date")["units"].sum()
    mooncakes.index = pd.to_datetime(mooncakes.index)
    for year in (2024, 2025):
        festival = pd.Timestamp(LunarDate(year, 8, 15).to_solar_date())
        season = mooncakes[festival - timedelta(days=50): festival + timedelta(days=30)]
        assert festival - timedelta(days=21) <= season.idxmax() < festival


def test_double_11_outsells_an_ordinary_november_day(sample: dict[str, pd.DataFrame]) -> None:
    daily = sample["sales"].groupby("date")["units"].sum()
    assert daily["2025-11-11"] > 2 * daily["2025-11-04"]
    assert daily["2025-06-18"] > 1.5 * daily["2025-06-04"]


def test_suppliers_lead_times_span_7_to_60_days_and_some_skus_have_two(
    sample: dict[str, pd.DataFrame],
) -> None:
    items = sample["supplier_items"]
    assert len(sample["suppliers"]) >= 5
    assert items["lead_time_days"].min() == 7 and items["lead_time_days"].max() == 60
    assert items["lead_time_days"].between(7, 60).all()
    assert (items["sku_code"].value_counts() == 2).sum() >= 10
    jackets = items[items["sku_code"].str.startswith("DJK-") & (items["supplier_code"] == "SUP-A")]
    assert (jackets["lead_time_days"] == 30).all() and jackets["case_pack"].between(10, 20).all()


def test_down_jacket_agreement_sits_100k_below_its_retroactive_3_5_percent_tier(
    sample: dict[str, pd.DataFrame],
) -> None:
    agreement = sample["rebate_agreements"].set_index("agreement_code").loc["AGR-2026-SUP-A"]
    tiers = sample["rebate_tiers"].query("agreement_code == 'AGR-2026-SUP-A'")
    assert agreement["kind"] == "retroactive" and agreement["purchases_as_of"] == "2026-08-30"
    assert float(agreement["purchases_to_date"]) == 1_900_000
    assert list(tiers["threshold"]) == [1_000_000, 2_000_000] and list(tiers["rate"]) == [0.02, 0.035]
    assert len(sample["rebate_agreements"]) >= 2


def test_some_jackets_clear_the_30_percent_floor_only_at_tier_two(sample: dict[str, pd.DataFrame]) -> None:
    prices = sample["skus"].set_index("sku_code")["price"]
    costs = sample["supplier_items"].query("supplier_code == 'SUP-A'").set_index("sku_code")["unit_cost"]
    for code in ("DJK-003", "DJK-007", "DJK-011"):
        price, cost = prices[code], costs[code]
        assert (price - cost * (1 - 0.02)) / price < 0.30 <= (price - cost * (1 - 0.035)) / price
    price, cost = prices["DJK-015"], costs["DJK-015"]
    assert (price - cost * (1 - 0.035)) / price < 0.30


def test_most_skus_keep_a_comfortable_margin(sample: dict[str, pd.DataFrame]) -> None:
    items = sample["supplier_items"].merge(sample["skus"][["sku_code", "price"]], on="sku_code")
    margin = 1 - items["unit_cost"] / items["price"]
    assert (margin >= 0.35).mean() > 0.85


def test_jackets_are_low_before_the_season_and_pre_build_pos_arrive_in_september(
    sample: dict[str, pd.DataFrame],
) -> None:
    stock = sample["inventory"]
    assert set(stock["sku_code"]) == set(sample["skus"]["sku_code"])
    assert (stock["date"] == "2026-08-30").all()
    old_jackets = stock[stock["sku_code"].str.startswith("DJK-") & (stock["sku_code"] < "DJK-019")]
    assert old_jackets["on_hand"].max() <= 15
    orders = sample["open_purchase_orders"]
    assert (orders["order_date"] < "2026-08-30").all()
    assert (orders["expected_date"] >= orders["order_date"]).all()
    jackets = orders[orders["supplier_code"] == "SUP-A"]
    assert (jackets["expected_date"].str.startswith("2026-09")).all()
    assert (jackets["units"] * jackets["unit_cost"]).sum() < 1_900_000  # they are in purchases_to_date


def test_promotions_name_known_categories_and_skus(sample: dict[str, pd.DataFrame]) -> None:
    promotions = sample["promotions"]
    categories = set(sample["categories"]["category_code"]) | {""}
    skus = set(sample["skus"]["sku_code"]) | {""}
    assert set(promotions["category_code"]) <= categories and set(promotions["sku_code"]) <= skus
    assert {"threshold_discount", "pre_sale", "gift"} <= set(promotions["kind"])
    assert (promotions["end_date"] > "2026-08-30").any()  # planned promotions the forecast must see
    assert date.fromisoformat(promotions["start_date"].min()) <= date(2023, 9, 30)
