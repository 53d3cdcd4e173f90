"""Module-level ``process`` functions for the batch-runner tests (worker processes import them by name)."""

import functools
import os
from pathlib import Path

import torch

from scorematch.io.images import read_image, write_image


def smooth_copy(inp: Path, out: Path) -> None:
    """Read an image, blur it with a 3x3 box filter (float arithmetic, so threads could matter), write it."""
    x = read_image(inp, dtype=torch.float64)[None, None]  # (1, 1, H, W)
    y = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)  # (1, 1, H, W)
    write_image(out, y[0, 0])


def smooth_copy_noting_pid(pid_dir: Path, inp: Path, out: Path) -> None:
    """:func:`smooth_copy`, and the id of the process that ran it in ``pid_dir/<stem>.pid``."""
    smooth_copy(inp, out)
    (pid_dir / f"{inp.stem}.pid").write_text(str(os.getpid()))


def batch_on_rank(rank: int, world: int, folder: str) -> None:
    """One rank of a gloo group (``torch.multiprocessing.spawn``): ``run_batch`` over ``folder/in``, its result
    and stderr to ``folder/rank<r>.json``."""
    import contextlib
    import io
    import json

    import torch.distributed as dist

    from scorematch.cli.batch import expand_inputs, plan_outputs, run_batch

    torch.set_num_threads(1)
    base = Path(folder)
    dist.init_process_group("gloo", init_method=f"file://{base / 'rendezvous'}", rank=rank, world_size=world)
    try:
        pairs = plan_outputs(expand_inputs([str(base / "in")]), base / "out")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            result = run_batch(pairs, functools.partial(smooth_copy_noting_pid, base / "pids"), progress="lines")
        report = {"pid": os.getpid(), "done": [str(i) for i, _ in result.done], "stderr": err.getvalue()}
        (base / f"rank{rank}.json").write_text(json.dumps(report))
    finally:
        dist.barrier()
        dist.destroy_process_group()
