"""No HiGHS banner on standard output: importing replenishment makes the first solver quietly."""

from __future__ import annotations

import subprocess
import sys


def test_solving_prints_nothing_of_highs_on_standard_output() -> None:
    code = (
        "import pulp, replenishment\n"
        "m = pulp.LpProblem('x', pulp.LpMaximize)\n"
        "v = pulp.LpVariable('v', 0, 3, cat='Integer')\n"
        "m += v\n"
        "m.solve(pulp.HiGHS(msg=False))\n"
        "print('solved', int(v.value()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "solved 3\n"
    assert "HiGHS" not in out.stderr
