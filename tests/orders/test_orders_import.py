"""The orders import: keys hashed (never stored raw), idempotent on order id, daily sales derived from
the orders with flagged units as fraud, and bad files refused with file:row:column and nothing written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from forecasting.models import DailySales, Order, OrderFlag
from forecasting.settings import BrushingSettings
from kernel.catalog import Sku
from kernel.errors import ImportValidationError
from restock.db import load_all_models
from restock.importing import import_path
from restock.importing.orders import import_orders
from tests.importing.dataset import BASE_FILES, SEASONS, write_files

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
HEADER = ("order_id,order_time,sku_code,units,unit_price,buyer_key,ip,address_key,channel,status,"
          "presale,deposit,deposit_time,final_payment_time\n")
RAW_IP = "203.0.113.77"
RAW_ADDRESS = "浙江省杭州市西湖区文三路 99 号"
RAW_BUYER = "buyer-alice"

# Two genuine orders on 29 Aug (one refunded), one pre-sale whose final payment is on 30 Aug, one
# cancelled order, and a ring of 8 one-unit orders from one IP by 8 buyers within 21 minutes on 30 Aug
# (Shanghai time) that the ip_burst rule flags.
GENUINE = (
    f"O-1,2026-08-29T10:00:00+08:00,DJ-001,2,580.00,{RAW_BUYER},{RAW_IP},{RAW_ADDRESS},"
    "tmall,paid,false,,,\n"
    "O-2,2026-08-29T23:30:00+08:00,DJ-001,1,599.00,buyer-bob,198.51.100.2,addr-bob,tmall,refunded,false,,,\n"
    "O-3,2026-08-20T20:00:00+08:00,DJ-002,1,899.50,buyer-carl,198.51.100.3,addr-carl,jd,paid,true,100.00,"
    "2026-08-20T20:00:00+08:00,2026-08-30T00:05:00+08:00\n"
    "O-4,2026-08-30T09:00:00+08:00,DJ-001,3,599.00,buyer-dan,198.51.100.4,addr-dan,tmall,cancelled,false,,,\n"
)
RING = "".join(
    f"R-{i},2026-08-30T14:{i * 3:02d}:00+08:00,DJ-001,1,599.00,fake-{i},192.0.2.1,addr-ring-{i},"
    "tmall,paid,false,,,\n"
    for i in range(8)
)


@pytest.fixture
def shop(engine: Engine, tmp_path: Path) -> Engine:
    base = write_files(tmp_path / "base", BASE_FILES)
    import_path(engine, base, actor="setup", now=NOW, season_names=SEASONS)
    return engine


def _write(tmp_path: Path, body: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _import(engine: Engine, path: Path):  # type: ignore[no-untyped-def]
    return import_orders(engine, path, actor="test", now=NOW, tz="Asia/Shanghai", brushing=BrushingSettings())


def _sales(engine: Engine, code: str) -> dict[date, tuple[int, Decimal, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(DailySales.date, DailySales.units, DailySales.revenue, DailySales.returned_units,
                   DailySales.fraud_units).join(Sku, Sku.id == DailySales.sku_id).where(Sku.code == code)
        ).all()
    return {day: (units, Decimal(str(revenue)).quantize(Decimal("0.01")), returned, fraud)
            for day, units, revenue, returned, fraud in rows}


def test_orders_import_derives_daily_sales_with_flagged_units_as_fraud(shop: Engine, tmp_path: Path) -> None:
    report = _import(shop, _write(tmp_path, GENUINE + RING))
    assert (report.rows, report.inserted, report.updated) == (12, 12, 0)
    assert report.demand.flagged_orders == 8 and report.demand.flagged_units == 8
    sales = _sales(shop, "DJ-001")
    # 29 Aug: 2 × 580.00 + 1 × 599.00 (refunded: still sold that day, returned)
    assert sales[date(2026, 8, 29)] == (3, Decimal("1759.00"), 1, 0)
    # 30 Aug: the cancelled order does not count; the ring's 8 units are sold but all fraud
    assert sales[date(2026, 8, 30)] == (8, Decimal("4792.00"), 0, 8)
    # the pre-sale counts on its final payment's day, not the deposit's
    dj2 = _sales(shop, "DJ-002")
    assert dj2[date(2026, 8, 30)] == (1, Decimal("899.50"), 0, 0)
    assert date(2026, 8, 20) not in dj2 or dj2[date(2026, 8, 20)][0] == 0


def test_raw_ip_address_and_buyer_are_stored_nowhere(shop: Engine, tmp_path: Path) -> None:
    _import(shop, _write(tmp_path, GENUINE + RING))
    tables = load_all_models().metadata.tables
    found = []
    with shop.connect() as conn:
        for name, table in tables.items():
            for row in conn.execute(select(table)).all():
                blob = " ".join(str(value) for value in row)
                for raw in (RAW_IP, RAW_ADDRESS, RAW_BUYER, "192.0.2.1", "fake-3"):
                    if raw in blob:
                        found.append((name, raw))
    assert found == []
    with shop.connect() as conn:
        hashes = conn.execute(select(Order.ip_hash).where(Order.order_id == "O-1")).scalar_one()
    assert len(hashes) == 32 and all(c in "0123456789abcdef" for c in hashes)


def test_the_same_address_written_differently_hashes_the_same(shop: Engine, tmp_path: Path) -> None:
    body = (
        "A-1,2026-08-29T10:00:00+08:00,DJ-001,1,599.00,b1,,ＡＢＣ  Road 1,tmall,paid,false,,,\n"
        "A-2,2026-08-29T11:00:00+08:00,DJ-001,1,599.00,b2,,abc road 1,tmall,paid,false,,,\n"
    )
    _import(shop, _write(tmp_path, body))
    with shop.connect() as conn:
        hashes = set(conn.execute(select(Order.address_hash)).scalars())
    assert len(hashes) == 1


def test_reimporting_an_order_with_a_new_status_updates_it_and_never_duplicates(
    shop: Engine, tmp_path: Path
) -> None:
    _import(shop, _write(tmp_path, GENUINE))
    again = _import(shop, _write(tmp_path, GENUINE.replace("O-1,", "O-1,", 1).replace(
        f"{RAW_ADDRESS},tmall,paid", f"{RAW_ADDRESS},tmall,refunded"), "orders-2.csv"))
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 3)
    with shop.connect() as conn:
        rows = conn.execute(select(Order.status).where(Order.order_id == "O-1")).scalars().all()
    assert rows == ["refunded"]
    assert _sales(shop, "DJ-001")[date(2026, 8, 29)] == (3, Decimal("1759.00"), 3, 0)


def test_a_repeated_import_changes_nothing(shop: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, GENUINE + RING)
    _import(shop, path)
    with shop.connect() as conn:
        flags_before = conn.execute(select(OrderFlag.order_row_id, OrderFlag.cluster)).all()
    again = _import(shop, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 12)
    with shop.connect() as conn:
        flags_after = conn.execute(select(OrderFlag.order_row_id, OrderFlag.cluster)).all()
        assert sorted(flags_after) == sorted(flags_before)
        assert conn.execute(select(text("count(*)")).select_from(Order)).scalar_one() == 12


GOOD_START = "X-1,2026-08-29T10:00:00+08:00,DJ-001,1,599.00,b,,,tmall,"
BAD_ROWS = [
    ("X-1,2026-08-29 10:00,DJ-001,1,599.00,b,,,tmall,paid,false,,,",
     "orders.csv:2:order_time: not a time with its zone"),
    ("X-1,2026-02-30T10:00:00+08:00,DJ-001,1,599.00,b,,,tmall,paid,false,,,",
     "orders.csv:2:order_time: impossible time"),
    ("X-1,2026-08-29T10:00:00+08:00,NOPE,1,599.00,b,,,tmall,paid,false,,,",
     "orders.csv:2:sku_code: unknown sku 'NOPE'"),
    ("X-1,2026-08-29T10:00:00+08:00,DJ-001,0,599.00,b,,,tmall,paid,false,,,",
     "orders.csv:2:units: must be >= 1"),
    (GOOD_START + "shipped,false,,,", "orders.csv:2:status: unknown value"),
    (GOOD_START + "paid,true,,,", "orders.csv:2:deposit: a pre-sale line needs a deposit"),
    (GOOD_START + "paid,false,10.00,,", "orders.csv:2:deposit: deposit is given but presale is false"),
    (GOOD_START + "paid,true,10,2026-08-29T10:00:00+08:00,2026-08-28T10:00:00+08:00",
     "orders.csv:2:final_payment_time: final_payment_time is before deposit_time"),
]


@pytest.mark.parametrize(("row", "problem"), BAD_ROWS)
def test_a_bad_row_is_refused_with_file_row_column_and_nothing_is_written(
    shop: Engine, tmp_path: Path, row: str, problem: str
) -> None:
    path = _write(tmp_path, row + "\n" + GENUINE)
    with pytest.raises(ImportValidationError) as refused:
        _import(shop, path)
    assert any(message.startswith(problem) for message in refused.value.problems), refused.value.problems
    with shop.connect() as conn:
        assert conn.execute(select(text("count(*)")).select_from(Order)).scalar_one() == 0


def test_a_duplicate_order_line_in_one_file_is_refused(shop: Engine, tmp_path: Path) -> None:
    line = "D-1,2026-08-29T10:00:00+08:00,DJ-001,1,599.00,b,,,tmall,paid,false,,,\n"
    with pytest.raises(ImportValidationError) as refused:
        _import(shop, _write(tmp_path, line + line))
    assert refused.value.problems[0].startswith("orders.csv:3:sku_code: duplicate key")


def test_the_forecast_reads_only_deposits_paid_by_its_as_of_date(shop: Engine, tmp_path: Path) -> None:
    from forecasting.order_services import load_deposits
    from kernel.orm import unit_of_work

    body = (
        "P-1,2026-10-25T20:00:00+08:00,DJ-001,2,599.00,b1,,,tmall,paid,true,90.00,2026-10-25T20:00:00+08:00,\n"
        "P-2,2026-11-05T09:00:00+08:00,DJ-001,5,599.00,b2,,,tmall,paid,true,90.00,2026-11-05T09:00:00+08:00,\n"
    )
    _import(shop, _write(tmp_path, body))
    with unit_of_work(shop) as session:
        early = load_deposits(session, date(2026, 11, 1))
        late = load_deposits(session, date(2026, 11, 5))
    assert early[["unique_id", "event", "units"]].values.tolist() == [["DJ-001", "double_11", 2]]
    assert sorted(late["units"].tolist()) == [2, 5]


def test_an_orders_file_in_the_inbox_is_imported_after_the_other_kinds_and_a_bad_one_fails(
    shop: Engine, tmp_path: Path
) -> None:
    from restock.inbox import OrdersOptions, import_inbox, pending_files

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _write(inbox, GENUINE + RING, name="orders-2026-08-30.csv")
    (inbox / "categories.csv").write_text("category_code,name\n", encoding="utf-8")
    assert [p.name for p in pending_files(inbox)] == ["categories.csv", "orders-2026-08-30.csv"]
    (inbox / "categories.csv").unlink()
    options = OrdersOptions(tz="Asia/Shanghai", brushing=BrushingSettings())
    [done] = import_inbox(shop, inbox, actor="scheduler", now=NOW, orders=options).files
    assert (done.kind, done.status, done.rows, done.inserted) == ("orders", "imported", 12, 12)
    report = done.report.read_text(encoding="utf-8")
    assert "12 inserted" in report and "brushing: 8 orders (8 units) flagged in 1 clusters" in report
    assert _sales(shop, "DJ-001")[date(2026, 8, 30)][3] == 8  # the ring's units counted as fraud

    with shop.connect() as conn:
        orders_before = conn.execute(select(text("count(*)")).select_from(Order)).scalar_one()
    _write(inbox, "O-9,2026-08-31T10:00:00+08:00,DJ-001,two,580.00,b,1.2.3.4,a,tmall,paid,false,,,\n")
    [refused] = import_inbox(shop, inbox, actor="scheduler", now=NOW, orders=options).files
    assert refused.status == "failed" and refused.moved_to == inbox / "failed" / "orders.csv"
    assert any(p.startswith("orders.csv:2:units:") for p in refused.problems), refused.problems
    with shop.connect() as conn:
        assert conn.execute(select(text("count(*)")).select_from(Order)).scalar_one() == orders_before
    # Without the orders options (a caller that cannot import orders) the file is refused, not lost.
    _write(inbox, GENUINE, name="orders-late.csv")
    [unhandled] = import_inbox(shop, inbox, actor="scheduler", now=NOW).files
    assert unhandled.status == "failed" and "restock orders import" in unhandled.problems[0]


def test_orders_import_and_suspicious_from_the_command_line(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from restock.db import make_engine, upgrade

    db = tmp_path / "cli.db"
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    upgrade(engine)
    base = write_files(tmp_path / "base", BASE_FILES)
    import_path(engine, base, actor="setup", now=NOW, season_names=SEASONS)
    engine.dispose()
    env = {**os.environ, "RESTOCK_DATABASE_URL": url, "COLUMNS": "200"}

    def restock(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "restock.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    imported = restock("orders", "import", str(_write(tmp_path, GENUINE + RING)))
    assert imported.returncode == 0, imported.stderr
    assert "12" in imported.stdout and "orders import: nothing refused" in imported.stdout

    listed = restock("orders", "suspicious", "--json")
    assert listed.returncode == 0, listed.stderr
    [cluster] = json.loads(listed.stdout)
    assert (cluster["orders"], cluster["units"], cluster["skus"]) == (8, 8, ["DJ-001"])
    assert set(cluster["rules"]) >= {"ip_burst"} and cluster["evidence"]

    table = restock("orders", "suspicious")
    assert table.returncode == 0, table.stderr
    assert "1 brushing clusters: 8 orders, 8 units removed from demand" in table.stdout
    assert cluster["cluster"] in table.stdout and "ip_burst" in table.stdout

    later = restock("orders", "suspicious", "--since", "2026-08-31")
    assert (later.returncode, later.stdout.strip()) == (0, "no brushing clusters since 2026-08-31")
    bad = restock("orders", "suspicious", "--since", "31/08/2026")
    assert bad.returncode != 0 and "--since" in bad.stderr and "Traceback" not in bad.stderr
