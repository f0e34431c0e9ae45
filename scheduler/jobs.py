"""The scheduled jobs: one function each, calling a service; no business logic here.

Every job takes a `JobContext` (database, settings, business date, clock) and
returns a `JobOutcome` (message and counts for the job-run history). `JOBS`
declares, per job, how a scheduled time maps to the business date the run is
for and to its idempotency key. `scheduler.runner.run_job` is the one path
that runs them: scheduled, by hand (`restock run`), or after a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine

from restock.settings import Settings

log = logging.getLogger("restock.scheduler")


@dataclass(frozen=True)
class JobContext:
    """What a job may use: the database, the settings, the business date and the clock."""

    engine: Engine
    settings: Settings
    business_date: date
    key: str
    now: Callable[[], datetime]
    trigger: str
    scheduled_at: datetime | None = None


@dataclass
class JobOutcome:
    """How a job ended: 'succeeded', or 'skipped' when it had nothing to do; a message and counts."""

    message: str
    counts: dict[str, Any] = field(default_factory=dict)
    status: Literal["succeeded", "skipped"] = "succeeded"


@contextmanager
def _work_lock(ctx: JobContext, work: str) -> Iterator[None]:
    """The lock `restock import` / `restock forecast` take (`job:import`, `job:forecast`), so the
    nightly job's inbox import and forecast never overlap a person's: each waits up to
    `lock_wait_s`, logging whom it waits for, then fails with `JobLockBusy` naming the holder."""
    from kernel.locks import LockHolder, job_lock
    from scheduler.runner import lock_kind

    def waiting(holder: LockHolder | None) -> None:
        who = holder.describe(ctx.settings.tz) if holder is not None else f"another {work}"
        log.warning("nightly: waiting for %s (up to %.0f s)", who, ctx.settings.lock_wait_s)

    with job_lock(
        ctx.engine,
        lock_kind(work),
        now=ctx.now,
        wait_s=ctx.settings.lock_wait_s,
        holder=f"scheduler (nightly, {ctx.trigger})",
        on_wait=waiting,
        lease_s=ctx.settings.scheduler.lease_s,
        tz=ctx.settings.tz,
    ):
        yield


def nightly(ctx: JobContext) -> JobOutcome:
    """Import every file waiting in the inbox (each to processed/ or failed/), then forecast as of
    the business date (the last complete sales day)."""
    from forecasting.execution import make_runner
    from forecasting.services import run_forecast
    from restock.inbox import OrdersOptions, import_inbox

    inbox = ctx.settings.project_path(ctx.settings.scheduler.inbox_dir)
    with _work_lock(ctx, "import"):
        report = import_inbox(
            ctx.engine, inbox, actor="scheduler", now=ctx.now(), season_names=tuple(ctx.settings.seasons),
            orders=OrdersOptions(tz=ctx.settings.timezone, brushing=ctx.settings.brushing),
        )
    for refused in report.failed:
        log.warning("inbox: %s refused, see %s", refused.name, refused.report)
    log.info("nightly: forecasting as of %s", ctx.business_date)
    with _work_lock(ctx, "forecast"):
        summary = run_forecast(
            ctx.engine,
            ctx.business_date,
            ctx.settings.forecast_settings(),
            runner=make_runner(ctx.settings.forecasting.executor),
            now=ctx.now(),
        )
    parts = [f"forecast run {summary.run_id}: {summary.n_series} SKUs as of {ctx.business_date}"]
    if report.files:
        parts.insert(0, f"inbox: {len(report.imported)} file(s) imported ({report.rows:,} rows)")
    if report.failed:
        parts.append(
            f"{len(report.failed)} file(s) refused, nothing of them written: "
            + ", ".join(f"failed/{f.moved_to.name} (report {f.report.name})" for f in report.failed)
        )
    return JobOutcome(
        message="; ".join(parts),
        counts={
            "files_imported": len(report.imported),
            "files_failed": len(report.failed),
            "rows_imported": report.rows,
            "forecast_run_id": summary.run_id,
            "skus_forecast": summary.n_series,
            "fallbacks": summary.n_fallbacks,
        },
    )


def propose(ctx: JobContext) -> JobOutcome:
    """Build and store the proposal for the week starting on the business date (a Monday)."""
    from replenishment.services import build_proposal

    result = build_proposal(ctx.engine, ctx.business_date, ctx.settings.proposal_settings(), now=ctx.now())
    plan = result.plan
    if plan is None:  # the week's current version has the same inputs: nothing stored
        return JobOutcome(
            message=result.outcome(),
            counts={"proposal_id": result.proposal_id, "version": result.version, "stored": False},
            status="skipped",
        )
    return JobOutcome(
        message=(
            f"{result.outcome()}: "
            f"{len(plan.lines)} lines, ¥{plan.spend:,.2f}; {len(plan.exclusions)} SKUs left out; "
            f"{plan.status}"
        ),
        counts={
            "proposal_id": result.proposal_id,
            "version": result.version,
            "lines": len(plan.lines),
            "spend_cny": str(plan.spend),
            "left_out": len(plan.exclusions),
        },
    )


def export(ctx: JobContext) -> JobOutcome:
    """Export purchase orders approved since the last export (`restock export --pending`), one file
    per supplier in its format, into the outbox."""
    from replenishment.approval import Who, mark_proposals_exported
    from suppliers.export import export_purchase_orders

    settings = ctx.settings
    who = Who(actor="scheduler", now=ctx.now())
    report = export_purchase_orders(
        ctx.engine,
        actor=who.actor,
        now=who.now,
        tz=settings.tz,
        outbox=settings.project_path(settings.export.outbox),
        style_for=settings.export.style,
        pending=True,
        on_exported=lambda session, ids: mark_proposals_exported(session, ids, who),
    )
    counts = {"files": len(report.written), "completed_after_crash": len(report.recovered),
              "damaged": len(report.damaged)}
    if not report.written and not report.recovered:
        return JobOutcome(message="nothing to do: no approved purchase orders waiting for export",
                          counts=counts, status="skipped")
    written = ", ".join(f"{item['file']} ({item['supplier']})" for item in report.written)
    recovered = (
        f"; completed after an interrupted run: {', '.join(report.recovered)}" if report.recovered else ""
    )
    return JobOutcome(
        message=f"{len(report.written)} file(s) written to {report.outbox}: {written}{recovered}",
        counts=counts,
    )


def backup(ctx: JobContext) -> JobOutcome:
    """Back up the database (verified; mirrored when configured; retention applied)."""
    from restock.backup import create_backup

    conf = ctx.settings.backup
    result = create_backup(
        ctx.engine,
        ctx.settings.project_path(conf.dir),
        now=ctx.now(),
        mirror_dir=ctx.settings.project_path(conf.mirror_dir) if conf.mirror_dir else None,
        keep_daily=conf.keep_daily,
        keep_weekly=conf.keep_weekly,
        pg_dump=conf.pg_dump,
        pg_restore=conf.pg_restore,
    )
    rows = sum(result.manifest["counts"].values())
    mirrored = f", mirrored to {result.mirror.parent}" if result.mirror else ""
    return JobOutcome(
        message=(
            f"{result.path.name}: {result.size_bytes:,} bytes, {rows:,} rows in "
            f"{len(result.manifest['counts'])} tables, sha256 {result.sha256[:12]}…{mirrored}; "
            f"{len(result.removed)} old file(s) removed"
        ),
        counts={
            "bytes": result.size_bytes,
            "rows": rows,
            "tables": len(result.manifest["counts"]),
            "mirrored": result.mirror is not None,
            "files_removed": len(result.removed),
        },
    )


Period = Literal["day", "week", "slot"]


@dataclass(frozen=True)
class JobSpec:
    """A job: its function, what it does, and how its business date and idempotency key are found.

    `period` "day": the key is the business date, i.e. the scheduled local date
    plus `date_offset_days`; "week": the Monday of the scheduled local date;
    "slot": every scheduled time is its own key (frequent jobs such as export).
    """

    name: str
    function: Callable[[JobContext], JobOutcome]
    summary: str
    period: Period
    date_offset_days: int = 0

    @property
    def reference(self) -> str:
        """The job's function as `module:function` text."""
        return f"{self.function.__module__}:{self.function.__name__}"

    def business_date(self, local: datetime) -> date:
        """The business date a run scheduled at `local` (in the configured zone) is for."""
        day = local.date() + timedelta(days=self.date_offset_days)
        return day - timedelta(days=day.weekday()) if self.period == "week" else day

    def normalise(self, day: date) -> date:
        """A business date given by hand: the Monday of its week for weekly jobs."""
        return day - timedelta(days=day.weekday()) if self.period == "week" else day

    def key(self, business_date: date, local: datetime) -> str:
        """The idempotency key: the business date, or the scheduled minute for slot jobs."""
        if self.period == "slot":
            return local.replace(second=0, microsecond=0, tzinfo=None).isoformat(timespec="minutes")
        return business_date.isoformat()


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "nightly", nightly, "import the inbox, then forecast as of yesterday", "day", date_offset_days=-1
        ),
        JobSpec("propose", propose, "build this week's purchase proposal", "week"),
        JobSpec("export", export, "export newly approved purchase orders", "slot"),
        JobSpec("backup", backup, "verified database backup (+ mirror, retention)", "day"),
    )
}
