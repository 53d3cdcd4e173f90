"""Fault tolerance of :func:`scorematch.fit`: hard kills, signals, divergence, mismatched resumes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import scorematch
from scorematch.checkpoint import load_checkpoint
from scorematch.io import atomic_path

HERE = Path(__file__).parents[1] / "helpers"
sys.path.insert(0, str(HERE))
import resume_child  # noqa: E402

SRC = str(Path(__file__).parents[2] / "src")


@pytest.fixture
def one_thread():
    """The child runs single-threaded; so does the in-process reference (bitwise comparisons)."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def reference(tmp_path: Path | None = None):
    """The uninterrupted run (in this process)."""
    energy, data, loss, settings = resume_child.problem()
    result = scorematch.fit(energy, data, loss, run_dir=tmp_path, **settings)
    return result


def assert_same_run(a: scorematch.FitResult, b: scorematch.FitResult) -> None:
    for (name, p), q in zip(a.energy.state_dict().items(), b.energy.state_dict().values()):
        assert torch.equal(p, q), f"{name} differs: max |diff| {(p - q).abs().max().item():.3g}"
    assert a.steps == b.steps
    assert [(h["step"], h["loss"], h["lr"]) for h in a.history] == [(h["step"], h["loss"], h["lr"]) for h in b.history]


def start_child(run_dir: Path, *, resume: bool = False, sleep: float = 0.03) -> subprocess.Popen:
    cmd = [sys.executable, str(HERE / "resume_child.py"), str(run_dir), "--sleep", str(sleep)]
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(cmd + (["--resume"] if resume else []), stdout=subprocess.PIPE, text=True, env=env)


def kill_at(child: subprocess.Popen, step: int, sig: int = signal.SIGKILL) -> list[str]:
    """Send ``sig`` as soon as the child reports ``step``; return its output lines."""
    lines = []
    for line in child.stdout:
        lines.append(line.strip())
        if line.strip() == f"step {step}":
            child.send_signal(sig)
            break
    lines += [line.strip() for line in child.stdout]
    child.wait(timeout=60)
    return lines


def test_sigkill_at_a_random_step_then_resume_is_bitwise(tmp_path, one_thread):
    rng = random.Random()
    kill_step = rng.randint(4, resume_child.STEPS - 5)  # from step 4 on, the step-3 checkpoint exists
    note = f"(killed after step {kill_step})"
    child = start_child(tmp_path)
    lines = kill_at(child, kill_step)
    assert child.returncode == -signal.SIGKILL, (lines, note)
    assert "done" not in lines
    assert not (tmp_path / "model.safetensors").exists(), note  # the run did not finish
    saved = load_checkpoint(tmp_path / "checkpoint.safetensors").step
    assert 3 <= saved < resume_child.STEPS, note

    stale = tmp_path / ".checkpoint.safetensors.abc123.tmp"  # as a kill during a write would leave
    stale.write_bytes(b"partial")
    energy, data, loss, settings = resume_child.problem()
    resumed = scorematch.fit(energy, data, loss, run_dir=tmp_path, resume=True, **settings)
    assert_same_run(resumed, reference())
    assert not list(tmp_path.glob(".*.tmp"))
    assert scorematch.load(tmp_path / "model.safetensors").state_dict().keys() == energy.state_dict().keys()


@pytest.mark.slow
def test_two_hard_kills_then_resume_is_bitwise(tmp_path, one_thread):
    rng = random.Random()
    first = rng.randint(4, 15)
    lines = kill_at(start_child(tmp_path), first)
    second = rng.randint(load_checkpoint(tmp_path / "checkpoint.safetensors").step + 2, resume_child.STEPS - 2)
    child = start_child(tmp_path, resume=True)
    lines = kill_at(child, second)
    assert child.returncode == -signal.SIGKILL, lines
    energy, data, loss, settings = resume_child.problem()
    resumed = scorematch.fit(energy, data, loss, run_dir=tmp_path, resume=True, **settings)
    assert_same_run(resumed, reference())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_checkpoints_and_stops_then_resume_is_bitwise(tmp_path, one_thread, sig):
    energy, data, loss, settings = resume_child.problem()
    stop_at = 11  # not a multiple of checkpoint_every: the checkpoint comes from the signal
    before = signal.getsignal(sig)  # (a background shell job starts with SIGINT ignored)

    def send(step, value, _energy):
        if step == stop_at:
            os.kill(os.getpid(), sig)

    with pytest.raises(scorematch.TrainingInterrupted) as info:
        scorematch.fit(energy, data, loss, run_dir=tmp_path, callback=send, **settings)
    assert info.value.signum == sig and info.value.step == stop_at
    assert isinstance(info.value, KeyboardInterrupt)
    assert load_checkpoint(tmp_path / "checkpoint.safetensors").step == stop_at
    assert (tmp_path / "metrics.csv").read_text().count("\n") == stop_at + 1  # header + one row per step
    assert not (tmp_path / "model.safetensors").exists()
    assert signal.getsignal(sig) == before  # the handler the run found is restored

    energy, data, loss, settings = resume_child.problem()
    resumed = scorematch.fit(energy, data, loss, run_dir=tmp_path, resume=True, **settings)
    assert_same_run(resumed, reference())


def test_signal_without_run_dir_says_nothing_was_saved(one_thread):
    energy, data, loss, settings = resume_child.problem()

    def send(step, value, _energy):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(scorematch.TrainingInterrupted, match="nothing saved"):
        scorematch.fit(energy, data, loss, callback=send, **settings)


def test_sigterm_in_a_subprocess_exits_cleanly_with_a_checkpoint(tmp_path):
    child = start_child(tmp_path, sleep=0.05)
    lines = kill_at(child, 5, signal.SIGTERM)
    assert child.returncode == 128 + signal.SIGTERM, lines
    step = int(next(line for line in lines if line.startswith("interrupted")).split()[1])
    assert load_checkpoint(tmp_path / "checkpoint.safetensors").step == step


def _nan_after(calls: int):
    """A score-matching loss that returns NaN from its ``calls``-th call on."""
    count = {"n": 0}

    def loss(energy, x):
        count["n"] += 1
        value = scorematch.score_matching_loss(energy, x, lam=0.01)
        return value * float("nan") if count["n"] >= calls else value

    return loss


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    energy, data, _, settings = resume_child.problem()
    with pytest.raises(scorematch.DivergenceError, match="step 7: the loss is nan") as info:
        scorematch.fit(energy, data, _nan_after(8), run_dir=tmp_path, **settings)
    assert info.value.step == 7 and info.value.checkpoint == tmp_path / "checkpoint.safetensors"
    assert "lower learning rate" in str(info.value)
    ckpt = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert ckpt.step == 6  # checkpoint_every=3: the last one before the bad step
    assert all(bool(torch.isfinite(p).all()) for p in ckpt.energy.parameters())
    assert not (tmp_path / "model.safetensors").exists()
    # The kept checkpoint is exactly the state of a healthy run after step 6.
    at_six = {}

    def grab(step, value, energy):
        if step == 6:
            at_six.update({k: v.clone() for k, v in energy.state_dict().items()})

    energy, data, _, settings = resume_child.problem()
    scorematch.fit(energy, data, _nan_after(10**9), callback=grab, **settings)
    for name, p in ckpt.energy.state_dict().items():
        assert torch.equal(p, at_six[name]), name


def test_divergence_of_the_parameters_with_a_finite_loss(tmp_path):
    energy, data, _, settings = resume_child.problem()

    def loss(energy, x):  # value 0, gradient inf: the update makes the parameters NaN
        w = energy.layers[0].raw_weight
        return torch.sqrt((w - w.detach()).abs()).sum()

    with pytest.raises(scorematch.DivergenceError, match="parameter 'layers.0.raw_weight' has NaN") as info:
        scorematch.fit(energy, data, loss, **settings)
    assert info.value.checkpoint is None and "no checkpoint had been written yet" in str(info.value)


def test_resume_refuses_a_checkpoint_of_other_settings_or_another_model(tmp_path):
    energy, data, loss, settings = resume_child.problem()
    scorematch.fit(energy, data, loss, run_dir=tmp_path, **{**settings, "steps": 3})
    energy, data, loss, settings = resume_child.problem()
    with pytest.raises(ValueError, match=r"other training settings \(seed: 7 -> 8\)"):
        scorematch.fit(energy, data, loss, run_dir=tmp_path, resume=True, **{**settings, "seed": 8})
    other = scorematch.ProductOfExperts(8, 10).double()
    with pytest.raises(ValueError, match="not of the energy given"):
        scorematch.fit(other, data, loss, run_dir=tmp_path, resume=True, **settings)
    with pytest.raises(ValueError, match="float64 parameters but the energy is torch.float32"):
        scorematch.fit(energy.float(), data.float(), loss, run_dir=tmp_path, resume=True, **settings)


def test_resume_without_a_checkpoint_starts_afresh(tmp_path, one_thread):
    energy, data, loss, settings = resume_child.problem()
    fresh = scorematch.fit(energy, data, loss, run_dir=tmp_path / "new", resume=True, **settings)
    assert_same_run(fresh, reference())


def test_bad_data_is_refused_before_the_run_dir_is_created(tmp_path):
    energy, data, loss, settings = resume_child.problem()
    bad = data.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or inf values \(in 1 of 400 samples\)"):
        scorematch.fit(energy, bad, loss, run_dir=tmp_path / "run", **settings)
    with pytest.raises(ValueError, match=r"shape \(B, 8\)"):
        scorematch.fit(energy, data[:, :5], loss, run_dir=tmp_path / "run", **settings)
    with pytest.raises(TypeError, match="dtype torch.float32 but the energy's parameters are torch.float64"):
        scorematch.fit(energy, data.float(), loss, run_dir=tmp_path / "run", **settings)
    assert not (tmp_path / "run").exists()


def test_a_data_stream_returning_nan_is_reported_with_the_step():
    energy, data, loss, settings = resume_child.problem()

    def sampler(batch_size, generator):
        x = data[:batch_size].clone()
        x[0, 0] = float("inf")
        return x

    with pytest.raises(ValueError, match="data stream's batch at step 0 contains NaN or inf"):
        scorematch.fit(energy, sampler, loss, **settings)


def test_atomic_path_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert (target.stat().st_mode & 0o777) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
