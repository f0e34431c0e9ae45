"""PO numbers come from one gapless per-year sequence, also under concurrent approvals (threads on
both databases, two processes on PostgreSQL and SQLite)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine, select, text

from kernel.orm import unit_of_work
from replenishment.approval import Who, approve_proposal, review_proposal
from suppliers.models import PurchaseOrder
from suppliers.purchase_orders import allocate_po_numbers, format_po_number
from tests.replenishment.approval_case import NOW, TZ, WEEK, seed_business, store_proposal

PROPOSALS = 6
POS_EACH = 4  # A, B (two delivery dates), C


def test_numbers_read_po_year_six_digits() -> None:
    assert format_po_number(2026, 123) == "PO-2026-000123"


def test_each_year_has_its_own_sequence(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        assert allocate_po_numbers(s, 2026, 2) == ["PO-2026-000001", "PO-2026-000002"]
        assert allocate_po_numbers(s, 2027, 1) == ["PO-2027-000001"]
        assert allocate_po_numbers(s, 2026, 1) == ["PO-2026-000003"]
        assert allocate_po_numbers(s, 2026, 0) == []


def _proposals(engine: Engine) -> list[int]:
    seed_business(engine)
    ids = [store_proposal(engine, week=WEEK + timedelta(days=7 * n)) for n in range(PROPOSALS)]
    for pid in ids:
        review_proposal(engine, pid, Who("alice", NOW))
    return ids


def _check_numbers(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        rows = s.execute(
            select(PurchaseOrder.po_number, PurchaseOrder.proposal_id).order_by(PurchaseOrder.po_number)
        ).all()
    numbers = [r.po_number for r in rows]
    assert numbers == [format_po_number(2026, n) for n in range(1, PROPOSALS * POS_EACH + 1)]
    # each approval took a block of consecutive numbers
    by_proposal: dict[int, list[int]] = {}
    for number, proposal in rows:
        by_proposal.setdefault(proposal, []).append(int(number[-6:]))
    for taken in by_proposal.values():
        assert taken == list(range(taken[0], taken[0] + POS_EACH))


def test_concurrent_approvals_in_threads_share_the_sequence_without_gap_or_duplicate(engine: Engine) -> None:
    ids = _proposals(engine)

    def approve(pid: int) -> int:
        # each proposal twice, at the same time: the second approval must raise nothing
        return len(approve_proposal(engine, pid, Who("bob", NOW), tz=TZ).purchase_orders)

    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(approve, ids + ids))
    assert counts == [POS_EACH] * (2 * PROPOSALS)
    _check_numbers(engine)


WORKER = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from zoneinfo import ZoneInfo
    from restock.db import make_engine
    from replenishment.approval import Who, approve_proposal
    url, schema, ids = sys.argv[1], sys.argv[2] or None, [int(x) for x in sys.argv[3].split(",")]
    engine = make_engine(url, schema=schema)
    tz = ZoneInfo("Asia/Shanghai")
    for pid in ids:
        approve_proposal(engine, pid, Who("worker", datetime(2026, 8, 31, 10, tzinfo=tz)), tz=tz)
    """
)


def test_concurrent_approvals_in_two_processes_share_the_sequence(engine: Engine) -> None:
    ids = _proposals(engine)
    url = engine.url.render_as_string(hide_password=False)
    schema = ""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    # both processes approve every proposal, in opposite orders
    orders = [ids, list(reversed(ids))]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, schema, ",".join(map(str, order))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for order in orders
    ]
    for worker in workers:
        _out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
    _check_numbers(engine)
