"""What a proposal was built from, its fingerprint, and what changed between two versions of a week.

A proposal's inputs are its `Problem` as stored (forecast run and demand quantiles, stock,
committed and on-order units, supplier terms, agreements and purchases to date, budget and
settings), the earlier week's proposal still open when it was built (it adds reasons to the
lines), and a solver chosen for this build. Two builds with the same inputs make the same
proposal, so `restock propose` stores a new version only when the fingerprint differs (or
with `--force`), and says what changed. Pure: dicts in, strings out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

# How many changes one message lists before "… and N more".
SHOWN_CHANGES = 8

# Problem settings with their words in a change message; money ones print as CNY.
_SETTINGS = {
    "budget": "budget",
    "category_budgets": "category budgets",
    "capacity_units": "capacity (units)",
    "margin_floor": "margin floor",
    "holding_cost_rate_per_year": "holding cost rate per year",
    "obsolescence_rate_per_year": "obsolescence rate per year",
    "max_cover_days": "max cover days",
    "review_period_days": "review period days",
    "fixed_order_cost": "fixed order cost",
    "solver": "solver",
    "time_limit_s": "time limit (s)",
    "mip_gap": "MIP gap",
    "version": "problem format",
    "week": "week",
}
_MONEY = {"budget", "fixed_order_cost", "price", "unit_cost", "min_order_value", "purchases_to_date",
          "expected_further_purchases"}


def proposal_inputs(
    problem_json: str, open_earlier: tuple[int, int] | None, solver: str | None
) -> dict[str, Any]:
    """The inputs of one build: the problem's JSON text (as stored in `proposals.problem`), the
    (id, version) of the earlier week's proposal still open, and the solver asked for."""
    return {
        "problem": json.loads(problem_json),
        "open_earlier_proposal": None if open_earlier is None else list(open_earlier),
        "solver": solver,
    }


def fingerprint(inputs: dict[str, Any]) -> str:
    """SHA-256 of the inputs in canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def input_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two builds' inputs, one phrase each ("budget ¥500,000.00 →
    ¥400,000.00", "forecast run 4 → 5", "TEE on hand 100 → 80"); empty when they are equal."""
    changes: list[str] = []
    before, after = old.get("problem") or {}, new.get("problem") or {}
    if before.get("forecast_run_id") != after.get("forecast_run_id"):
        changes.append(f"forecast run {_plain(before.get('forecast_run_id'))} → "
                       f"{_plain(after.get('forecast_run_id'))}")
    for key, words in _SETTINGS.items():
        if before.get(key) != after.get(key):
            changes.append(f"{words} {_value(key, before.get(key))} → {_value(key, after.get(key))}")
    changes += _keyed_changes("SKU", before.get("skus"), after.get("skus"), lambda r: str(r.get("code")))
    changes += _keyed_changes("supplier", before.get("suppliers"), after.get("suppliers"),
                              lambda r: str(r.get("code")))
    changes += _keyed_changes("item", before.get("items"), after.get("items"),
                              lambda r: f"{r.get('sku')}/{r.get('supplier')}")
    changes += _keyed_changes("agreement", before.get("agreements"), after.get("agreements"),
                              lambda r: str(r.get("code")))
    changes += _keyed_changes("left out", before.get("exclusions"), after.get("exclusions"),
                              lambda r: f"{r.get('sku')}/{r.get('supplier') or ''}")
    known = {"forecast_run_id", "skus", "suppliers", "items", "agreements", "exclusions", *_SETTINGS}
    for key in sorted((set(before) | set(after)) - known):
        if before.get(key) != after.get(key):
            changes.append(f"{key} changed")
    if old.get("open_earlier_proposal") != new.get("open_earlier_proposal"):
        changes.append(f"open proposal of an earlier week {_proposal(old.get('open_earlier_proposal'))} → "
                       f"{_proposal(new.get('open_earlier_proposal'))}")
    if old.get("solver") != new.get("solver"):
        changes.append(f"solver asked for {_plain(old.get('solver'))} → {_plain(new.get('solver'))}")
    return changes


def summarise(changes: list[str], limit: int = SHOWN_CHANGES) -> str:
    """The changes joined with "; ", the first `limit` of them and "… and N more"."""
    shown = "; ".join(changes[:limit])
    return shown + (f"; … and {len(changes) - limit} more" if len(changes) > limit else "")


def _keyed_changes(
    what: str,
    before: Iterable[dict[str, Any]] | None,
    after: Iterable[dict[str, Any]] | None,
    key: Callable[[dict[str, Any]], str],
) -> list[str]:
    old = {key(r): r for r in before or []}
    new = {key(r): r for r in after or []}
    changes: list[str] = []
    added = [k for k in new if k not in old]
    gone = [k for k in old if k not in new]
    if added:
        changes.append(f"{what} added: {', '.join(added)}")
    if gone:
        changes.append(f"{what} removed: {', '.join(gone)}")
    for k in (k for k in new if k in old and old[k] != new[k]):
        fields = [f for f in dict.fromkeys([*old[k], *new[k]]) if old[k].get(f) != new[k].get(f)]
        for field in fields:
            if field == "demand_quantiles":
                changes.append(f"{k} demand quantiles")
            elif field in ("tiers", "open_orders", "skus", "params"):
                changes.append(f"{k} {field.replace('_', ' ')}")
            else:
                changes.append(f"{k} {field.replace('_', ' ')} {_value(field, old[k].get(field))} → "
                               f"{_value(field, new[k].get(field))}")
    if what == "left out" and changes:  # one phrase: these follow from the changes above
        return [f"SKUs left out: {len(added)} added, {len(gone)} removed, "
                f"{len(new.keys() & old.keys()) - sum(old[k] == new[k] for k in new.keys() & old.keys())} "
                "with another reason"]
    return changes


def _value(field: str, value: Any) -> str:
    if value is None:
        return "none"
    if field in _MONEY:
        try:
            return f"¥{Decimal(str(value)):,.2f}"
        except ArithmeticError:
            return str(value)
    return _plain(value)


def _plain(value: Any) -> str:
    return "none" if value is None else str(value)


def _proposal(ref: Any) -> str:
    return "none" if not ref else f"proposal {ref[0]} v{ref[1]}"
