"""HiGHS prints a two-line banner on the process's standard output the first time a solver is made.

That banner would open every `restock propose`, the demo and each job's captured log. The first
solver is made here once, with file descriptor 1 pointed at /dev/null for that moment only; later
solvers print nothing (their own output is off: `msg=False` / `output_flag`).
"""

from __future__ import annotations

import os
import sys


def silence_banner() -> None:
    """Make the process's first HiGHS solver with standard output discarded (once; idempotent)."""
    import highspy

    if getattr(silence_banner, "done", False):
        return
    silence_banner.done = True  # type: ignore[attr-defined]
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no standard output to protect
        highspy.Highs()
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
        finally:
            os.close(devnull)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
