"""Independent jobs (e.g. the runs of a lambda sweep) over local worker processes or torchrun ranks."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch

from . import distributed as dist_util

__all__ = ["map_jobs", "worker_pool"]

T = TypeVar("T")


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def worker_pool(jobs: int, n_items: int) -> concurrent.futures.ProcessPoolExecutor:
    """The local worker processes of :func:`map_jobs`: ``min(jobs, n_items)`` spawned processes, each with
    ``max(1, cpu_count // jobs)`` torch threads (use it as a context manager).

    Parameters
    ----------
    jobs : int
        Worker processes wanted (at least 1).
    n_items : int
        How many jobs there are; no more workers than that are started.

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
        Functions submitted to it must be picklable (module-level, or a ``functools.partial`` of one).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    threads = max(1, (os.cpu_count() or 1) // jobs)
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=max(1, min(jobs, n_items)), mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker, initargs=(threads,),
    )


def map_jobs(fn: Callable[[T], Any], items: Sequence[T], *, jobs: int = 1) -> list[Any]:
    """``[fn(item) for item in items]``, spread over processes; the results are those of a serial run.

    Parameters
    ----------
    fn : callable
        A picklable (module-level) function. Each call must seed itself from its item (e.g. the run's
        own seed), never from global state, so the split over processes cannot change a result.
    items : sequence
    jobs : int
        Local worker processes (spawned; each gets ``cpu_count // jobs`` torch threads). Under a
        ``torchrun`` launch the ranks share the items instead (rank ``r`` runs ``items[r::world]``) and
        every rank returns the full list.

    Returns
    -------
    list, in the order of ``items``
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    items = list(items)
    world = dist_util.world_size()
    if world > 1:
        rank = dist_util.rank()
        with dist_util.local_only():  # each job runs whole on its rank
            mine = {i: fn(items[i]) for i in range(rank, len(items), world)}
        gathered: list[dict[int, Any]] = [{} for _ in range(world)]
        torch.distributed.all_gather_object(gathered, mine)
        merged = {k: v for part in gathered for k, v in part.items()}
        return [merged[i] for i in range(len(items))]
    if jobs == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with worker_pool(jobs, len(items)) as pool:
        return list(pool.map(fn, items))
