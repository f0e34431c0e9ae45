"""`restock demo`: a fresh SQLite database, the sample business imported, then every pipeline step.

The demo writes its own file (default `var/demo.db`, never the configured
database) and marks it as a demo database. It replaces an existing file only
when that file is a demo database nobody has added to since, unless `--force`.

It ends by creating a merchandiser, `demo`, with a fresh random password that it
prints and writes next to the database (`var/demo-login.txt`, readable by its owner
only), so `make serve` (which serves `var/demo.db` when RESTOCK_DATABASE_URL is unset)
lets a merchandiser log in. Everything else the demo writes is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, func, select

from kernel.clock import now
from kernel.errors import OutputExists
from restock.db import make_engine, upgrade
from restock.settings import PROJECT_ROOT, Settings
from scheduler.runs import job_run


@dataclass
class DemoSummary:
    """What the demo did, step by step, for the closing table."""

    database: str
    steps: list[tuple[str, str]] = field(default_factory=list)
    headline: Group | None = None
    # Further sections (brushing clusters removed, the pre-sale replay) shown after the headline.
    extras: list[Group] = field(default_factory=list)
    login: DemoLogin | None = None

    def __rich__(self) -> Group:
        table = Table("step", "result", title="restock demo", show_lines=False)
        for step, result in self.steps:
            table.add_row(step, result)
        parts: list[Any] = [table]
        if self.headline is not None:
            parts.append(self.headline)
        parts.extend(self.extras)
        parts.append(
            Text(
                f"database: {self.database}  (look around: "
                f"RESTOCK_DATABASE_URL={self.database} restock status)"
            )
        )
        if self.login is not None:
            parts.append(self.login.__rich__())
        return Group(*parts)


@dataclass(frozen=True)
class DemoLogin:
    """The demo's merchandiser account and how to reach the web app with it."""

    user: str
    password: str
    url: str
    database: str
    file: Path

    def __rich__(self) -> Text:
        text = Text("web app: ", style="bold")
        text.append(
            f"make serve (or RESTOCK_DATABASE_URL={self.database} restock serve), open {self.url} and "
            f"log in as {self.user} (merchandiser) with the password {self.password} "
            f"(also in {self.file}, readable by you only)",
            style="default",
        )
        return text


DEMO_USER = "demo"


def _database_path(database_file: Path) -> Path:
    return database_file if database_file.is_absolute() else PROJECT_ROOT / database_file


def create_demo_login(engine: Engine, settings: Settings, database_file: Path, when: datetime) -> DemoLogin:
    """Add the merchandiser `demo` with a random password; write it to `<database>-login.txt`
    (mode 600, replaced atomically) and return it. The password exists only there and on screen."""
    import os
    import secrets

    from kernel.orm import unit_of_work
    from restock.accounts import add_user

    password = secrets.token_urlsafe(12)  # 16 characters, 96 random bits
    with unit_of_work(engine) as session:
        add_user(session, name=DEMO_USER, role="merchandiser", password=password, now=when, actor="demo")
    path = _database_path(database_file)
    target = path.with_name(f"{path.stem}-login.txt")
    url = f"http://{settings.web.host}:{settings.web.port}/"
    database = f"sqlite:///{path}"
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(
            "# restock demo: the web app's merchandiser account (run `make serve`, then open the URL)\n"
            f"url: {url}\nuser: {DEMO_USER}\npassword: {password}\ndatabase: {database}\n"
        )
    os.replace(partial, target)
    return DemoLogin(DEMO_USER, password, url, database, target)


# SQLite's `PRAGMA application_id` of a database `restock demo` created ("RSTD").
DEMO_APPLICATION_ID = 0x52535444
# What one demo run writes; a database with more was used for something else since.
_DEMO_JOB_RUNS = 3


def demo_database_state(path: Path) -> str | None:
    """None when `path` is a demo database holding only what the demo wrote; else why it is not."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return f"cannot be opened as a database ({exc})"
    try:
        if conn.execute("PRAGMA application_id").fetchone()[0] != DEMO_APPLICATION_ID:
            return "was not created by `restock demo`"
        others = conn.execute("SELECT count(*) FROM audit_log WHERE actor <> 'demo'").fetchone()[0]
        runs = conn.execute("SELECT count(*) FROM job_runs").fetchone()[0]
        if others or runs > _DEMO_JOB_RUNS:
            return "holds data added after the demo (imports or job runs of its own)"
        return None
    except sqlite3.Error as exc:
        return f"is not a restock database ({exc})"
    finally:
        conn.close()


def fresh_sqlite(database_file: Path, *, force: bool = False) -> Engine:
    """Create the demo's SQLite file anew (deleting a previous demo database and its WAL files).

    Raises `OutputExists` when the file exists and is not an untouched demo
    database, unless `force`.
    """
    path = _database_path(database_file)
    if path.is_dir():
        raise OutputExists(f"--database {path} is a directory")
    if (path.exists() or path.is_symlink()) and not force:
        why = demo_database_state(path)
        if why is not None:
            raise OutputExists(
                f"--database {path} already exists and {why}: the demo will not replace it; "
                "choose another --database or pass --force"
            )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
    return engine


def history_end(engine: Engine) -> date:
    """The last business date with sales in the database."""
    from forecasting.models import DailySales

    with engine.connect() as conn:
        last = conn.execute(select(func.max(DailySales.date))).scalar_one()
    if last is None:
        raise ValueError("no sales were imported")
    return last


def run_demo(
    settings: Settings, *, samples_dir: Path, database_file: Path, console: Console, force: bool = False
) -> DemoSummary:
    """Build the demo database and run each pipeline step in order; return the summary.

    Steps: import the samples; forecast every SKU as of the last sales date;
    build the proposal of the Monday after it. Each step is a recorded job run.
    """
    from restock.demo_orders import import_sample_orders, presale_replay
    from restock.importing import import_path

    engine = fresh_sqlite(database_file, force=force)
    summary = DemoSummary(database=engine.url.render_as_string(hide_password=True))
    samples = samples_dir if samples_dir.is_absolute() else PROJECT_ROOT / samples_dir

    def clock() -> datetime:
        return now(settings.tz)

    with (
        console.status("importing the sample business…"),
        job_run(engine, "import", as_of=None, now=clock) as run,
    ):
        report = import_path(engine, samples, actor="demo", now=clock(), season_names=list(settings.seasons))
        run.message = f"{report.rows:,} rows from {len(report.files)} files"
        orders = import_sample_orders(engine, settings, samples, clock())
        if orders is not None:
            run.message += "; order lines imported, brushing flagged"
    summary.steps.append(("import", f"{report.rows:,} rows from {len(report.files)} files ({samples_dir})"))
    if orders is not None:
        summary.steps.append(("brushing", orders[0]))
        summary.extras.append(orders[1])

    as_of = history_end(engine)
    week = as_of + timedelta(days=(7 - as_of.weekday()) % 7 or 7)

    forecast = _forecast_step(engine, settings, as_of, clock, console)
    summary.steps.append(("forecast", forecast))

    proposal, headline = _propose_step(engine, settings, week, clock, console)
    summary.steps.append(("proposal", proposal))
    summary.headline = headline

    with console.status("replaying Double 11 with and without the pre-sale deposits…"):
        replay = presale_replay(engine, settings, as_of, clock)
    if replay is not None:
        summary.steps.append(("pre-sale", replay[0]))
        summary.extras.append(replay[1])
    summary.login = create_demo_login(engine, settings, database_file, clock())
    summary.steps.append(("web login", f"merchandiser {DEMO_USER}, password in {summary.login.file}"))
    return summary


def _forecast_step(
    engine: Engine, settings: Settings, as_of: date, clock: Callable[[], datetime], console: Console
) -> str:
    from forecasting.execution import make_runner
    from forecasting.services import run_forecast

    with (
        console.status(f"forecasting every SKU as of {as_of}…"),
        job_run(engine, "forecast", as_of=as_of, now=clock) as run,
    ):
        result = run_forecast(
            engine, as_of, settings.forecast_settings(), runner=make_runner(settings.forecasting.executor),
            now=clock(),
        )
        models = ", ".join(f"{name} {count}" for name, count in sorted(result.models.items()))
        text = (
            f"run {result.run_id}: {result.n_series} SKUs as of {as_of} in {result.duration_s:.0f} s; "
            f"models: {models}; {result.n_fallbacks} fell back"
        )
        run.message = text
    return text


def _propose_step(
    engine: Engine, settings: Settings, week: date, clock: Callable[[], datetime], console: Console
) -> tuple[str, Group]:
    from replenishment.services import build_proposal

    with (
        console.status(f"building the proposal for the week of {week}…"),
        job_run(engine, "propose", as_of=week, now=clock) as run,
    ):
        result = build_proposal(engine, week, settings.proposal_settings(), now=clock(), force=True)
        plan = result.plan
        assert plan is not None  # force: always solved and stored
        text = (
            f"proposal {result.proposal_id} (week {week}, v{result.version}): {len(plan.lines)} lines, "
            f"¥{plan.spend:,.2f}, rebate gain ¥{plan.rebate_gain:,.2f}, "
            f"{len(plan.exclusions)} SKUs left out; "
            f"{plan.status}, gap {_percent(plan.gap)} — see `restock proposal show {result.proposal_id}`"
        )
        run.message = text
    return text, headline_table(plan)


def headline_table(plan: Any, limit: int = 12) -> Group:
    """The proposal lines a merchandiser looks at first (seasonal buys, tier raises, then value),
    and the most important SKUs left out; one paragraph each so it reads at any terminal width.
    Lines and SKUs are chosen by reason code, never by the words of a reason."""
    from replenishment.reasons import ReasonCode

    # One group per story a merchandiser checks first, each by value, then the largest of the rest.
    by_value = sorted(plan.lines, key=lambda line: -float(line.value))
    groups = (
        (ReasonCode.PREBUILD, 4),
        (ReasonCode.ADMITTED_BY_TIER, 3),
        (ReasonCode.RAISED_TO_TIER, 3),
        (None, limit),
    )
    chosen: list[Any] = []
    for code, most in groups:
        chosen += [
            line
            for line in by_value
            if (code is None or code in {r.code for r in line.reasons}) and line not in chosen
        ][:most]
    chosen = chosen[:limit]

    parts: list[Any] = [Text("headline lines", style="bold")]
    for line in chosen:
        text = Text(f"{line.sku} ← {line.supplier}: ", style="bold")
        text.append(
            f"{line.units:,} units, ¥{line.value:,.2f}, effective cost ¥{line.effective_unit_cost:,.2f}, "
            f"margin {line.margin_pct:.1f} % — {line.reason}",
            style="default",
        )
        parts.append(text)
    parts.append(Text("left out", style="bold"))
    for exclusion in sorted(plan.exclusions, key=_exclusion_rank)[:6]:
        parts.append(Text(f"{exclusion.sku}: {exclusion.reason}"))
    return Group(*parts)


def _exclusion_rank(exclusion: Any) -> tuple[int, str]:
    # A merchandiser acts on margin and supply problems; "a later week can still buy it" can wait.
    from replenishment.reasons import ReasonCode

    order = (
        ReasonCode.BELOW_MARGIN_FLOOR,
        ReasonCode.BELOW_FLOOR_UNLESS_TIER,
        ReasonCode.MOQ_ABOVE_NEED,
        ReasonCode.BUDGET,
        ReasonCode.MIN_ORDER_VALUE,
        ReasonCode.NO_FORECAST,
        ReasonCode.NO_PROFITABLE_ORDER,
    )
    first = order.index(exclusion.code) if exclusion.code in order else len(order)
    return first, exclusion.sku


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"
