"""The sample's order-level file: every order line behind the daily sales of a few categories, with
planted brushing and pre-sale deposits before 618 and Double 11.

Built from the sample's sales table, so the orders add up to it: each SKU-day's genuine units become
orders of real-looking buyers (home and mobile IPs, home and office addresses), its `fraud_units`
become planted brushing orders, and on 618 and Double 11 part of the genuine units arrive as
pre-sale orders whose deposits were paid over the weeks before (opening surge, plateau, last-days
rush). Planted brushing comes in three kinds, kept in `truth` for the bench:

- `obvious`: a ring on one IP shipping to one or two addresses, orders minutes apart;
- `subtle`: a drip over the day from mobile IPs to a handful of collection addresses;
- `stray`: a single fake order (one or two units), often refunded, sometimes at a token price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

ORDER_CATEGORIES = ("HTX", "KIT")  # home textiles, kitchenware (SKU code prefixes)
RETURN_RATE = {"HTX": 0.08, "KIT": 0.04}
ORDER_COLUMNS = ["order_id", "order_time", "sku_code", "units", "unit_price", "buyer_key", "ip",
                 "address_key", "channel", "status", "presale", "deposit", "deposit_time",
                 "final_payment_time"]
# Pre-sale windows: deposits open this many days before the event and close the day before.
PRESALE_OPEN_DAYS = {"double_11": 18, "e618": 17}
EVENT_DAYS = {"double_11": (11, 11), "e618": (6, 18)}
# Shoppers order in the morning and (most) in the evening; event days start at midnight.
_HOUR_WEIGHTS = np.array([3, 2, 1, .5, .3, .3, .5, 1, 2, 3, 4, 4, 4, 3.5, 3, 3, 3, 3, 3.5, 4.5, 6, 7, 6.5, 5])
_EVENT_HOUR_WEIGHTS = _HOUR_WEIGHTS.copy()
_EVENT_HOUR_WEIGHTS[:2] = (30, 15)
_N_BUYERS = 40_000
_OFFICES = 4  # office addresses colleagues ship to (a precision hazard for shared_address)
_OFFICE_IPS = 3  # corporate NAT addresses many buyers order from (a hazard for ip_burst)


@dataclass
class SampleOrders:
    """The orders file's rows and, per row, the planted truth (`genuine`, `obvious`, `subtle`, `stray`)."""

    orders: pd.DataFrame
    truth: pd.Series


def event_dates(first: date, last: date) -> list[tuple[str, date]]:
    """618 and Double 11 anchors between two dates (fixed days of the platform calendar)."""
    out = []
    for year in range(first.year, last.year + 1):
        for name, (month, day) in EVENT_DAYS.items():
            anchor = date(year, month, day)
            if first <= anchor <= last:
                out.append((name, anchor))
    return sorted(out, key=lambda item: item[1])


class _Population:
    """Buyers with a home IP and address; some share an address (families) or an office."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        ids = np.arange(_N_BUYERS)
        self.buyer = np.array([f"u{n:06d}" for n in rng.permutation(10**6)[:_N_BUYERS]])
        self.home_ip = _ips(rng, _N_BUYERS, home=True)
        homes = np.array([f"addr-{n:08x}" for n in rng.integers(0, 2**32, _N_BUYERS)])
        family = rng.random(_N_BUYERS) < 0.04
        homes[family] = homes[rng.integers(0, _N_BUYERS, int(family.sum()))]
        self.home = homes
        self.office = np.where(rng.random(_N_BUYERS) < 0.03, rng.integers(0, _OFFICES, _N_BUYERS), -1)
        self.office_ip = np.where(rng.random(_N_BUYERS) < 0.02, rng.integers(0, _OFFICE_IPS, _N_BUYERS), -1)
        # a few loyal customers buy often, most rarely (Zipf-like)
        weights = 1.0 / (ids + 50.0)
        self.p = weights / weights.sum()

    def draw(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(buyer keys, IPs, addresses) of `n` genuine orders."""
        rng = self.rng
        who = rng.choice(_N_BUYERS, size=n, p=self.p)
        ips = self.home_ip[who].astype(object)
        mobile = rng.random(n) < 0.45
        ips[mobile] = _ips(rng, int(mobile.sum()), home=False)
        at_office = (self.office_ip[who] >= 0) & (rng.random(n) < 0.5)
        ips[at_office] = [f"100.64.{k}.1" for k in self.office_ip[who][at_office]]
        addresses = self.home[who].astype(object)
        to_office = (self.office[who] >= 0) & (rng.random(n) < 0.5)
        addresses[to_office] = [f"office-{k}" for k in self.office[who][to_office]]
        return self.buyer[who], ips, addresses


def _ips(rng: np.random.Generator, n: int, home: bool) -> np.ndarray:
    parts = rng.integers(0, 256, size=(n, 4))
    first = parts[:, 0] % 222 + 1 if home else np.full(n, 10)
    return np.array([f"{a}.{b}.{c}.{d % 254 + 1}" for a, (_, b, c, d) in zip(first, parts, strict=True)],
                    dtype=object)


def _ip(rng: np.random.Generator, home: bool) -> str:
    return str(_ips(rng, 1, home)[0])


def _seconds_of_day(rng: np.random.Generator, n: int, event: np.ndarray | bool = False) -> np.ndarray:
    """Seconds after midnight of `n` orders; `event` (per order or for all) uses the midnight rush."""
    event = np.broadcast_to(np.asarray(event, dtype=bool), (n,))
    usual = rng.choice(24, size=n, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    rush = rng.choice(24, size=n, p=_EVENT_HOUR_WEIGHTS / _EVENT_HOUR_WEIGHTS.sum())
    return np.where(event, rush, usual) * 3600 + rng.integers(0, 3600, size=n)


def _times(rng: np.random.Generator, day: date, n: int, event: bool = False) -> list[pd.Timestamp]:
    start = pd.Timestamp(day)
    return [start + pd.Timedelta(seconds=int(s)) for s in _seconds_of_day(rng, n, event)]


def _deposit_days(rng: np.random.Generator, n: int, open_days: int) -> np.ndarray:
    """Days before the event each deposit is paid: a surge when deposits open, a plateau, a last rush."""
    kind = rng.choice(3, size=n, p=[0.30, 0.45, 0.25])
    opening = rng.integers(open_days - 1, open_days + 1, size=n)
    plateau = rng.integers(4, open_days - 1, size=n)
    rush = rng.integers(1, 4, size=n)
    return np.where(kind == 0, opening, np.where(kind == 1, plateau, rush))


def build_sample_orders(sales: pd.DataFrame, seed: int, prefixes: tuple[str, ...] = ORDER_CATEGORIES
                        ) -> SampleOrders:
    """Order lines adding up to `sales` (the sample's daily sales) for SKUs whose code starts with a prefix.

    Per SKU-day: genuine units (units − fraud_units) become orders of one or more units by the
    buyer population (refunded at the category's return rate); fraud units become planted
    brushing; on 618 and Double 11 a share of the genuine units (35–60 %, per category and year)
    arrive as pre-sale orders, plus about 8 % more deposits that are never paid off (cancelled).
    """
    rng = np.random.default_rng([seed, 17])
    population = _Population(rng)
    part = sales[sales["sku_code"].str[:3].isin(prefixes)].copy()
    part = part.sort_values(["date", "sku_code"], kind="stable").reset_index(drop=True)
    part["day"] = pd.to_datetime(part["date"]).dt.date
    fen = np.array([int(round(float(r) * 100)) for r in part["revenue"]], dtype=np.int64)
    units = part["units"].to_numpy(dtype=np.int64)
    part["unit_fen"] = np.where(units > 0, fen // np.maximum(units, 1), 0)
    first, last = part["day"].min(), part["day"].max()
    events = {anchor: name for name, anchor in event_dates(first, last)}
    presale_share = {(anchor, prefix): float(rng.uniform(0.35, 0.60))
                     for anchor in events for prefix in prefixes}
    rows: list[tuple] = []
    truth: list[str] = []

    def add(day: date, at: pd.Timestamp, sku: str, units: int, fen_price: int, buyer: str, ip: str | None,
            address: str | None, status: str, kind: str, presale: tuple | None = None) -> None:
        deposit = deposit_at = final_at = ""
        if presale is not None:
            deposit, deposit_at, final_at = presale
        rows.append((f"{at:%Y-%m-%dT%H:%M:%S}+08:00", sku, units, _money(fen_price), buyer, ip or "",
                     address or "", "tmall" if rng.random() < 0.7 else "jd", status,
                     "true" if presale is not None else "false", deposit, deposit_at, final_at))
        truth.append(kind)

    genuine = (part["units"] - part["fraud_units"]).to_numpy(dtype=np.int64)
    spot = genuine.copy()
    for index in np.flatnonzero(part["day"].isin(events).to_numpy() & (genuine > 0)):
        row = part.iloc[index]
        presale_units = int(rng.binomial(genuine[index], presale_share[(row["day"], row["sku_code"][:3])]))
        _presale_orders(add, rng, population, row["day"], events[row["day"]], row["sku_code"], presale_units,
                        int(row["unit_fen"]))
        spot[index] -= presale_units
    bursts = _burst_kinds(part, rng)
    for index in np.flatnonzero(part["fraud_units"].to_numpy() > 0):
        row = part.iloc[index]
        kind = bursts.get((row["sku_code"], row["day"]), "stray")
        _planted(add, rng, row["day"], row["sku_code"], int(row["fraud_units"]), int(row["unit_fen"]), kind)
    planted = pd.DataFrame(rows, columns=ORDER_COLUMNS[1:])
    regular = _spot_orders(rng, population, part, spot, set(events))
    frame = pd.concat([regular, planted], ignore_index=True)
    kinds = np.concatenate([np.full(len(regular), "genuine", dtype=object), np.asarray(truth, dtype=object)])
    order = np.lexsort((frame["sku_code"].to_numpy(), frame["order_time"].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "order_id", [f"T{t[:4]}{t[5:7]}{t[8:10]}{k:07d}"
                                 for k, t in enumerate(frame["order_time"], start=1)])
    return SampleOrders(frame, pd.Series(kinds[order], name="truth"))


def _money(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _spot_orders(rng: np.random.Generator, population: _Population, part: pd.DataFrame, spot: np.ndarray,
                 event_days: set[date]) -> pd.DataFrame:
    """The genuine orders bought on the day (not pre-sale), all SKU-days at once.

    Each unit starts a new order with probability 0.87 (else it joins the previous one), so
    orders hold 1.15 units on average.
    """
    row_of_unit = np.repeat(np.arange(len(part)), spot)
    starts = rng.random(len(row_of_unit)) < 0.87
    starts[np.r_[0, np.flatnonzero(np.diff(row_of_unit)) + 1] if len(row_of_unit) else []] = True
    order_of_unit = np.cumsum(starts) - 1
    n = int(order_of_unit[-1]) + 1 if len(order_of_unit) else 0
    rows = row_of_unit[starts]
    sizes = np.bincount(order_of_unit, minlength=n)
    buyers, ips, addresses = population.draw(n)
    days = pd.to_datetime(part["date"]).to_numpy()[rows]
    is_event = part["day"].isin(event_days).to_numpy()[rows]
    at = pd.Series(days + _seconds_of_day(rng, n, is_event).astype("timedelta64[s]"))
    prefix = part["sku_code"].str[:3].to_numpy()[rows]
    rate = np.array([RETURN_RATE.get(p, 0.05) for p in prefix])
    refunded = rng.random(n) < rate
    return pd.DataFrame({
        "order_time": at.dt.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
        "sku_code": part["sku_code"].to_numpy()[rows],
        "units": sizes,
        "unit_price": [_money(int(f)) for f in part["unit_fen"].to_numpy()[rows]],
        "buyer_key": buyers,
        "ip": ips,
        "address_key": addresses,
        "channel": np.where(rng.random(n) < 0.7, "tmall", "jd"),
        "status": np.where(refunded, "refunded", "paid"),
        "presale": "false",
        "deposit": "",
        "deposit_time": "",
        "final_payment_time": "",
    })


def _order_sizes(rng: np.random.Generator, units: int) -> list[int]:
    sizes = []
    while units > 0:
        size = min(units, int(rng.choice([1, 2, 3], p=[0.85, 0.12, 0.03])))
        sizes.append(size)
        units -= size
    return sizes


def _burst_kinds(part: pd.DataFrame, rng: np.random.Generator) -> dict[tuple[str, date], str]:
    """Runs of consecutive days with 3+ fraud units on one SKU are bursts: each obvious or subtle."""
    kinds: dict[tuple[str, date], str] = {}
    heavy = part[part["fraud_units"] >= 3].sort_values(["sku_code", "day"])
    for sku, days in heavy.groupby("sku_code", sort=True)["day"]:
        runs: list[list[date]] = []
        for day in days:
            if runs and (day - runs[-1][-1]).days == 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        for run in runs:
            kind = "obvious" if rng.random() < 0.5 else "subtle"
            kinds.update({(str(sku), d): kind for d in run})
    return kinds


def _planted(add, rng: np.random.Generator, day: date, sku: str,  # type: ignore[no-untyped-def]
             units: int, price: int, kind: str) -> None:
    ring = f"{sku}-{day:%Y%m}"
    if kind == "obvious":
        ip = f"{rng.integers(1, 223)}.{rng.integers(0, 256)}.7.{rng.integers(1, 255)}"
        addresses = [f"drop-{ring}-{k}" for k in range(int(rng.integers(1, 3)))]
        start = pd.Timestamp(day) + pd.Timedelta(hours=int(rng.integers(9, 22)))
        at = start
        for k in range(units):
            at = at + pd.Timedelta(seconds=int(rng.integers(60, 300)))
            status = "refunded" if rng.random() < 0.4 else "paid"
            add(day, at, sku, 1, price, f"f{rng.integers(0, 10**7):07d}", ip, addresses[k % len(addresses)],
                status, "obvious")
    elif kind == "subtle":
        addresses = [f"locker-{ring}-{k}" for k in range(int(rng.integers(4, 9)))]
        times = sorted(pd.Timestamp(day) + pd.Timedelta(minutes=int(m))
                       for m in rng.integers(8 * 60, 23 * 60, size=units))
        for k in range(units):
            status = "refunded" if rng.random() < 0.3 else "paid"
            add(day, times[k], sku, 1, price, f"f{rng.integers(0, 10**7):07d}", _ip(rng, home=False),
                addresses[int(rng.integers(0, len(addresses)))], status, "subtle")
    else:
        left = units
        while left > 0:
            size = min(left, int(rng.integers(1, 3)))
            token = rng.random() < 0.4
            paid = max(1, int(price * 0.25)) if token else price
            status = "refunded" if rng.random() < 0.6 else "paid"
            add(day, _times(rng, day, 1)[0], sku, size, paid, f"f{rng.integers(0, 10**7):07d}",
                _ip(rng, home=False), f"addr-{rng.integers(0, 2**32):08x}", status, "stray")
            left -= size


def _presale_orders(add, rng: np.random.Generator, population: _Population, day: date,  # type: ignore[no-untyped-def]
                    event: str, sku: str, units: int, price: int) -> None:
    """Pre-sale orders whose units are sold on the event day, plus deposits never paid off."""
    open_days = PRESALE_OPEN_DAYS[event]
    sizes = _order_sizes(rng, units)
    forfeited = int(rng.binomial(max(len(sizes), 1), 0.08)) if sizes else 0
    all_sizes = sizes + [1] * forfeited
    if not all_sizes:
        return
    buyers, ips, addresses = population.draw(len(all_sizes))
    before = _deposit_days(rng, len(all_sizes), open_days)
    deposit_fen = int(round(price * 0.15 / 100.0)) * 100 or 100
    deposit = f"{deposit_fen // 100}.00"
    for k, size in enumerate(all_sizes):
        deposit_day = day - timedelta(days=int(before[k]))
        at = _times(rng, deposit_day, 1)[0]
        paid_off = k < len(sizes)
        paid_at = pd.Timestamp(day) + pd.Timedelta(seconds=int(rng.integers(0, 3 * 3600)))
        final = paid_at if paid_off else None
        add(deposit_day, at, sku, size, price, buyers[k], ips[k], addresses[k],
            "paid" if paid_off else "cancelled", "genuine",
            presale=(deposit, f"{at:%Y-%m-%dT%H:%M:%S}+08:00",
                     f"{final:%Y-%m-%dT%H:%M:%S}+08:00" if final is not None else ""))


def write_sample_orders(orders: SampleOrders, path: str | object) -> int:
    """Write the orders CSV (UTF-8, '\\n' line ends); return its rows."""
    from pathlib import Path

    target = Path(str(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    from kernel.csvsafe import safe_frame

    safe_frame(orders.orders).to_csv(target, index=False, lineterminator="\n", encoding="utf-8")
    return len(orders.orders)
