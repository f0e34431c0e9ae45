"""Proposals of the same week stored at the same moment get distinct versions — never a unique-key
crash after solving — on SQLite and PostgreSQL (issue 10 item 1)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

import replenishment.services as services
from kernel.errors import ConcurrentUpdate
from kernel.orm import unit_of_work
from replenishment.models import Proposal
from replenishment.services import ProposalResult, build_proposal
from tests.replenishment.test_services import CREATED, WEEK, demand_for, proposal_settings, seed


def _versions(engine: Engine) -> list[int]:
    with unit_of_work(engine) as session:
        return sorted(session.scalars(select(Proposal.version).where(Proposal.week == WEEK)))


@pytest.mark.parametrize(
    ("budgets", "force"),
    [(("500000", "400000"), False), (("500000", "500000"), True), (("500000", "500000"), False)],
    ids=["inputs-differ", "force", "same-inputs"],
)
def test_two_proposals_of_a_week_solved_together_are_two_versions_or_one_and_a_clear_answer(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, budgets: tuple[str, str], force: bool
) -> None:
    seed(engine)
    solved = threading.Barrier(2, timeout=60)
    real_optimize = services.optimize

    def optimize_then_meet(*args: object, **kwargs: object) -> object:
        plan = real_optimize(*args, **kwargs)  # type: ignore[arg-type]
        solved.wait()  # both have solved before either stores: they read the same highest version
        return plan

    monkeypatch.setattr(services, "optimize", optimize_then_meet)
    results: list[ProposalResult] = []
    errors: list[BaseException] = []

    def propose(budget: str) -> None:
        try:
            results.append(build_proposal(engine, WEEK, proposal_settings(), now=CREATED,
                                          budget=Decimal(budget), demand=demand_for, force=force))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=propose, args=(budget,)) for budget in budgets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    if budgets[0] != budgets[1] or force:
        assert sorted(r.version for r in results) == [1, 2]
        assert _versions(engine) == [1, 2]
        second = next(r for r in results if r.version == 2)
        assert second.stored and second.previous is not None and second.previous.version == 1
        if force:
            assert "stored with --force, superseding version 1; inputs unchanged" in second.outcome()
        else:
            assert "inputs changed since version 1: budget ¥" in second.outcome()
    else:  # the same inputs at the same moment: one version, and the other names it
        assert _versions(engine) == [1]
        assert sorted(r.stored for r in results) == [False, True]
        skipped = next(r for r in results if not r.stored)
        assert skipped.version == 1
        assert skipped.outcome() == (
            f"proposal {skipped.proposal_id} (week {WEEK}, version 1) is current and its inputs are "
            "unchanged: nothing stored; --force stores a new version"
        )


def test_a_version_taken_between_reading_and_storing_moves_to_the_next_number(engine: Engine) -> None:
    seed(engine)
    first = build_proposal(engine, WEEK, proposal_settings(), now=CREATED, demand=demand_for)
    assert first.version == 1
    with unit_of_work(engine) as session:
        template = session.get(Proposal, first.proposal_id)
        assert template is not None
        columns = {c.key: getattr(template, c.key) for c in Proposal.__table__.columns if c.key != "id"}
    tries: list[int] = []

    def new_proposal(version: int) -> Proposal:
        tries.append(version)
        if len(tries) == 1:  # another process stores the same version first, and commits
            with unit_of_work(engine) as other:
                other.add(Proposal(**{**columns, "version": version}))
        return Proposal(**{**columns, "version": version})

    proposal_id, version, stored, previous = services._store_as_next_version(engine, WEEK, new_proposal)
    assert stored and previous is not None and previous.version == 2
    assert tries == [2, 3]
    assert version == 3 and _versions(engine) == [1, 2, 3]
    with unit_of_work(engine) as session:
        assert session.get(Proposal, proposal_id).version == 3  # type: ignore[union-attr]


def test_a_week_that_keeps_clashing_ends_in_a_named_error(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(engine)
    first = build_proposal(engine, WEEK, proposal_settings(), now=CREATED, demand=demand_for)
    with unit_of_work(engine) as session:
        template = session.get(Proposal, first.proposal_id)
        columns = {c.key: getattr(template, c.key) for c in Proposal.__table__.columns if c.key != "id"}
    monkeypatch.setattr(services, "time", type("NoSleep", (), {"sleep": staticmethod(lambda s: None)}))

    def always_taken(version: int) -> Proposal:
        with unit_of_work(engine) as other:
            other.add(Proposal(**{**columns, "version": version}))
        return Proposal(**{**columns, "version": version})

    with pytest.raises(ConcurrentUpdate, match="stored at the same moment"):
        services._store_as_next_version(engine, WEEK, always_taken)
