"""Use cases of the nightly forecast: run it for every SKU and store it, load a stored run, score it.

Each opens one unit of work, loads frames, calls the pure engine and writes
the run with all its rows in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy import column as sa_column
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import table as sa_table
from sqlalchemy.orm import Session

from forecasting.calendar import enabled_events
from forecasting.columns import (
    DS,
    FRAUD_UNITS,
    GROUP,
    MEAN,
    MODEL,
    RETURNED_UNITS,
    STOCKOUT,
    UNIQUE_ID,
    UNITS,
    quantile_column,
)
from forecasting.engine import ChunkRunner, EngineConfig, ForecastResult, forecast_panel
from forecasting.global_model import GlobalSettings
from forecasting.models import DailySales, ForecastRun, ForecastSeries, ForecastValue, Promotion
from forecasting.preparation import HISTORY_DAYS, fill_zero_days, prepare_inputs
from forecasting.seasons import COLUMNS as SEASON_COLUMNS
from forecasting.settings import ForecastSettings
from kernel.catalog import Category, Sku
from kernel.errors import InvalidInput, NotFound, RestockError
from kernel.jsonable import to_jsonable
from kernel.orm import unit_of_work
from kernel.seasons import season_window

LIBRARIES = ("restock", "numpy", "pandas", "statsforecast", "statsmodels", "prophet", "holidays",
             "lunardate", "scipy", "lightgbm", "mlforecast")


class ForecastFailed(RestockError):
    """The nightly forecast could not run (no SKUs, no sales); the message says why."""

    exit_code = 7


@dataclass
class RunSummary:
    """What `restock forecast` reports at the end of a run."""

    run_id: int
    as_of: date
    n_series: int
    models: dict[str, int]
    classes: dict[str, int]
    n_fallbacks: int
    fallback_reasons: dict[str, int]
    duration_s: float
    effects: list[dict[str, Any]] = field(default_factory=list)
    # "complete" (every active SKU) or "partial" (--sku): only complete runs feed proposals
    scope: str = "complete"


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a forecast depends on (stored with each run)."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def engine_config(settings: ForecastSettings) -> EngineConfig:
    """The engine's parameters from the `[forecasting]` and `[calendar]` settings."""
    section = settings.forecasting
    return EngineConfig(
        horizon=section.horizon_days,
        freq="D",
        quantiles=tuple(section.quantiles),
        backtest_origins=section.backtest_origins,
        selection_metric=section.selection_metric,
        events=tuple(enabled_events(settings.calendar)),
        chunk_size=section.chunk_size,
        global_model=GlobalSettings() if section.global_model else None,
    )


def season_anchors(session: Session, settings: ForecastSettings) -> dict[str, str]:
    """Category code → lunar festival its season is anchored on (`[seasons.x] anchor`)."""
    rows = session.execute(select(Category.code, Category.season)).all()
    anchors = {}
    for code, season in rows:
        spec = settings.seasons.get(season) if season else None
        if spec is not None and spec.anchor != "fixed":
            anchors[str(code)] = spec.anchor
    return anchors


def season_windows(session: Session, settings: ForecastSettings, first_year: int, last_year: int
                   ) -> pd.DataFrame:
    """Category code → its season's windows starting in first_year…last_year (the engine's `seasons`)."""
    rows = []
    for code, season in session.execute(select(Category.code, Category.season)).all():
        spec = settings.seasons.get(season) if season else None
        if spec is None:
            continue
        for year in range(first_year, last_year + 1):
            start, end = season_window(spec, year)
            rows.append({GROUP: str(code), "season_start": pd.Timestamp(start),
                         "season_end": pd.Timestamp(end)})
    return pd.DataFrame(rows, columns=[GROUP, "season_start", "season_end"])


def _session_scope(target: Engine | Session) -> Any:
    if isinstance(target, Session):
        from contextlib import nullcontext

        return nullcontext(target)
    return unit_of_work(target)


def load_history(session: Session, as_of: date, sku_codes: Sequence[str] | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Sales (up to 3 years to `as_of` inclusive), active SKUs with their category, promotions.

    A day without a sales row between a SKU's first row (or launch date) and
    `as_of` counts as zero sales: the importer writes sales, not absences.
    """
    sku_query = select(Sku.id, Sku.code, Sku.status, Sku.launch_date, Category.code).join(
        Category, Sku.category_id == Category.id, isouter=True)
    skus = pd.DataFrame(session.execute(sku_query).all(),
                        columns=["sku_id", UNIQUE_ID, "status", "launch_date", GROUP])
    if sku_codes:
        unknown = sorted(set(sku_codes) - set(skus[UNIQUE_ID]))
        if unknown:
            raise NotFound(f"unknown SKU code(s): {', '.join(unknown)}")
        skus = skus[skus[UNIQUE_ID].isin(sku_codes)]
    else:
        skus = skus[skus["status"] == "active"]
    first_day = as_of - timedelta(days=HISTORY_DAYS - 1)
    sales_query = (
        select(DailySales.sku_id, DailySales.date, DailySales.units, DailySales.returned_units,
               DailySales.fraud_units, DailySales.stockout)
        .where(DailySales.date >= first_day, DailySales.date <= as_of)
        .where(DailySales.sku_id.in_(skus["sku_id"].tolist()))
    )
    sales = pd.DataFrame(session.execute(sales_query).all(),
                         columns=["sku_id", DS, UNITS, RETURNED_UNITS, FRAUD_UNITS, STOCKOUT])
    sales[DS] = pd.to_datetime(sales[DS])
    sales = sales.merge(skus[["sku_id", UNIQUE_ID]], on="sku_id")
    promotions = pd.DataFrame(
        session.execute(select(Promotion.start_date, Promotion.end_date, Promotion.sku_id,
                               Promotion.category_id, Promotion.discount_rate)).all(),
        columns=["start_date", "end_date", "sku_id", "category_id", "discount_rate"])
    categories = pd.DataFrame(session.execute(select(Category.id, Category.code)).all(),
                              columns=["category_id", GROUP])
    promotions = promotions.merge(categories, on="category_id", how="left")
    return fill_zero_days(sales, skus, as_of), skus, promotions


def run_forecast(
    target: Engine | Session,
    as_of: date,
    settings: ForecastSettings,
    skus: Sequence[str] | None = None,
    runner: ChunkRunner | None = None,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    *,
    now: datetime,
) -> RunSummary:
    """Read history up to `as_of`, cleanse, forecast every active SKU (or `skus`) and store the run.

    The run row, its per-SKU rows and every forecast value are written in one
    transaction. `on_start(n_series)` is called once the panel is known (for a
    progress bar); `progress(n)` after each chunk of n series. `now` (aware) is
    stored as the run's start.
    """
    started = time.perf_counter()
    started_at = now
    config = engine_config(settings)
    with _session_scope(target) as session:
        active = set(session.scalars(select(Sku.code).where(Sku.status == "active")))
        # A subset run still learns category curves from every active SKU's history, so a
        # SKU's forecast does not depend on which others are forecast with it.
        codes = sorted(active | set(skus)) if skus else None
        sales, sku_table, promotions = load_history(session, as_of, codes)
        config = replace(config, season_anchors=season_anchors(session, settings))
        if sku_table.empty:
            raise ForecastFailed("no active SKUs to forecast")
        last_sale = session.execute(select(func.max(DailySales.date))).scalar_one()
        if last_sale is not None and last_sale < as_of:
            # Missing days count as zero sales: a late import must not read as a collapse in demand.
            raise ForecastFailed(f"sales end on {last_sale}, before the as-of date {as_of}: "
                                 "import the missing days first or pass an earlier --as-of")
        missing_category = sku_table[sku_table[GROUP].isna()]
        sku_table = sku_table.assign(**{GROUP: sku_table[GROUP].fillna("uncategorised")})
        prepared = prepare_inputs(
            sales, sku_table, promotions, as_of, config,
            returns_as_demand=settings.forecasting.returns_as_demand,
            use_promotions=settings.calendar.promotions,
        )
        if prepared.history.empty:
            raise ForecastFailed(f"no sales history up to {as_of} for the selected SKUs")
        if on_start:
            on_start(len(set(skus)) if skus else len(sku_table))
        seasons = season_windows(session, settings, as_of.year - HISTORY_DAYS // 365 - 1, as_of.year + 1)
        result = forecast_panel(
            prepared.history, config.horizon, "D", future=prepared.future, events=prepared.events,
            quantiles=config.quantiles, groups=prepared.groups, new_series=prepared.new_series,
            config=config, runner=runner, progress=progress, seasons=seasons,
            censored=prepared.demand[[UNIQUE_ID, DS, "imputed"]],
            forecast_only=list(skus) if skus else None,
        )
        _apply_presale(session, result, prepared.demand, prepared.groups, as_of)
        duration = time.perf_counter() - started
        for uid in missing_category[UNIQUE_ID]:
            mask = result.series[UNIQUE_ID] == uid
            result.series.loc[mask, "fallback_reason"] = (
                "SKU has no category: it borrows the whole shop's curve; "
                + result.series.loc[mask, "fallback_reason"].fillna(""))
        scope = "complete" if active <= set(result.series[UNIQUE_ID]) else "partial"
        digest = frames_digest(sales, sku_table, promotions)
        parts = part_digests(sales, sku_table, promotions, _clean_json(result.params))
        run_id = store_run(session, result, as_of, started_at, duration, sku_table, scope=scope,
                           inputs_digest=digest, inputs_parts=parts)
    return summarise(result, run_id, as_of, duration, scope)


def _apply_presale(session: Session, result: ForecastResult, demand: pd.DataFrame, groups: pd.Series,
                   as_of: date) -> None:
    """Adjust open pre-sale events' days by the deposits paid up to `as_of` (`forecasting.presale`);
    the adjustments are kept in the run's parameters (`presale`) so every changed number is explained."""
    from forecasting.order_services import load_deposits
    from forecasting.presale import apply_presale_signal

    deposits = load_deposits(session, as_of)
    if deposits.empty:
        return
    finals = demand[[UNIQUE_ID, DS, "y"]]
    result.forecasts, adjustments = apply_presale_signal(
        result.forecasts, deposits, finals, groups, as_of, tuple(result.quantiles))
    result.params["presale"] = adjustments.to_dict("records")


# What a run reads, part by part: (name, columns hashed, sort order) of each `load_history` frame.
_PARTS = (
    ("sales", [UNIQUE_ID, DS, UNITS, RETURNED_UNITS, FRAUD_UNITS, STOCKOUT], [UNIQUE_ID, DS]),
    ("skus", [UNIQUE_ID, "launch_date", GROUP], [UNIQUE_ID]),
    ("promotions", ["start_date", "end_date", "sku_id", GROUP, "discount_rate"],
     ["start_date", "end_date", "sku_id", GROUP]),
)
# How a changed part reads in a message.
PART_WORDS = {"sales": "sales", "skus": "SKU catalogue (launch date, category)", "promotions": "promotions",
              "parameters": "forecast settings"}


def _hash_frame(digest: Any, frame: pd.DataFrame, columns: list[str], order: list[str]) -> None:
    chosen = frame[columns].sort_values(order, kind="mergesort", na_position="first")
    digest.update(f"{len(chosen)}|".encode())
    for column in columns:
        values = chosen[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            digest.update(values.to_numpy("datetime64[ns]").view("int64").tobytes())
        elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
            digest.update(values.to_numpy("int64").tobytes())
        else:  # codes, dates as objects, decimals: their text, one per row
            digest.update("\x1f".join("" if pd.isna(v) else str(v) for v in values).encode())
        digest.update(b"\x1e")


def frames_digest(sales: pd.DataFrame, skus: pd.DataFrame, promotions: pd.DataFrame) -> str:
    """sha256 of what a run reads, as `load_history` returns it: each SKU's daily sales, the SKUs'
    code, launch date and category, and the promotions — sorted, so row order does not matter."""
    digest = hashlib.sha256()
    for frame, (_, columns, order) in zip((sales, skus, promotions), _PARTS, strict=True):
        _hash_frame(digest, frame, columns, order)
    return digest.hexdigest()


def part_digests(
    sales: pd.DataFrame, skus: pd.DataFrame, promotions: pd.DataFrame, parameters: dict[str, Any]
) -> dict[str, str]:
    """sha256 of each part a run reads (sales, skus, promotions) and of its parameters, so a later
    check can say which part changed."""
    found: dict[str, str] = {}
    for frame, (name, columns, order) in zip((sales, skus, promotions), _PARTS, strict=True):
        digest = hashlib.sha256()
        _hash_frame(digest, frame, columns, order)
        found[name] = digest.hexdigest()
    found["parameters"] = hashlib.sha256(
        json.dumps(parameters, sort_keys=True, default=str).encode()
    ).hexdigest()
    return found


def inputs_fingerprint(data_digest: str, parameters: dict[str, Any]) -> str:
    """A run's fingerprint: what it read (`frames_digest`) and the parameters it stored."""
    text = data_digest + json.dumps(parameters, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RunInputs:
    """Whether a stored run's inputs are what the database holds now, and which parts changed
    (`changed_parts`: names from `PART_WORDS`; empty when unknown — runs stored before parts
    were kept — or unchanged)."""

    run_id: int
    as_of: date
    stored: str | None
    current: str | None
    changed_parts: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return self.stored is not None

    @property
    def changed(self) -> bool:
        return self.stored is not None and self.stored != self.current

    def what_changed(self) -> str:
        """E.g. "sales up to 2026-08-30, promotions", "SKUs gone: K9", or "what it read"."""
        if self.gone:
            return f"SKUs gone: {', '.join(self.gone)}"
        words = [f"sales up to {self.as_of}" if part == "sales" else PART_WORDS.get(part, part)
                 for part in self.changed_parts]
        return ", ".join(words) if words else "what it read"

    def state(self) -> str:
        """"current", "stale: <what changed>" or "not recorded" (a run made before fingerprints)."""
        if not self.known:
            return "not recorded"
        return f"stale: {self.what_changed()}" if self.changed else "current"

    def describe(self) -> str:
        if not self.known:
            return f"forecast run {self.run_id} has no record of its inputs (made before they were kept)"
        if self.changed:
            return (f"forecast run {self.run_id}'s inputs changed since it ran ({self.what_changed()} "
                    "imported again): run `restock forecast` again")
        return f"forecast run {self.run_id}'s inputs are unchanged"


def run_inputs(
    target: Engine | Session,
    run_id: int,
    _history: dict[tuple[date, tuple[str, ...]], Any] | None = None,
) -> RunInputs:
    """Read again what run `run_id` read (its as-of, its SKUs) and compare the fingerprints
    (and, for runs that kept them, each part's digest). `_history` caches reads shared by runs
    of the same as-of and SKUs (`runs_inputs`)."""
    with _session_scope(target) as session:
        run = session.get(ForecastRun, run_id)
        if run is None:
            raise NotFound(f"forecast run {run_id} does not exist")
        if run.inputs_fingerprint is None:
            return RunInputs(run_id, run.as_of, None, None)
        codes = session.scalars(
            select(Sku.code).join(ForecastSeries, ForecastSeries.sku_id == Sku.id)
            .where(ForecastSeries.run_id == run_id).order_by(Sku.code)
        ).all()
        if run.scope != "complete":  # a subset run also read every active SKU (category curves)
            active = session.scalars(select(Sku.code).where(Sku.status == "active"))
            codes = sorted(set(codes) | set(active))
        key = (run.as_of, tuple(codes))
        cache = _history if _history is not None else {}
        if key not in cache:
            try:
                sales, skus, promotions = load_history(session, run.as_of, codes)
                skus = skus.assign(**{GROUP: skus[GROUP].fillna("uncategorised")})
                cache[key] = (sales, skus, promotions)
            except NotFound as exc:  # a SKU of the run is gone: its inputs are not there any more
                cache[key] = exc
        loaded = cache[key]
        if isinstance(loaded, NotFound):
            known = set(session.scalars(select(Sku.code).where(Sku.code.in_(codes))))
            return RunInputs(run_id, run.as_of, run.inputs_fingerprint, "",
                             gone=tuple(c for c in codes if c not in known))
        sales, skus, promotions = loaded
        current = inputs_fingerprint(frames_digest(sales, skus, promotions), run.parameters)
        parts: tuple[str, ...] = ()
        if run.inputs_parts and current != run.inputs_fingerprint:
            now_parts = part_digests(sales, skus, promotions, run.parameters)
            parts = tuple(name for name, digest in now_parts.items() if run.inputs_parts.get(name) != digest)
        return RunInputs(run_id, run.as_of, run.inputs_fingerprint, current, changed_parts=parts)


def runs_inputs(target: Engine | Session, run_ids: Sequence[int]) -> dict[int, RunInputs]:
    """`run_inputs` of several runs, reading each (as-of, SKUs) history once."""
    cache: dict[tuple[date, tuple[str, ...]], Any] = {}
    with _session_scope(target) as session:
        return {run_id: run_inputs(session, run_id, cache) for run_id in run_ids}


def summarise(
    result: ForecastResult, run_id: int, as_of: date, duration: float, scope: str = "complete"
) -> RunSummary:
    """Counts for the end-of-run summary: models chosen, classes, fallbacks by first reason."""
    series = result.series
    reasons = series["fallback_reason"].dropna()
    fallback_kinds = Counter(_reason_kind(r) for r in reasons)
    return RunSummary(
        run_id=run_id, as_of=as_of, n_series=len(series),
        models=dict(Counter(series[MODEL])), classes=dict(Counter(series["demand_class"])),
        n_fallbacks=int(len(reasons)), fallback_reasons=dict(fallback_kinds), duration_s=duration,
        effects=result.effects[result.effects["multiplier"] != 1.0].to_dict("records"),
        scope=scope,
    )


def _reason_kind(reason: str) -> str:
    """The first reason without its specifics: "theta failed in backtest", "too short to backtest"."""
    first = reason.split(";")[0].split(":")[0]
    return re.sub(r"\s*\(.*?\)|\s+at \d{4}-\d{2}-\d{2}", "", first).strip()


def _json_floats(array: np.ndarray | None) -> list[list[float | None]] | None:
    if array is None:
        return None
    return [[None if not np.isfinite(v) else round(float(v), 4) for v in row] for row in np.asarray(array)]


def _clean_json(value: Any) -> Any:
    return to_jsonable(value, float_digits=6)


def store_run(session: Session, result: ForecastResult, as_of: date, started_at: datetime,
              duration_s: float, skus: pd.DataFrame, scope: str = "complete",
              inputs_digest: str | None = None, inputs_parts: dict[str, str] | None = None) -> int:
    """Write the run, its per-SKU rows and its forecast values; returns the run id (no commit).

    `scope`: "complete" when the run covers every active SKU, else "partial". `inputs_digest`
    (`frames_digest` of what the run read) becomes, with the stored parameters, the run's
    `inputs_fingerprint`; `inputs_parts` (`part_digests`) lets a later check name what changed.
    """
    parameters = _clean_json(result.params)
    sku_id = skus.set_index(UNIQUE_ID)["sku_id"].astype(int).to_dict()
    series = result.series
    totals = {row[UNIQUE_ID]: season_total_json(row) for row in result.season_totals.to_dict("records")}
    run = ForecastRun(
        as_of=as_of, started_at=started_at, status="succeeded", freq=result.freq,
        horizon=int(result.forecasts.groupby(UNIQUE_ID).size().max()),
        quantiles=list(result.quantiles), parameters=parameters,
        library_versions=library_versions(), effects=_clean_json(result.effects.to_dict("records")),
        duration_s=round(duration_s, 3), n_series=len(series),
        n_fallbacks=int(series["fallback_reason"].notna().sum()), scope=scope,
        inputs_fingerprint=None if inputs_digest is None else inputs_fingerprint(inputs_digest, parameters),
        inputs_parts=inputs_parts,
    )
    session.add(run)
    session.flush()
    session.execute(insert(ForecastSeries), [
        {
            "run_id": run.id, "sku_id": sku_id[row[UNIQUE_ID]], "demand_class": row["demand_class"],
            "model": row[MODEL], "score": _clean_json(float(row["score"])),
            "scores": _clean_json(row["scores"]), "fallback_reason": row["fallback_reason"],
            "coverage": _clean_json(row["coverage"]), "n_obs": int(row["n_obs"]),
            "level": float(row["level"]),
            "backtest_errors": _json_floats(row["backtest_errors"]),
            "backtest_forecasts": _json_floats(row["backtest_forecasts"]),
            "season_total": totals.get(row[UNIQUE_ID]),
        }
        for row in series.to_dict("records")
    ])
    columns = [quantile_column(q) for q in result.quantiles]
    frame = result.forecasts
    ids = frame[UNIQUE_ID].map(sku_id).to_numpy()
    dates = frame[DS].dt.date.to_numpy()
    means = frame[MEAN].round(4).to_numpy()
    quantiles = frame[columns].round(4).to_numpy()
    batch = 20_000
    for start in range(0, len(frame), batch):
        session.execute(insert(ForecastValue), [
            {"run_id": run.id, "sku_id": int(ids[k]), "date": dates[k], "mean": float(means[k]),
             "quantiles": dict(zip(columns, map(float, quantiles[k]), strict=True))}
            for k in range(start, min(start + batch, len(frame)))
        ])
    return int(run.id)


def season_total_json(row: dict[str, Any]) -> dict[str, Any]:
    """A season-total row (forecasting.seasons.COLUMNS) as stored: dates as ISO text, floats rounded."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in (UNIQUE_ID, GROUP):
            continue
        if isinstance(value, pd.Timestamp):
            out[key] = value.date().isoformat()
        elif isinstance(value, (float, np.floating)):
            out[key] = None if not np.isfinite(value) else round(float(value), 4)
        elif isinstance(value, (np.integer,)):
            out[key] = int(value)
        else:
            out[key] = _clean_json(value) if not isinstance(value, list) else [_clean_json(v) for v in value]
    return out


def record_failed_run(engine: Engine, as_of: date, started_at: datetime, message: str,
                      settings: ForecastSettings) -> int:
    """Store a failed run with its message (its own transaction: nothing else was written)."""
    with unit_of_work(engine) as session:
        config = engine_config(settings)
        run = ForecastRun(as_of=as_of, started_at=started_at, status="failed", freq="D",
                          horizon=config.horizon, quantiles=list(config.quantiles),
                          parameters={"engine": _clean_json(config.to_json())},
                          library_versions=library_versions(), effects=[], duration_s=0.0,
                          n_series=0, n_fallbacks=0, message=message[:4000])
        session.add(run)
        session.flush()
        return int(run.id)


def load_run(target: Engine | Session, run_id: int) -> ForecastResult:
    """A stored run as a `ForecastResult` (forecasts, per-SKU selection, backtests) for `total_demand`."""
    with _session_scope(target) as session:
        run = session.get(ForecastRun, run_id)
        if run is None:
            raise NotFound(f"no forecast run {run_id}")
        if run.status != "succeeded":
            raise NotFound(f"forecast run {run_id} failed: {run.message}")
        codes = dict(session.execute(select(Sku.id, Sku.code)).all())
        categories = dict(session.execute(
            select(Sku.code, Category.code).join(Category, Sku.category_id == Category.id)).all())
        series_rows = session.execute(select(ForecastSeries).where(ForecastSeries.run_id == run_id)
                                      ).scalars().all()
        series = pd.DataFrame([{
            UNIQUE_ID: codes[r.sku_id], GROUP: categories.get(codes[r.sku_id]),
            "demand_class": r.demand_class, MODEL: r.model,
            "score": float("nan") if r.score is None else r.score, "scores": r.scores,
            "fallback_reason": r.fallback_reason, "coverage": r.coverage, "n_obs": r.n_obs,
            "level": r.level,
            "backtest_errors": None if r.backtest_errors is None
            else np.array(r.backtest_errors, dtype=float),
            "backtest_forecasts": None if r.backtest_forecasts is None
            else np.array(r.backtest_forecasts, dtype=float),
        } for r in series_rows])
        values = session.execute(
            select(ForecastValue.sku_id, ForecastValue.date, ForecastValue.mean, ForecastValue.quantiles)
            .where(ForecastValue.run_id == run_id)
            .order_by(ForecastValue.sku_id, ForecastValue.date)
        ).all()
        models = series.set_index(UNIQUE_ID)[MODEL] if not series.empty else pd.Series(dtype=str)
        columns = [quantile_column(q) for q in run.quantiles]
        forecasts = pd.DataFrame({
            UNIQUE_ID: [codes[v.sku_id] for v in values],
            DS: pd.to_datetime([v.date for v in values]),
            MEAN: [v.mean for v in values],
        })
        forecasts.insert(2, MODEL, forecasts[UNIQUE_ID].map(models))
        for column in columns:
            forecasts[column] = [v.quantiles[column] for v in values]
        effects = pd.DataFrame(run.effects, columns=[GROUP, "event", "window", "multiplier"])
        params = dict(run.parameters)
        params.update({"run_id": run.id, "as_of": run.as_of.isoformat(),
                       "library_versions": run.library_versions})
        season_rows = [{UNIQUE_ID: codes[r.sku_id], GROUP: categories.get(codes[r.sku_id]),
                        **_season_total_frame_row(r.season_total)}
                       for r in series_rows if r.season_total]
        return ForecastResult(forecasts, series, effects, run.freq, tuple(run.quantiles), params,
                              run.duration_s,
                              season_totals=pd.DataFrame(season_rows, columns=SEASON_COLUMNS))


def _season_total_frame_row(stored: dict[str, Any]) -> dict[str, Any]:
    row = {key: (float("nan") if value is None and key not in ("reasons",) else value)
           for key, value in stored.items()}
    for key in ("season_start", "season_end"):
        row[key] = pd.Timestamp(stored[key])
    return row


def season_total_of(result: ForecastResult, sku_code: str) -> dict[str, Any] | None:
    """The stored season total of one SKU in a run (None when its category has no season ahead):
    season_start/end, total, model_total, last_season, season_before, trend, weight,
    ratio_to_last_season, reasons (codes with parameters) — see forecasting.seasons."""
    rows = result.season_totals[result.season_totals[UNIQUE_ID] == sku_code]
    if rows.empty:
        return None
    return rows.iloc[0].to_dict()


def latest_run(target: Engine | Session, as_of: date | None = None) -> ForecastResult:
    """The most recent succeeded run (with as-of on or before `as_of` when given)."""
    with _session_scope(target) as session:
        query = select(ForecastRun.id).where(ForecastRun.status == "succeeded")
        if as_of is not None:
            query = query.where(ForecastRun.as_of <= as_of)
        run_id = session.execute(query.order_by(ForecastRun.as_of.desc(), ForecastRun.id.desc())
                                 ).scalars().first()
        if run_id is None:
            raise NotFound("no succeeded forecast run yet: run `restock forecast`")
        return load_run(session, run_id)


def list_runs(target: Engine | Session, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs, newest first: id, as_of, started_at, status, scope (complete | partial),
    n_series, n_fallbacks, duration_s, message."""
    with _session_scope(target) as session:
        runs = session.scalars(select(ForecastRun).order_by(ForecastRun.id.desc()).limit(limit)).all()
        return [
            {"id": r.id, "as_of": r.as_of.isoformat(), "started_at": r.started_at.isoformat(),
             "status": r.status, "scope": r.scope, "n_series": r.n_series, "n_fallbacks": r.n_fallbacks,
             "duration_s": r.duration_s, "message": r.message}
            for r in runs
        ]


class RunInUse(RestockError):
    """A forecast run that other records (proposals) read cannot be deleted."""

    exit_code = 18


def run_references(session: Session, run_ids: Sequence[int]) -> dict[int, list[tuple[str, int]]]:
    """Per run id, the rows outside forecasting that name it: [(table, row id), ...].

    Found through the database's own foreign keys to `forecast_runs`, so forecasting needs to
    know no other package's tables (proposals today), whichever models this process loaded.
    """
    found: dict[int, list[tuple[str, int]]] = {}
    if not run_ids:
        return found
    inspector = sa_inspect(session.connection())
    own = {ForecastRun.__tablename__, ForecastSeries.__tablename__, ForecastValue.__tablename__}
    for name in sorted(set(inspector.get_table_names()) - own):
        for fk in inspector.get_foreign_keys(name):
            if fk["referred_table"] != ForecastRun.__tablename__ or len(fk["constrained_columns"]) != 1:
                continue
            table = sa_table(name, sa_column("id"), sa_column(fk["constrained_columns"][0]))
            column = table.c[fk["constrained_columns"][0]]
            rows = session.execute(
                select(column, table.c.id).where(column.in_(list(run_ids))).order_by(table.c.id)
            ).all()
            for run_id, row_id in rows:
                found.setdefault(int(run_id), []).append((name, int(row_id)))
    return found


def delete_run(target: Engine | Session, run_id: int) -> None:
    """Remove a run and its rows; a run that a proposal read is refused (`RunInUse`)."""
    with _session_scope(target) as session:
        used = run_references(session, [run_id]).get(run_id)
        if used:
            raise RunInUse(f"forecast run {run_id} is used by {_named(used)}: it cannot be deleted")
        for table in (ForecastValue, ForecastSeries):
            session.execute(delete(table).where(table.run_id == run_id))
        session.execute(delete(ForecastRun).where(ForecastRun.id == run_id))


def _named(rows: list[tuple[str, int]]) -> str:
    by_table: dict[str, list[int]] = {}
    for table, row_id in rows:
        by_table.setdefault(table, []).append(row_id)
    return "; ".join(f"{table} {', '.join(map(str, ids))}" for table, ids in by_table.items())


@dataclass(frozen=True)
class PruneReport:
    """What `prune_runs` did: runs deleted, and older runs kept because records use them."""

    kept_newest: list[int]
    deleted: list[int]
    in_use: dict[int, str]


def prune_runs(target: Engine | Session, keep: int) -> PruneReport:
    """Delete all but the `keep` newest forecast runs (any status), in one transaction; a run that
    a proposal read is never deleted and is listed with who uses it."""
    if keep < 1:
        raise InvalidInput(f"--keep: keep at least 1 run, got {keep}")
    with _session_scope(target) as session:
        ids = list(session.scalars(select(ForecastRun.id).order_by(ForecastRun.id.desc())))
        newest, older = ids[:keep], ids[keep:]
        used = run_references(session, older)
        doomed = [run_id for run_id in older if run_id not in used]
        for start in range(0, len(doomed), 500):
            chunk = doomed[start:start + 500]
            for table in (ForecastValue, ForecastSeries):
                session.execute(delete(table).where(table.run_id.in_(chunk)))
            session.execute(delete(ForecastRun).where(ForecastRun.id.in_(chunk)))
        in_use = {run_id: _named(rows) for run_id, rows in sorted(used.items())}
        return PruneReport(newest, sorted(doomed), in_use)


def accuracy_report(result: ForecastResult) -> dict[str, Any]:
    """Backtest accuracy of a run by category and by model, next to seasonal naive on the same series.

    MASE (Hyndman & Koehler 2006) is the mean of per-series MASE; WAPE = Σ|error| /
    Σactual and bias = (Σforecast − Σactual) / Σactual pooled over the group;
    coverage = share of backtest actuals at or below each quantile (leave-one-origin-out).
    The chosen model's scores were also used to choose it, so they are slightly
    optimistic; `bench/forecast` measures on held-out origins.
    """
    if "backtest_errors" not in result.series.columns:
        raise InvalidInput("this run has no backtested series to score")
    series = result.series[result.series["backtest_errors"].notna()]
    if series.empty:
        raise InvalidInput("this run has no backtested series to score")
    rows = []
    for row in series.to_dict("records"):
        errors = np.asarray(row["backtest_errors"], float)
        forecasts = np.asarray(row["backtest_forecasts"], float)
        ok = ~np.isnan(errors)
        naive = (row["scores"] or {}).get("seasonal_naive") or {}
        chosen = (row["scores"] or {}).get(row[MODEL]) or {}
        actual_total = float(np.sum((errors + forecasts)[ok]))
        rows.append({
            GROUP: row[GROUP], MODEL: row[MODEL], "mase": chosen.get("mase"),
            "abs_error": float(np.sum(np.abs(errors[ok]))), "forecast": float(np.sum(forecasts[ok])),
            "actual": actual_total,
            "naive_mase": naive.get("mase"),
            "naive_abs_error": (naive.get("wape") or 0.0) * actual_total if naive else None,
            "naive_bias": naive.get("bias"),
            **{f"cov_{k}": v for k, v in (row["coverage"] or {}).items()},
        })
    frame = pd.DataFrame(rows)

    def summarise_group(part: pd.DataFrame) -> dict[str, Any]:
        actual = part["actual"].sum()
        with_naive = part[part["naive_mase"].notna()]
        out = {
            "series": int(len(part)),
            "mase": _round(part["mase"].astype(float).mean()),
            "wape": _round(part["abs_error"].sum() / actual) if actual > 0 else None,
            "bias": _round((part["forecast"].sum() - actual) / actual) if actual > 0 else None,
            "seasonal_naive_mase": _round(with_naive["naive_mase"].astype(float).mean())
            if not with_naive.empty else None,
            "seasonal_naive_wape": _round(with_naive["naive_abs_error"].astype(float).sum()
                                          / with_naive["actual"].sum())
            if not with_naive.empty and with_naive["actual"].sum() > 0 else None,
            "mase_same_series": _round(with_naive["mase"].astype(float).mean())
            if not with_naive.empty else None,
        }
        for column in [c for c in part.columns if c.startswith("cov_")]:
            out["coverage_" + column[4:]] = _round(part[column].astype(float).mean())
        return out

    return {
        "run_id": result.params.get("run_id"),
        "as_of": result.params.get("as_of"),
        "overall": summarise_group(frame),
        "by_category": {str(k): summarise_group(v) for k, v in frame.groupby(GROUP, dropna=False)},
        "by_model": {str(k): summarise_group(v) for k, v in frame.groupby(MODEL)},
    }


def _round(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 4)


def latest_sales_date(target: Engine | Session) -> date:
    """The last business date with any sales row (the default as-of of a run)."""
    with _session_scope(target) as session:
        last = session.execute(select(func.max(DailySales.date))).scalar_one()
    if last is None:
        raise ForecastFailed("no sales in the database: import sales first (`restock import`)")
    return last
