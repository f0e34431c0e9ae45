"""Shared plumbing for benchmarks: machine facts, git revision, peak memory, result files.

Every benchmark writes `bench/results/<name>.json` in the shape of docs/design-notes.md#benchmarks
and a short markdown table beside it.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil

from kernel.clock import now

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
# The machine is shared: the load averages (1, 5, 15 min) when a bench started (this module is
# imported first) and when it wrote its results say what else was running.
LOAD_AT_START = tuple(round(value, 2) for value in os.getloadavg())


def git_revision() -> str:
    """The HEAD commit, with `-dirty` when the work tree has uncommitted changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"


def machine(libraries: list[str]) -> dict[str, Any]:
    """CPU, cores, memory, Python, OS and the versions of the named libraries."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in libraries:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "libraries": versions,
        "load_at_start": list(LOAD_AT_START),
        "load_at_end": [round(value, 2) for value in os.getloadavg()],
    }


def peak_rss_gib() -> float:
    """Peak resident memory of this process and its waited-for children, in GiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) * 1024 / 2**30, 3)


class RssSampler:
    """Samples the RSS of this process plus its live children in a thread; `peak_gib` after stop()."""

    def __init__(self, interval_s: float = 0.2) -> None:
        import threading

        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        proc = psutil.Process()
        while not self._stop.is_set():
            try:
                total = proc.memory_info().rss + sum(
                    child.memory_info().rss for child in proc.children(recursive=True)
                )
            except psutil.Error:
                total = 0
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_gib(self) -> float:
        return round(self.peak_bytes / 2**30, 3)


def write_results(
    name: str,
    *,
    params: dict[str, Any],
    figures: dict[str, Any],
    baselines: dict[str, Any],
    ratios: dict[str, Any],
    libraries: list[str],
    notes: list[str] | None = None,
    out_dir: Path | None = None,
) -> Path:
    """Write `<name>.json` and `<name>.md` under bench/results (or `out_dir`); return the JSON path."""
    out = out_dir or RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "bench": name,
        "when": now(ZoneInfo("Asia/Shanghai")).isoformat(timespec="seconds"),
        "git": git_revision(),
        "machine": machine(libraries),
        "params": params,
        "figures": figures,
        "baselines": baselines,
        "ratios": ratios,
    }
    json_path = out / f"{name}.json"
    json_path.write_text(json.dumps(result, indent=2, sort_keys=False, default=str) + "\n")
    lines = [
        f"# bench: {name}",
        "",
        f"- when: {result['when']}  ",
        f"- git: `{result['git']}`  ",
        f"- machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
        f"{result['machine']['mem_gib']} GiB, Python {result['machine']['python']}, "
        f"load (1/5/15 min) {_loads(result['machine']['load_at_start'])} at start, "
        f"{_loads(result['machine']['load_at_end'])} at end",
        f"- params: `{json.dumps(params, default=str)}`",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    lines += [f"| {key} | {_fmt(value)} |" for key, value in figures.items()]
    if baselines:
        lines += ["", "| baseline | figure | value |", "|---|---|---|"]
        for base, values in baselines.items():
            lines += [f"| {base} | {key} | {_fmt(value)} |" for key, value in values.items()]
    if ratios:
        lines += ["", "| ratio | value |", "|---|---|"]
        lines += [f"| {key} | {_fmt(value)} |" for key, value in ratios.items()]
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(result["figures"], default=str), file=sys.stderr)
    return json_path


def _loads(values: list[float]) -> str:
    return "/".join(f"{value:.1f}" for value in values)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)
