"""replenishment: inventory position, targets, the MILP optimizer, proposals and their explanations.

The pure core is `optimize(problem) -> Plan`; `replenishment.services` loads a
`Problem` from the database, calls it and stores the proposal.
"""

from replenishment.highs_banner import silence_banner
from replenishment.optimizer import optimize
from replenishment.plan import Plan, PlanLine, SupplierSummary
from replenishment.problem import (
    Agreement,
    Exclusion,
    Problem,
    SkuProblem,
    SupplierItemTerms,
    SupplierTerms,
    load_problem,
    problem_from_json,
    problem_to_json,
    save_problem,
)

__all__ = [
    "Agreement",
    "Exclusion",
    "Plan",
    "PlanLine",
    "Problem",
    "SkuProblem",
    "SupplierItemTerms",
    "SupplierSummary",
    "SupplierTerms",
    "load_problem",
    "optimize",
    "problem_from_json",
    "problem_to_json",
    "save_problem",
]

silence_banner()
