"""Benchmark: `restock proposal reoptimize` on the sample business after two edits.

Builds the demo database (import, forecast, proposal of 2026-08-31) in a temporary
directory, then repeats: copy the database, edit two lines with reasons (CMC-010 cut to
50 units, which drops SUP-C below tier 2; MCK-012 cut from 228 to 120 for supplier capacity), and time the
re-optimisation through the service the CLI calls. Baseline, in the same run on the same
problem: the full optimizer from scratch (`optimize(problem)`), as a fresh `propose`
would solve it, and the same re-optimisation cold (`warm_start=False`) on a copy of the
same edited database. Figures: median wall and CPU seconds of each, and their ratios.

    python -m bench.reoptimize [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench._common import write_results

TZ = ZoneInfo("Asia/Shanghai")
REASONS = ["promotion_plan_changed", "supplier_capacity", "quality_issue", "budget", "other"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load_start = round(os.getloadavg()[0], 2)

    from rich.console import Console
    from sqlalchemy import select

    from kernel.orm import unit_of_work
    from replenishment.approval import Who, edit_line, reoptimize_proposal
    from replenishment.models import Proposal
    from replenishment.optimizer import optimize
    from replenishment.problem import problem_from_json
    from restock.db import make_engine
    from restock.demo import run_demo
    from restock.settings import load_settings

    settings = load_settings()
    work = Path(tempfile.mkdtemp(prefix="bench-reoptimize-"))
    try:
        source = work / "demo.db"
        run_demo(
            settings, samples_dir=Path("data/samples"), database_file=source, console=Console(quiet=True)
        )
        engine = make_engine(f"sqlite:///{source}")
        with unit_of_work(engine) as session:
            proposal = session.scalars(select(Proposal)).one()
            problem = problem_from_json(proposal.problem)
            proposal_id, lines = proposal.id, len(proposal.lines)
        engine.dispose()

        full_wall, full_cpu, re_wall, re_cpu, solver_s = [], [], [], [], []
        cold_wall, cold_cpu, cold_solver_s = [], [], []
        status, warm_messages = "", []
        spend = profit = cold_spend = cold_profit = ""
        for n in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            optimize(problem)
            full_wall.append(time.perf_counter() - wall)
            full_cpu.append(time.process_time() - cpu)

            copy = work / f"run{n}.db"
            # the backup API copies what the write-ahead log still holds, a file copy would not
            with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
                src.backup(dst)
            engine = make_engine(f"sqlite:///{copy}")
            who = Who("bench", datetime(2026, 8, 31, 10, tzinfo=TZ))
            edit_line(
                engine,
                proposal_id,
                "CMC-010",
                who,
                reason_codes=REASONS,
                reason_code="promotion_plan_changed",
                units=50,
            )
            edit_line(
                engine,
                proposal_id,
                "MCK-012",
                who,
                reason_codes=REASONS,
                reason_code="supplier_capacity",
                units=120,
            )
            # the same edits, re-optimised cold (no warm start) on a second copy: the baseline
            cold_copy = work / f"run{n}-cold.db"
            with sqlite3.connect(copy) as src, sqlite3.connect(cold_copy) as dst:
                src.backup(dst)
            cold_engine = make_engine(f"sqlite:///{cold_copy}")
            wall, cpu = time.perf_counter(), time.process_time()
            cold = reoptimize_proposal(cold_engine, proposal_id, who, warm_start=False)
            cold_wall.append(time.perf_counter() - wall)
            cold_cpu.append(time.process_time() - cpu)
            cold_solver_s.append(cold.solve_s)
            cold_engine.dispose()

            wall, cpu = time.perf_counter(), time.process_time()
            outcome = reoptimize_proposal(engine, proposal_id, who)
            re_wall.append(time.perf_counter() - wall)
            re_cpu.append(time.process_time() - cpu)
            solver_s.append(outcome.solve_s)
            status = outcome.status
            with unit_of_work(engine) as session:
                proposal = session.get(Proposal, proposal_id)
                warm_messages = [m for m in proposal.messages if m.startswith("warm start")]
                spend, profit = str(proposal.spend), str(proposal.expected_profit)
            with unit_of_work(cold_engine) as session:
                proposal = session.get(Proposal, proposal_id)
                cold_spend, cold_profit = str(proposal.spend), str(proposal.expected_profit)
            engine.dispose()
            cold_engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    figures = {
        "reoptimize_wall_s": round(statistics.median(re_wall), 3),
        "reoptimize_cpu_s": round(statistics.median(re_cpu), 3),
        "reoptimize_solver_s": round(statistics.median(solver_s), 3),
        "reoptimize_max_wall_s": round(max(re_wall), 3),
        "status": status,
        "spend_cny": spend,
        "expected_profit_cny": profit,
        "load_average_1m_start": load_start,
        "load_average_1m_end": round(os.getloadavg()[0], 2),
    }
    baselines = {
        "reoptimize_cold": {
            "wall_s": round(statistics.median(cold_wall), 3),
            "cpu_s": round(statistics.median(cold_cpu), 3),
            "solver_s": round(statistics.median(cold_solver_s), 3),
            "max_wall_s": round(max(cold_wall), 3),
            "spend_cny": cold_spend,
            "expected_profit_cny": cold_profit,
        },
        "full_optimize": {
            "wall_s": round(statistics.median(full_wall), 3),
            "cpu_s": round(statistics.median(full_cpu), 3),
        },
    }
    ratios = {
        "reoptimize_wall_vs_cold": round(
            figures["reoptimize_wall_s"] / baselines["reoptimize_cold"]["wall_s"], 3
        ),
        "reoptimize_cpu_vs_cold": round(
            figures["reoptimize_cpu_s"] / baselines["reoptimize_cold"]["cpu_s"], 3
        ),
        "reoptimize_solver_vs_cold": round(
            figures["reoptimize_solver_s"] / baselines["reoptimize_cold"]["solver_s"], 3
        ),
        "reoptimize_wall_vs_full_optimize": round(
            figures["reoptimize_wall_s"] / baselines["full_optimize"]["wall_s"], 3
        ),
        "reoptimize_cpu_vs_full_optimize": round(
            figures["reoptimize_cpu_s"] / baselines["full_optimize"]["cpu_s"], 3
        ),
    }
    write_results(
        "reoptimize",
        params={
            "sample": "data/samples",
            "week": "2026-08-31",
            "lines": lines,
            "pinned": 2,
            "repeats": args.repeats,
        },
        figures=figures,
        baselines=baselines,
        ratios=ratios,
        libraries=["pulp", "highspy", "sqlalchemy"],
        notes=[
            "reoptimize = load the stored proposal, pin the edited lines, optimize the rest warm-started "
            "from the proposal's other lines (HiGHS setSolution; lines the edits made break a rule are "
            "dropped from the start), re-evaluate, store and audit (one transaction).",
            "baseline reoptimize_cold: the same service on a copy of the same edited database with "
            "warm_start=False (the full phased solve); full_optimize: the unedited problem from scratch.",
            f"warm start (last run): {'; '.join(warm_messages) or 'none'}",
            "the machine is shared by several jobs: CPU seconds are the steadier figure",
        ],
    )


if __name__ == "__main__":
    main()
