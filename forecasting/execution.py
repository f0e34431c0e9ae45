"""Where chunks of series are forecast: this process, a local process pool, or a Dask cluster.

Each runner maps `forecast_chunk` over chunk tasks and reports progress in
series; memory stays bounded by the chunk size times the workers in flight.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from forecasting.engine import ChunkRunner, ChunkTask, SeriesOutcome, serial_runner

ChunkFunc = Callable[[ChunkTask], list[SeriesOutcome]]
Progress = Callable[[int], None] | None

EXECUTORS = ("serial", "process", "dask")


def process_runner(workers: int | None = None) -> ChunkRunner:
    """A runner on a local process pool (forkserver: safe beside threads such as a progress bar)."""

    def run(func: ChunkFunc, tasks: list[ChunkTask], progress: Progress = None
            ) -> list[list[SeriesOutcome]]:
        if len(tasks) <= 1:
            return serial_runner(func, tasks, progress)
        results: list[list[SeriesOutcome] | None] = [None] * len(tasks)
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1,
                                 mp_context=context) as pool:
            futures = {pool.submit(func, task): k for k, task in enumerate(tasks)}
            for future in as_completed(futures):
                k = futures[future]
                results[k] = future.result()
                if progress:
                    progress(len(tasks[k].ids))
        return [r for r in results if r is not None]

    return run


def dask_runner(address: str | None = None, client: Any = None, n_workers: int = 2) -> ChunkRunner:
    """A runner on Dask distributed: an existing `client`, a scheduler `address`, or a LocalCluster."""

    def run(func: ChunkFunc, tasks: list[ChunkTask], progress: Progress = None
            ) -> list[list[SeriesOutcome]]:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed

        own_cluster = own_client = None
        active = client
        if active is None:
            if address:
                active = own_client = Client(address)
            else:
                own_cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None)
                active = own_client = Client(own_cluster)
        try:
            futures = active.map(func, tasks, pure=False)
            index = {future.key: k for k, future in enumerate(futures)}
            results: list[list[SeriesOutcome] | None] = [None] * len(tasks)
            for future in dask_completed(futures):
                k = index[future.key]
                results[k] = future.result()
                if progress:
                    progress(len(tasks[k].ids))
            return [r for r in results if r is not None]
        finally:
            if own_client is not None:
                own_client.close()
            if own_cluster is not None:
                own_cluster.close()

    return run


def make_runner(executor: str = "process", address: str | None = None,
                workers: int | None = None) -> ChunkRunner:
    """The runner named by settings/CLI: serial, process (default) or dask (`address` optional)."""
    if executor == "serial":
        return serial_runner
    if executor == "process":
        return process_runner(workers)
    if executor == "dask":
        return dask_runner(address, n_workers=workers or 2)
    raise ValueError(f"unknown executor {executor!r}; expected one of {EXECUTORS}")
