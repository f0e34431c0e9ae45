"""The life of a proposal: its states, which step may leave which state, and the refusal message (pure).

draft → in_review → approved | partially_approved | rejected; approved → ordered (purchase
orders raised) → exported (every PO written to its supplier's file). A draft or in-review
version becomes superseded when another version of the same week is approved. Only one
version per week is ever approved.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel.errors import TransitionRefused

DRAFT = "draft"
IN_REVIEW = "in_review"
APPROVED = "approved"
PARTIALLY_APPROVED = "partially_approved"
REJECTED = "rejected"
ORDERED = "ordered"
EXPORTED = "exported"
SUPERSEDED = "superseded"
STATES = (DRAFT, IN_REVIEW, APPROVED, PARTIALLY_APPROVED, REJECTED, ORDERED, EXPORTED, SUPERSEDED)
# States in which the week's decision has been taken: the version holds the week's approval.
DECIDED = (APPROVED, PARTIALLY_APPROVED, ORDERED, EXPORTED)
# States in which lines may still be edited and re-optimised.
EDITABLE = (DRAFT, IN_REVIEW)

# Line decisions: what the optimizer proposed, what a user changed, added or rejected.
LINE_PROPOSED = "proposed"
LINE_EDITED = "edited"
LINE_ADDED = "added"
LINE_REJECTED = "rejected"
LINE_STATES = (LINE_PROPOSED, LINE_EDITED, LINE_ADDED, LINE_REJECTED)


@dataclass(frozen=True)
class Step:
    """A lifecycle step: the states it may start from and where it leads."""

    name: str
    sources: tuple[str, ...]
    target: str | None  # None: the state does not change (edits)
    hint: str = ""


STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step("review", (DRAFT,), IN_REVIEW),
        Step("edit", EDITABLE, None),
        Step("reoptimize", EDITABLE, None),
        Step(
            "approve", (IN_REVIEW,), APPROVED, "a draft is put in review first (restock proposal review ID)"
        ),
        Step("reject", EDITABLE, REJECTED),
        Step("order", (APPROVED, PARTIALLY_APPROVED), ORDERED),
        Step("export", (ORDERED,), EXPORTED),
        Step("supersede", EDITABLE, SUPERSEDED),
    )
}


def next_state(current: str, step: str, *, proposal_id: int | None = None) -> str:
    """The state after `step` from `current` (the same state for edits).

    Raises `TransitionRefused` naming the current state and where the step is allowed from.
    """
    if step not in STEPS:
        raise ValueError(f"unknown lifecycle step {step!r}")
    rule = STEPS[step]
    if current not in rule.sources:
        who = f"proposal {proposal_id}" if proposal_id is not None else "the proposal"
        allowed = " or ".join(rule.sources)
        hint = f"; {rule.hint}" if rule.hint and current == DRAFT else ""
        raise TransitionRefused(f"{who} is {current}: {step} is allowed only from {allowed}{hint}")
    return rule.target or current


def approval_state(line_states: list[str]) -> str:
    """approved when every line is taken, partially_approved when some were rejected.

    Raises `TransitionRefused` when every line was rejected (reject the proposal instead).
    """
    taken = [s for s in line_states if s != LINE_REJECTED]
    if not taken:
        raise TransitionRefused(
            "every line of the proposal is rejected: there is nothing to approve "
            "(reject the proposal instead)"
        )
    return APPROVED if len(taken) == len(line_states) else PARTIALLY_APPROVED
