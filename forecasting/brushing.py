"""Brushing (刷单) detection over order lines: explainable rules, a score, and clusters with their evidence.

Pure: an orders frame in, a flags frame and a clusters frame out (no database, no clock). Each rule
finds *groups* of order lines that together look fake, and says so in one sentence computed from the
group's own numbers:

- `ip_burst` / `address_burst`: consecutive orders from one hashed IP (address) at most
  `burst_gap_minutes` apart, with at least `burst_min_orders` orders by `burst_min_buyers` buyers;
- `shared_address`: at least `shared_address_min_buyers` distinct buyers shipping to one address
  within `shared_address_days` (a sliding window);
- `identical_baskets`: the same multi-line basket (SKUs and units) ordered `basket_min_repeats`
  times, consecutive repeats at most `basket_window_hours` apart;
- `refund_pattern`: a buyer whose cancelled or refunded orders number `refund_min_orders` and make
  `refund_min_share` of their orders (consecutive orders at most `refund_window_days` apart);
- `price_outlier`: a price `price_ratio` times above or below the SKU's median paid price and
  `price_robust_z` robust standard deviations (1.4826 × MAD of log price) from it.

An order line's score is the sum of the weights of the rules it broke; at `flag_score` it is
flagged. Groups that share a flagged line are one cluster (connected components).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from forecasting.settings import BrushingSettings

# Columns of the orders frame the rules read.
ORDER_ROW = "order_row"  # the stored line's id (any unique integer)
ORDER_ID = "order_id"
SKU = "sku"
AT = "ordered_at"  # instant, UTC (aware or naive-UTC Timestamp)
UNITS = "units"
PRICE = "unit_price"  # CNY per unit as paid (float is fine: only ratios are compared)
BUYER = "buyer"
IP = "ip"
ADDRESS = "address"
STATUS = "status"

RULES = ("ip_burst", "address_burst", "shared_address", "identical_baskets", "refund_pattern",
         "price_outlier")
# Rules whose groups link orders into a cluster (a price outlier alone links nothing).
LINKING_RULES = RULES[:5]
FLAG_COLUMNS = [ORDER_ROW, "score", "rules", "cluster"]
CLUSTER_COLUMNS = ["cluster", "first_at", "last_at", "orders", "units", "skus", "rules", "evidence"]
MAX_EVIDENCE_LINES = 12


@dataclass
class BrushingResult:
    """`flags`: one row per flagged order line (order_row, score, rules, cluster);
    `clusters`: one row per cluster (first/last time, orders, units, SKUs, rule → lines, evidence)."""

    flags: pd.DataFrame
    clusters: pd.DataFrame


@dataclass
class _Group:
    rule: str
    name: str
    rows: np.ndarray  # positions in the frame
    first: pd.Timestamp
    evidence: str


def detect_brushing(orders: pd.DataFrame, settings: BrushingSettings, tz: str = "Asia/Shanghai"
                    ) -> BrushingResult:
    """Apply every rule to `orders` and return the flagged lines and their clusters.

    `tz` is the zone times are shown in within the evidence sentences. Deterministic: the same
    frame in any row order gives the same flags and cluster names.
    """
    if orders.empty:
        return BrushingResult(pd.DataFrame(columns=FLAG_COLUMNS), pd.DataFrame(columns=CLUSTER_COLUMNS))
    frame = orders.sort_values([AT, ORDER_ID, SKU], kind="stable").reset_index(drop=True)
    at = pd.to_datetime(frame[AT], utc=True)
    frame[AT] = at
    seconds = (at - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy()
    context = _Context(frame, seconds, settings, tz)

    groups: list[_Group] = []
    groups += context.key_bursts("ip_burst", IP, "IP")
    groups += context.key_bursts("address_burst", ADDRESS, "address")
    groups += context.shared_addresses()
    groups += context.identical_baskets()
    groups += context.refund_patterns()
    outliers = context.price_outliers()

    n = len(frame)
    broke = {rule: np.zeros(n, dtype=bool) for rule in RULES}
    for group in groups:
        broke[group.rule][group.rows] = True
    broke["price_outlier"][outliers] = True
    weights = settings.weights
    score = np.zeros(n)
    for rule in RULES:
        score += weights.get(rule, 0.0) * broke[rule]
    flagged = score >= settings.flag_score - 1e-12
    if not flagged.any():
        return BrushingResult(pd.DataFrame(columns=FLAG_COLUMNS), pd.DataFrame(columns=CLUSTER_COLUMNS))

    linking = [g for g in groups if flagged[g.rows].any()]
    cluster_of_row, clusters = _clusters(frame, linking, flagged, broke, tz)
    rows = np.flatnonzero(flagged)
    flags = pd.DataFrame({
        ORDER_ROW: frame[ORDER_ROW].to_numpy()[rows],
        "score": np.round(score[rows], 6),
        "rules": [[rule for rule in RULES if broke[rule][i]] for i in rows],
        "cluster": [cluster_of_row.get(int(i)) for i in rows],
    })
    return BrushingResult(flags.sort_values(ORDER_ROW, kind="stable").reset_index(drop=True), clusters)


class _Context:
    """The sorted frame and settings the rules share."""

    def __init__(self, frame: pd.DataFrame, seconds: np.ndarray, settings: BrushingSettings, tz: str):
        self.frame = frame
        self.seconds = seconds
        self.settings = settings
        self.tz = tz
        self.utc = frame[AT].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()

    def _when(self, rows: np.ndarray) -> tuple[pd.Timestamp, pd.Timestamp]:
        times = self.utc[rows]
        return pd.Timestamp(times.min()).tz_localize("UTC"), pd.Timestamp(times.max()).tz_localize("UTC")

    def _span_text(self, first: pd.Timestamp, last: pd.Timestamp) -> str:
        a, b = first.tz_convert(self.tz), last.tz_convert(self.tz)
        end = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%Y-%m-%d %H:%M}"
        return f"{a:%Y-%m-%d %H:%M}–{end}"

    def key_bursts(self, rule: str, column: str, noun: str) -> list[_Group]:
        """Bursts of orders from one key (IP or address)."""
        s = self.settings
        sessions = _sessions(self.frame[column].to_numpy(dtype=object), self.seconds,
                             s.burst_gap_minutes * 60.0)
        out = []
        for rows in _session_rows(sessions, s.burst_min_orders):
            orders = self.frame[ORDER_ID].to_numpy()[rows]
            buyers = self.frame[BUYER].to_numpy()[rows]
            n_orders, n_buyers = len(set(orders)), len(set(buyers))
            if n_orders < s.burst_min_orders or n_buyers < s.burst_min_buyers:
                continue
            first, last = self._when(rows)
            key = str(self.frame[column].iat[rows[0]])[:8]
            units = int(self.frame[UNITS].to_numpy()[rows].sum())
            minutes = (last - first).total_seconds() / 60.0
            out.append(_Group(
                rule, f"{rule}:{key}:{first:%Y%m%dT%H%M%S}", rows, first,
                f"{rule}: {n_orders} orders ({units} units) by {n_buyers} buyers from {noun} #{key} "
                f"within {minutes:.0f} min, {self._span_text(first, last)}",
            ))
        return out

    def shared_addresses(self) -> list[_Group]:
        """Addresses many distinct buyers ship to within a sliding window of `shared_address_days`.

        Overlapping windows that each reach the threshold make one group.
        """
        s = self.settings
        window = s.shared_address_days * 86400.0
        frame = self.frame
        addresses = frame[ADDRESS].to_numpy(dtype=object)
        buyers_all = frame[BUYER].to_numpy(dtype=object)
        present = np.array([a is not None and a == a and a != "" for a in addresses], dtype=bool)
        out = []
        positions = np.flatnonzero(present)
        if positions.size == 0:
            return out
        counts = pd.Series(addresses[positions]).value_counts()
        busy = set(counts[counts >= s.shared_address_min_buyers].index)
        positions = np.array([p for p in positions if addresses[p] in busy], dtype=np.int64)
        if positions.size == 0:
            return out
        by_address = pd.Series(positions).groupby(addresses[positions], sort=True)
        for key, rows_series in by_address:
            rows = rows_series.to_numpy()
            buyers = buyers_all[rows]
            if len(set(buyers)) < s.shared_address_min_buyers:
                continue
            rows = rows[np.argsort(self.seconds[rows], kind="stable")]
            times, buyers = self.seconds[rows], buyers_all[rows]
            ends = np.searchsorted(times, times + window, side="right")
            spans = [(i, int(ends[i])) for i in range(rows.size)
                     if len(set(buyers[i:ends[i]])) >= s.shared_address_min_buyers]
            merged: list[list[int]] = []
            for start, end in spans:
                if merged and start < merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            for start, end in merged:
                members = np.sort(rows[start:end])
                first, last = self._when(members)
                short = str(key)[:8]
                n_buyers = len(set(buyers[start:end]))
                n_orders = len(set(frame[ORDER_ID].to_numpy()[members]))
                units = int(frame[UNITS].to_numpy()[members].sum())
                out.append(_Group(
                    "shared_address", f"shared_address:{short}:{first:%Y%m%dT%H%M%S}", members, first,
                    f"shared_address: {n_buyers} distinct buyers shipped {n_orders} orders ({units} units) "
                    f"to address #{short}, {self._span_text(first, last)}",
                ))
        return out

    def identical_baskets(self) -> list[_Group]:
        """The same multi-line basket repeated within the window."""
        s = self.settings
        frame = self.frame
        lines = frame.groupby(ORDER_ID, sort=False)[SKU].transform("size").to_numpy()
        multi = np.flatnonzero(lines >= 2)
        if multi.size == 0:
            return []
        part = frame.iloc[multi]
        item = part[SKU].astype(str) + "×" + part[UNITS].astype(str)
        signature = item.groupby(part[ORDER_ID], sort=False).transform(lambda v: "+".join(sorted(v)))
        keys = np.full(len(frame), None, dtype=object)
        keys[multi] = signature.to_numpy()
        sessions = _sessions(keys, self.seconds, s.basket_window_hours * 3600.0)
        out = []
        for rows in _session_rows(sessions, s.basket_min_repeats):
            n_orders = len(set(frame[ORDER_ID].to_numpy()[rows]))
            if n_orders < s.basket_min_repeats:
                continue
            first, last = self._when(rows)
            basket = str(keys[rows[0]])
            buyers = len(set(frame[BUYER].to_numpy()[rows]))
            out.append(_Group(
                "identical_baskets", f"identical_baskets:{basket[:40]}:{first:%Y%m%dT%H%M%S}", rows, first,
                f"identical_baskets: basket {basket} ordered {n_orders} times by {buyers} buyers, "
                f"{self._span_text(first, last)}",
            ))
        return out

    def refund_patterns(self) -> list[_Group]:
        """Buyers who cancel or refund most of what they order."""
        s = self.settings
        frame = self.frame
        sessions = _sessions(frame[BUYER].to_numpy(dtype=object), self.seconds,
                             s.refund_window_days * 86400.0)
        undone = frame[STATUS].isin(("cancelled", "refunded")).to_numpy()
        out = []
        # only sessions holding enough undone lines can qualify
        undone_per_session = np.bincount(sessions[(sessions >= 0) & undone], minlength=sessions.max() + 1)
        candidates = np.flatnonzero(undone_per_session >= s.refund_min_orders)
        keep = np.isin(sessions, candidates)
        for rows in _session_rows(np.where(keep, sessions, -1), s.refund_min_orders):
            bad_rows = rows[undone[rows]]
            if bad_rows.size == 0:
                continue
            n_orders = len(set(frame[ORDER_ID].to_numpy()[rows]))
            n_bad = len(set(frame[ORDER_ID].to_numpy()[bad_rows]))
            if n_bad < s.refund_min_orders or n_bad / n_orders < s.refund_min_share:
                continue
            first, last = self._when(rows)
            key = str(frame[BUYER].iat[rows[0]])[:8]
            out.append(_Group(
                "refund_pattern", f"refund_pattern:{key}:{first:%Y%m%dT%H%M%S}", bad_rows, first,
                f"refund_pattern: buyer #{key} cancelled or refunded {n_bad} of {n_orders} orders, "
                f"{self._span_text(first, last)}",
            ))
        return out

    def price_outliers(self) -> np.ndarray:
        """Positions of lines paid far from their SKU's median price (cancelled lines excluded)."""
        s = self.settings
        frame = self.frame
        live = frame[STATUS].to_numpy() != "cancelled"
        log_price = np.log(np.maximum(frame[PRICE].to_numpy(dtype=float), 0.01))
        out = np.zeros(len(frame), dtype=bool)
        for _, positions in frame[live].groupby(SKU, sort=True).indices.items():
            rows = np.flatnonzero(live)[positions]
            if rows.size < s.price_min_orders:
                continue
            values = log_price[rows]
            median = float(np.median(values))
            mad = float(np.median(np.abs(values - median))) * 1.4826
            far = np.abs(values - median) >= np.log(s.price_ratio) - 1e-12
            if mad > 0:
                far &= np.abs(values - median) / mad >= s.price_robust_z
            out[rows[far]] = True
        return np.flatnonzero(out)


def _sessions(keys: np.ndarray, seconds: np.ndarray, gap_s: float) -> np.ndarray:
    """Session number per row: same key, consecutive times at most `gap_s` apart; -1 for no key."""
    as_series = pd.Series(keys, dtype=object)
    present = (as_series.notna() & (as_series != "")).to_numpy(dtype=bool)
    out = np.full(len(keys), -1, dtype=np.int64)
    positions = np.flatnonzero(present)
    if positions.size == 0:
        return out
    codes, _ = pd.factorize(keys[positions], sort=True)
    order = np.lexsort((seconds[positions], codes))
    k, t = codes[order], seconds[positions][order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (k[1:] != k[:-1]) | (t[1:] - t[:-1] > gap_s)
    out[positions[order]] = np.cumsum(new) - 1
    return out


def _session_rows(sessions: np.ndarray, min_rows: int = 2) -> list[np.ndarray]:
    """Row positions of each session with at least `min_rows` rows (and two), in session order."""
    valid = np.flatnonzero(sessions >= 0)
    if valid.size == 0:
        return []
    sizes = np.bincount(sessions[valid])
    big = sizes >= max(min_rows, 2)
    valid = valid[big[sessions[valid]]]
    if valid.size == 0:
        return []
    order = valid[np.argsort(sessions[valid], kind="stable")]
    ids = sessions[order]
    bounds = np.flatnonzero(np.diff(ids)) + 1
    return [np.sort(rows) for rows in np.split(order, bounds)]


def _clusters(frame: pd.DataFrame, groups: list[_Group], flagged: np.ndarray,
              broke: dict[str, np.ndarray], tz: str) -> tuple[dict[int, str], pd.DataFrame]:
    """Connected components of groups sharing a flagged line; flagged lines in no group form their own."""
    n_groups = len(groups)
    row_group: list[tuple[int, int]] = []
    for index, group in enumerate(groups):
        for row in group.rows[flagged[group.rows]]:
            row_group.append((int(row), index))
    grouped = {row for row, _ in row_group}
    extra = [int(r) for r in np.flatnonzero(flagged) if int(r) not in grouped]
    if row_group:
        rows_arr = np.array([r for r, _ in row_group])
        groups_arr = np.array([g for _, g in row_group])
        # groups i and j are linked when a row belongs to both: G = Mᵀ M over the row × group incidence
        incidence = coo_matrix((np.ones(len(rows_arr)), (rows_arr, groups_arr)),
                               shape=(len(frame), max(n_groups, 1))).tocsr()
        adjacency = (incidence.T @ incidence).tocoo()
        _, labels = connected_components(adjacency, directed=False)
    else:
        labels = np.zeros(0, dtype=int)
    components: dict[int, list[int]] = {}
    for index in range(n_groups):
        components.setdefault(int(labels[index]), []).append(index)
    cluster_of_row: dict[int, str] = {}
    records = []
    for members in components.values():
        ordered = sorted(members, key=lambda i: (groups[i].first, groups[i].name))
        lead = groups[ordered[0]]
        rule, key = lead.name.split(":")[:2]
        name = f"{lead.first.tz_convert(tz):%Y%m%d-%H%M}-{rule}-{key[:8]}"
        rows = sorted({int(r) for i in members for r in groups[i].rows if flagged[r]})
        for r in rows:
            cluster_of_row.setdefault(r, name)
        evidence = [groups[i].evidence for i in ordered]
        if len(evidence) > MAX_EVIDENCE_LINES:
            evidence = evidence[:MAX_EVIDENCE_LINES] + [f"… and {len(evidence) - MAX_EVIDENCE_LINES} more"]
        records.append(_cluster_record(frame, name, np.array(rows), broke, evidence))
    for r in extra:
        lead_time = pd.Timestamp(frame[AT].iat[r])
        rules = [rule for rule in RULES if broke[rule][r]]
        name = f"{lead_time.tz_convert(tz):%Y%m%d-%H%M}-{'+'.join(rules)}-{frame[ORDER_ID].iat[r]}"[:100]
        cluster_of_row[r] = name
        evidence = [f"order {frame[ORDER_ID].iat[r]} broke {', '.join(rules)} on its own"]
        records.append(_cluster_record(frame, name, np.array([r]), broke, evidence))
    clusters = pd.DataFrame(records, columns=CLUSTER_COLUMNS)
    return cluster_of_row, clusters.sort_values(["first_at", "cluster"], kind="stable").reset_index(drop=True)


def _cluster_record(frame: pd.DataFrame, name: str, rows: np.ndarray, broke: dict[str, np.ndarray],
                    evidence: list[str]) -> dict[str, object]:
    at = frame[AT].iloc[rows]
    return {
        "cluster": name,
        "first_at": at.min(),
        "last_at": at.max(),
        "orders": int(frame[ORDER_ID].iloc[rows].nunique()),
        "units": int(frame[UNITS].iloc[rows].sum()),
        "skus": sorted(set(frame[SKU].iloc[rows].astype(str))),
        "rules": {rule: int(broke[rule][rows].sum()) for rule in RULES if broke[rule][rows].any()},
        "evidence": evidence,
    }
