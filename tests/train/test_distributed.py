"""Data-parallel fit (gloo, 2 CPU processes) equals a single-process fit on the same global batches."""

import functools
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import scorematch as sm


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _data():
    return torch.rand(512, 16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


def _train(run_dir=None, optimizer="adam"):
    poe = sm.ProductOfExperts(16, 16, generator=torch.Generator().manual_seed(0)).double()
    loss = functools.partial(sm.score_matching_loss, lam=0.01)
    sm.fit(poe, _data(), loss, steps=12, batch_size=64, lr=0.02, optimizer=optimizer, seed=5,
           run_dir=run_dir, checkpoint_every=5, log_every=4)
    return {k: v.detach().clone() for k, v in poe.state_dict().items()}


def _init_group(rank, world, out_dir):
    """A gloo group that meets through a file in the test's folder (no free-port race between tests)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="file://" + os.path.join(out_dir, "rendezvous"), rank=rank,
                            world_size=world)


def _worker(rank, world, out_dir, optimizer):
    _init_group(rank, world, out_dir)
    try:
        state = _train(run_dir=os.path.join(out_dir, "run"), optimizer=optimizer)
        torch.save(state, os.path.join(out_dir, f"rank{rank}.pt"))  # test-only exchange of plain tensors
    finally:
        dist.barrier()  # both ranks are done before the group goes away (gloo may abort otherwise)
        dist.destroy_process_group()


@pytest.mark.parametrize("optimizer", ["adam", pytest.param("lbfgs", marks=pytest.mark.slow)])
def test_two_process_fit_matches_single_process(tmp_path, optimizer):
    single = _train(optimizer=optimizer)
    mp.spawn(_worker, args=(2, str(tmp_path), optimizer), nprocs=2, join=True)
    for r in range(2):
        got = torch.load(tmp_path / f"rank{r}.pt", weights_only=True)
        for k, v in single.items():
            rel = ((got[k] - v).abs().max() / v.abs().max().clamp_min(1e-30)).item()
            assert rel < 1e-6, (k, r, rel)
    # Only rank 0 wrote the run directory, and its model equals the single-process one.
    loaded = sm.load(tmp_path / "run" / "model.safetensors")
    for k, v in single.items():
        assert torch.allclose(loaded.state_dict()[k], v, rtol=1e-6, atol=1e-12)


def _sweep_worker(rank, world, out_dir):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "helpers"))
    from parallel_jobs import train_one

    from scorematch.parallel import map_jobs

    _init_group(rank, world, out_dir)
    try:
        result = map_jobs(train_one, [0.0, 1e-3, 1e-2])
        torch.save(torch.tensor(result, dtype=torch.float64), os.path.join(out_dir, f"sweep{rank}.pt"))
    finally:
        dist.barrier()  # both ranks are done before the group goes away (gloo may abort otherwise)
        dist.destroy_process_group()


def test_sweep_over_ranks_matches_serial(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "helpers"))
    from parallel_jobs import train_one

    serial = torch.tensor([train_one(lam) for lam in [0.0, 1e-3, 1e-2]], dtype=torch.float64)
    mp.spawn(_sweep_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    for r in range(2):
        assert torch.equal(torch.load(tmp_path / f"sweep{r}.pt", weights_only=True), serial)


def test_cli_train_under_torchrun_matches_single_process(tmp_path):
    import subprocess
    import sys

    common = ["train", "foe", "--data", "train400", "--n-train", "20", "--lam", "1e-5", "--scale", "255",
              "--whiten", "5", "--steps", "12", "--batch-size", "16", "--experts", "8", "--dtype", "float64"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "scorematch", *common, "--out", str(tmp_path / "one")],
                   check=True, env=env, capture_output=True)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
         "-m", "scorematch", *common, "--out", str(tmp_path / "two")],
        env=env, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "on 2 ranks" in proc.stdout
    a = sm.load(tmp_path / "one" / "model.safetensors").state_dict()
    b = sm.load(tmp_path / "two" / "model.safetensors").state_dict()
    for k in a:
        assert ((a[k] - b[k]).abs().max() / a[k].abs().max()).item() < 1e-6, k
