"""A price per agreement and tier: the Lagrangian bound with SKUs of several lines priced exactly.

`replenishment.bounds` relaxes the budget with one multiplier λ and keeps each
agreement's lines and tiers together in a block. A SKU whose lines sit under
different agreements (several suppliers, each with its own window: rule 7) couples
blocks; there it splits the SKU's value with per-SKU multipliers μ, which on the
10k-SKU bench left the bound ~0.9 % of the increment above the LP held at the
proposal's tiers. Here the agreements' period totals are priced instead.

For a tier vector τ the relaxed problem (each line over its whole-case envelope, as in
`bounds`) is: maximise Σ_SKUs value − Σ_lines (1 − r_τ(b)) · spend + Σ_b const_b,
with Σ spend ≤ B and each block's spend S_b within its tier's range [L_b, H_b]. Moving
the budget (λ ≥ 0) and each range (α_b, β_b ≥ 0) into the objective gives, for every
λ and θ_b = 1 + λ − r_b + δ_b (δ_b = α_b − β_b, any real), the upper bound

    λ·B + Σ_b [const_b + max(δ_b·L_b, δ_b·H_b)] + Σ_SKUs max over the SKU's options of
    max_u (value(u) − θ_b(line) · cost · u)

(a SKU's options: each window's line on its whole-case envelope, or a window with several
lines at its cheapest price over the window's chords; buying nothing is worth 0). The
SKUs with one line are summed inside their block as sorted pieces (as `bounds` does);
the others, in the last sum, see every block's price. For a set of allowed tiers per
block, each tier j gets its own δ_{b,j}; the block takes its best tier and a SKU's line
the least price over the allowed tiers its margin floor can use — so the bound holds
for every tier vector in the set. Every λ ≥ 0 and δ gives a valid bound; `minimise`
lowers it by coordinate steps (λ with δ held, then each δ_{b,j}); a poor point costs
only tightness, never validity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from replenishment.bounds import _Model, _whole_cases_envelope, golden_section

# The δ search interval (value per yuan) and the golden-section steps per coordinate.
DELTA_RANGE = 3.0
STEPS = 28
# A child node's λ is searched this close to its parent's (value per yuan).
LAMBDA_WINDOW = 0.05
# Golden-section steps of a child node's coordinates (from its parent's point: a coarser
# search only costs tightness).
CHILD_STEPS = 18


@dataclass
class PricePoint:
    """λ, δ per block and tier (by position in `block.tiers`), and the bound there (CNY)."""

    lam: float
    delta: list[np.ndarray]
    value: float


class PriceDual:
    """The bound above for one `bounds._Model` (its blocks and its split SKUs)."""

    def __init__(self, model: _Model) -> None:
        self.model = model
        instance = model.instance
        self.budget = model.budget
        blocks = model.blocks
        self.position = {b.index: n for n, b in enumerate(blocks)}
        # local pieces of each block per tier, by value per yuan descending
        self.local: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
        for b in blocks:
            per_tier = []
            for t in b.tiers:
                keep = b.local_need <= t
                e, length = b.local_e[keep], b.local_len[keep]
                order = np.argsort(-e, kind="stable")
                e, length = e[order], length[order]
                per_tier.append(
                    (
                        -e,
                        np.concatenate(([0.0], np.cumsum(length))),
                        np.concatenate(([0.0], np.cumsum(e * length))),
                    )
                )
            self.local.append(per_tier)
        # split SKUs: options (a window's line, or a multi-line window), their chord segments
        seg_opt: list[np.ndarray] = []
        seg_slope: list[np.ndarray] = []
        seg_len: list[np.ndarray] = []
        opt_group: list[int] = []
        entry_opt: list[int] = []
        entry_block: list[int] = []
        entry_need: list[int] = []
        entry_cost: list[float] = []
        for g, per_window in enumerate(model.split_windows):
            for _w, u, gain, its in per_window:
                o = len(opt_group)
                if len(its) == 1:
                    line = instance.lines[its[0]]
                    hu, hg = _whole_cases_envelope(line, u, lambda x, u=u, gain=gain: np.interp(x, u, gain))
                else:
                    hu, hg = u, gain
                du = np.diff(hu)
                keep = du > 1e-12
                if not keep.any():
                    continue
                opt_group.append(g)
                seg_opt.append(np.full(int(keep.sum()), o))
                seg_slope.append(np.diff(hg)[keep] / du[keep])
                seg_len.append(du[keep])
                for k in its:
                    line = instance.lines[k]
                    entry_opt.append(o)
                    entry_block.append(self.position[line.agreement])
                    entry_need.append(max(line.tier_needed, 0))
                    entry_cost.append(line.cost)
        self.groups = len(model.split_windows)
        self.seg_opt = np.concatenate(seg_opt) if seg_opt else np.zeros(0, dtype=int)
        self.seg_slope = np.concatenate(seg_slope) if seg_slope else np.zeros(0)
        self.seg_len = np.concatenate(seg_len) if seg_len else np.zeros(0)
        self.opt_group = np.array(opt_group, dtype=int)
        self.entry_opt = np.array(entry_opt, dtype=int)
        self.entry_block = np.array(entry_block, dtype=int)
        self.entry_need = np.array(entry_need, dtype=int)
        self.entry_cost = np.array(entry_cost, dtype=float)
        # tiers a line can need: 0 .. the highest tier of any block or line
        self.levels = 1 + max([*(max(b.tiers) for b in blocks), *entry_need, 0])
        # per block: which of its tiers clear each tier a line can need (levels × tiers)
        self.clears = [np.arange(self.levels)[:, None] <= np.array(b.tiers)[None, :] for b in blocks]
        # per block: the split options touching it (a sub-problem re-scored when its prices move)
        self.touching: list[np.ndarray] = []
        groups_of_block: list[set[int]] = [set() for _ in blocks]
        for o, b in zip(self.entry_opt, self.entry_block, strict=True):
            groups_of_block[int(b)].add(int(self.opt_group[o]))
        self.sub: list[_Sub | None] = []
        for b in range(len(blocks)):
            groups = sorted(groups_of_block[b])
            self.sub.append(_Sub(self, np.array(groups, dtype=int)) if groups else None)
        self.all = _Sub(self, np.arange(self.groups)) if self.groups else None

    # --- prices ---------------------------------------------------------------------------
    def theta(self, lam: float, delta: list[np.ndarray]) -> list[np.ndarray]:
        return [1.0 + lam - np.array(b.rate) + d for b, d in zip(self.model.blocks, delta, strict=True)]

    def least_price(self, theta: list[np.ndarray], allowed: list[np.ndarray]) -> np.ndarray:
        """Per block and tier needed (0..most tiers): the least θ over allowed tiers that clear it."""
        out = np.empty((len(theta), self.levels))
        for b in range(len(theta)):
            out[b] = self.least_row(b, theta[b], allowed[b])
        return out

    def least_row(self, b: int, theta: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        usable = self.clears[b] & allowed[None, :]
        return np.where(usable, theta[None, :], math.inf).min(axis=1)

    # --- the bound --------------------------------------------------------------------------
    def block_term(self, b: int, j: int, theta: float, delta: float) -> float:
        block = self.model.blocks[b]
        neg_e, cum_len, cum_val = self.local[b][j]
        n = int(np.searchsorted(neg_e, -theta, side="left"))
        local = cum_val[n] - theta * cum_len[n]
        return float(block.constant[j] + max(delta * block.low[j], delta * block.high[j]) + local)

    def block_value(self, b: int, theta: np.ndarray, delta: np.ndarray, allowed: np.ndarray) -> float:
        best = -math.inf
        for j in range(len(self.model.blocks[b].tiers)):
            if allowed[j]:
                best = max(best, self.block_term(b, j, float(theta[j]), float(delta[j])))
        return best

    def value(self, lam: float, delta: list[np.ndarray], allowed: list[np.ndarray]) -> float:
        theta = self.theta(lam, delta)
        total = lam * self.budget
        for b in range(len(self.model.blocks)):
            total += self.block_value(b, theta[b], delta[b], allowed[b])
        if self.all is not None:
            total += self.all.value(self.least_price(theta, allowed))
        return total

    def minimise(
        self,
        allowed: list[np.ndarray],
        start: PricePoint | None = None,
        rounds: int = 4,
        only: set[int] | None = None,
        steps: int = STEPS,
    ) -> PricePoint:
        """Coordinate steps from `start` (or λ from the blocks alone, δ = 0): λ by golden section
        with δ held, then each allowed δ_{b,j} with the rest held; the least value seen."""
        blocks = self.model.blocks
        if start is None:
            delta = [np.zeros(len(b.tiers)) for b in blocks]
            lam = 0.0
        else:
            delta = [d.copy() for d in start.delta]
            lam = start.lam
        best = self.value(lam, delta, allowed)
        top = 1.0 + max(
            (
                float(np.max(-self.local[b][j][0][:1], initial=0.0))
                for b in range(len(blocks))
                for j in range(len(blocks[b].tiers))
            ),
            default=1.0,
        )
        top = max(top, float(self.seg_slope.max() / self.entry_cost.min()) if self.seg_slope.size else 1.0)
        for _ in range(rounds):
            before = best
            at_zero = self.theta(0.0, delta)
            least_zero = self.least_price(at_zero, allowed)

            def by_lambda(
                x: float, at_zero: list[np.ndarray] = at_zero, least_zero: np.ndarray = least_zero
            ) -> float:
                # every θ moves with λ one for one: so does each least price
                total = x * self.budget
                for b in range(len(blocks)):
                    total += self.block_value(b, at_zero[b] + x, delta[b], allowed[b])
                if self.all is not None:
                    total += self.all.value(least_zero + x)
                return total

            if only is None:
                lo, hi = 0.0, max(top, lam + 0.1)
            else:
                lo, hi = max(0.0, lam - LAMBDA_WINDOW), lam + LAMBDA_WINDOW
            lam, best = _golden(by_lambda, lo, hi, best, lam, steps)
            theta = self.theta(lam, delta)
            least = self.least_price(theta, allowed)
            for b, block in enumerate(blocks):
                if only is not None and b not in only:
                    continue
                for j in range(len(block.tiers)):
                    if not allowed[b][j]:
                        continue

                    def local_value(
                        x: float, b: int = b, j: int = j, lam: float = lam, least: np.ndarray = least
                    ) -> float:
                        return self._coordinate(b, j, x, lam, delta, least, allowed)

                    base_theta = 1.0 + lam - blocks[b].rate[j]
                    low = -base_theta - DELTA_RANGE
                    current = local_value(float(delta[b][j]))
                    x, fx = _golden(local_value, low, DELTA_RANGE, current, float(delta[b][j]), steps)
                    if fx < current - 1e-9:
                        delta[b][j] = x
                        theta = self.theta(lam, delta)
                        least = self.least_price(theta, allowed)
            best = self.value(lam, delta, allowed)
            if best > before - 1e-6 * (1.0 + abs(before)):
                break
        return PricePoint(lam, delta, best)

    def _coordinate(
        self,
        b: int,
        j: int,
        x: float,
        lam: float,
        delta: list[np.ndarray],
        least: np.ndarray,
        allowed: list[np.ndarray],
    ) -> float:
        """The part of the bound that δ_{b,j} = x moves: block b's value and its split SKUs'."""
        block = self.model.blocks[b]
        trial = delta[b].copy()
        trial[j] = x
        theta = 1.0 + lam - np.array(block.rate) + trial
        value = self.block_value(b, theta, trial, allowed[b])
        sub = self.sub[b]
        if sub is not None:
            moved = least.copy()
            moved[b] = self.least_row(b, theta, allowed[b])
            value += sub.value(moved)
        return value


class _Sub:
    """The split SKUs of some groups: options, segments and lines re-indexed for speed."""

    def __init__(self, dual: PriceDual, groups: np.ndarray) -> None:
        keep_opt = np.isin(dual.opt_group, groups)
        options = np.flatnonzero(keep_opt)
        remap = np.full(len(dual.opt_group), -1)
        remap[options] = np.arange(len(options))
        seg = keep_opt[dual.seg_opt] if dual.seg_opt.size else np.zeros(0, dtype=bool)
        self.seg_opt = remap[dual.seg_opt[seg]]
        self.seg_slope = dual.seg_slope[seg]
        self.seg_len = dual.seg_len[seg]
        entries = keep_opt[dual.entry_opt]
        self.entry_opt = remap[dual.entry_opt[entries]]
        self.entry_block = dual.entry_block[entries]
        self.entry_need = dual.entry_need[entries]
        self.entry_cost = dual.entry_cost[entries]
        group_remap = {int(g): n for n, g in enumerate(groups)}
        self.opt_group = np.array([group_remap[int(g)] for g in dual.opt_group[options]], dtype=int)
        self.options = len(options)
        self.groups = len(groups)

    def value(self, least: np.ndarray) -> float:
        """Σ over the groups of max(0, best option at the prices `least[block, need]`)."""
        if not self.options:
            return 0.0
        entry_price = self.entry_cost * least[self.entry_block, self.entry_need]
        price = np.full(self.options, math.inf)
        np.minimum.at(price, self.entry_opt, entry_price)
        per_seg = np.maximum(self.seg_slope - price[self.seg_opt], 0.0) * self.seg_len
        per_seg[~np.isfinite(per_seg)] = 0.0
        option_value = np.bincount(self.seg_opt, weights=per_seg, minlength=self.options)
        best = np.zeros(self.groups)
        np.maximum.at(best, self.opt_group, option_value)
        return float(best.sum())


def _golden(f, lo: float, hi: float, current: float, at: float, steps: int = STEPS) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Minimise a convex f on [lo, hi] by golden section; (`at`, `current`) if nothing lower."""
    x, fx, _, _ = golden_section(f, lo, hi, steps)
    return (x, fx) if fx < current else (at, current)


def branch_and_bound(
    dual: PriceDual, incumbent: float, nodes: int = 60, rounds: int = 3
) -> tuple[float, int, int]:
    """Best-first branch and bound over the blocks' tier sets with the price bound of each node.

    Returns (bound on the increment, CNY; nodes solved; nodes left open). `incumbent`: an
    achievable increment — nodes whose bound is not above it are pruned, so the result is
    the largest open node's bound or the incumbent. A node is split on the block whose two
    halves (its tier the node's best, and the rest) leave the larger child's bound lowest at
    the parent's prices; each child's prices are then re-minimised from the parent's.
    Deterministic: at most `nodes` nodes, no clock."""
    import heapq

    blocks = dual.model.blocks
    root = [np.ones(len(b.tiers), dtype=bool) for b in blocks]
    point = dual.minimise(root, rounds=rounds + 2)
    heap: list[tuple[float, int, list[np.ndarray], PricePoint]] = [(-point.value, 0, root, point)]
    counter, solved = 1, 1
    final: set[int] = set()
    while heap and solved < nodes:
        neg, _id, allowed, point = heap[0]
        if -neg <= incumbent:
            break
        heapq.heappop(heap)
        split = _branching(dual, allowed, point)
        if split is None:
            # every block holds one tier: a leaf; every price once more, then its bound is final
            if _id not in final:
                point = dual.minimise(allowed, start=point, rounds=rounds + 2)
                solved += 1
                final.add(_id)
                if point.value > incumbent:
                    heapq.heappush(heap, (-point.value, _id, allowed, point))
                continue
            heapq.heappush(heap, (neg, _id, allowed, point))
            break
        b, keep = split
        for side in (keep, allowed[b] & ~keep):
            child = [m.copy() for m in allowed]
            child[b] = side.copy()
            child_point = dual.minimise(child, start=point, rounds=rounds, only={b}, steps=CHILD_STEPS)
            solved += 1
            if child_point.value > incumbent:
                heapq.heappush(heap, (-child_point.value, counter, child, child_point))
                counter += 1
    bound = max(-heap[0][0] if heap else -math.inf, incumbent)
    return bound, solved, len(heap)


def _branching(
    dual: PriceDual, allowed: list[np.ndarray], point: PricePoint
) -> tuple[int, np.ndarray] | None:
    """The block to split and the tier set of its first child (its best tier at `point`)."""
    blocks = dual.model.blocks
    theta = dual.theta(point.lam, point.delta)
    least = dual.least_price(theta, allowed)
    choice: tuple[float, int, np.ndarray] | None = None
    for b, block in enumerate(blocks):
        if allowed[b].sum() < 2:
            continue
        terms = [
            dual.block_term(b, j, float(theta[b][j]), float(point.delta[b][j]))
            if allowed[b][j]
            else -math.inf
            for j in range(len(block.tiers))
        ]
        best = int(np.argmax(terms))
        keep = np.zeros(len(block.tiers), dtype=bool)
        keep[best] = True
        before = dual._coordinate(
            b, best, float(point.delta[b][best]), point.lam, point.delta, least, allowed
        )
        worst = -math.inf
        for side in (keep, allowed[b] & ~keep):
            child = [m if n != b else side for n, m in enumerate(allowed)]
            child_least = least.copy()
            child_least[b] = dual.least_row(b, theta[b], side)
            after = dual._coordinate(
                b, best, float(point.delta[b][best]), point.lam, point.delta, child_least, child
            )
            worst = max(worst, after - before)
        if choice is None or worst < choice[0]:
            choice = (worst, b, keep)
    return None if choice is None else (choice[1], choice[2])
