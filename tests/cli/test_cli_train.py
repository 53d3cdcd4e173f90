"""``scorematch train``: settings resolution (property-based), bad inputs (exit 2, nothing written),
the run directory, divergence and kill-and-resume through the command line."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import scorematch
from scorematch.cli import build_parser, main
from scorematch.cli.train import BY_NAME, OPTIONS, SettingsError, read_toml, resolve_settings, to_toml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bad_inputs  # noqa: E402

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _value(o):
    """A valid value for one option."""
    if o.choices is not None:
        return st.sampled_from(o.choices)
    if o.kind is bool:
        return st.booleans()
    if o.kind is int:
        lo = int(o.minimum or 0)
        return st.integers(lo + (1 if o.name == "whiten" else 0), lo + 10**6).map(
            lambda v: v if o.name != "whiten" else 2 * (v % 10) + 3)
    if o.kind is float:
        lo = o.minimum or 0.0
        return st.floats(lo, 1e6, allow_nan=False, exclude_min=o.strict)
    return st.text(min_size=1, max_size=12).filter(lambda t: not t.startswith("-"))  # quotes, controls, ...


valid_settings = st.fixed_dictionaries(
    {"data": _value(BY_NAME["data"]), "lam": _value(BY_NAME["lam"])},
    optional={o.name: _value(o) for o in OPTIONS if o.name not in ("data", "lam")},
)


def _argv(values: dict) -> list[str]:
    argv = ["train", "poe", "--out", "OUT"]
    for name, value in values.items():
        o = BY_NAME[name]
        if o.kind is bool:
            argv.append(o.flag if value else "--no-" + o.flag[2:])
        else:
            argv += [o.flag, repr(value) if o.kind is float else str(value)]
    return argv


def _expected(values: dict) -> dict:
    out = {o.name: o.default for o in OPTIONS}
    out.update({k: float(v) if BY_NAME[k].kind is float else v for k, v in values.items()})
    return out


@FAST
@given(values=valid_settings)
def test_flags_round_trip(values):
    args = build_parser().parse_args(_argv(values))
    assert resolve_settings(args) == _expected(values)


@FAST
@given(values=valid_settings, overrides=valid_settings)
def test_toml_round_trip_and_flags_override_it(tmp_path, values, overrides):
    path = tmp_path / "c.toml"
    path.write_text(to_toml(values))
    assert read_toml(path) == {k: float(v) if BY_NAME[k].kind is float else v for k, v in values.items()}
    args = build_parser().parse_args(_argv(overrides) + ["--config", str(path)])
    assert resolve_settings(args) == {**_expected(values), **{k: v for k, v in _expected(overrides).items()
                                                              if k in overrides}}


TOKENS = [o.flag for o in OPTIONS] + ["--no-learn-alpha", "--resume", "--config", "--out", "poe", "foe", "train"]
VALUES = st.one_of(
    st.sampled_from(["0", "-1", "1", "2.5", "nan", "inf", "-inf", "1e309", "abc", "", "0x10", "1_000", "cuda",
                     "float16", "adam", "--lam", "9" * 30]),
    st.integers(-10**20, 10**20).map(str),
    st.floats().map(repr),
    st.text(max_size=6),
)


@FAST
@given(tokens=st.lists(st.one_of(st.sampled_from(TOKENS), VALUES), max_size=12))
def test_any_argv_parses_or_fails_with_a_usage_error(tokens):
    """Random flag/value soup: argparse exits 2 or the settings resolve, or a SettingsError names the
    problem; never another exception, and resolved settings satisfy every rule."""
    argv = ["train", "poe", "--out", "OUT", *tokens]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 2
        return
    try:
        s = resolve_settings(args)
    except SettingsError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for o in OPTIONS:
        v = s[o.name]
        if v is None:
            continue
        if o.kind is float:
            assert math.isfinite(v) and (v > o.minimum if o.strict else v >= o.minimum)
        if o.kind is int and o.minimum is not None:
            assert v >= o.minimum
        if o.choices:
            assert v in o.choices


@FAST
@given(text=st.text(max_size=80))
def test_any_toml_text_reads_or_fails_with_a_usage_error(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_bytes(text.encode("utf-8"))
    try:
        read_toml(path)
    except SettingsError as exc:
        assert str(path) in str(exc)


def test_every_bad_input_gives_exit_2_and_leaves_nothing():
    """The catalogue behind docs/bad_inputs.md: each case's exit code, message fragment, no output left,
    no malicious payload run."""
    cli, lib = bad_inputs.collect()
    bad = [(r.case.name, r.code, r.error, r.message, r.left) for r in cli + lib if not r.ok]
    assert bad == []
    assert len(cli) >= 40 and len(lib) >= 30


# ------------------------------------------------------------------------------------ real runs


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(3):
        Image.fromarray((rng.random((24, 24)) * 255).astype(np.uint8)).save(d / f"{i}.png")
    return d


def _train(images, out, *extra):
    return main(["train", "poe", "--data", str(images), "--lam", "0.01", "--patch-size", "4", "--steps", "12",
                 "--batch-size", "16", "--checkpoint-every", "2", "--log-every", "1", "--out", str(out), *extra])


def test_train_writes_a_loadable_run_and_refuses_to_overwrite(images, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(images, out) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.safetensors", "config.json", "metrics.csv", "model.safetensors", "train.toml"]
    model = scorematch.load(out / "model.safetensors", expect=scorematch.ProductOfExperts)
    assert model.dim == 16
    info = scorematch.load_info(out / "model.safetensors")
    assert info["extra"]["cli"]["lam"] == 0.01 and info["extra"]["data"]["patch_size"] == 4
    # the stored settings reproduce the run
    assert main(["train", "poe", "--config", str(out / "train.toml"), "--out", str(tmp_path / "again")]) == 0
    again = scorematch.load(tmp_path / "again" / "model.safetensors")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert _train(images, out) == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert before == {p.name: p.stat().st_mtime_ns for p in out.iterdir()}


def test_divergence_exits_1_and_keeps_the_checkpoint(images, tmp_path, capsys):
    out = tmp_path / "run"
    code = _train(images, out, "--optimizer", "sgd", "--lr", "1000", "--learn-alpha", "--lam", "0")
    assert code == 1
    err = capsys.readouterr().err
    assert "training diverged at step" in err
    assert not (out / "model.safetensors").exists()


def test_cli_sigkill_then_resume_matches_an_uninterrupted_run(images, tmp_path):
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert _train(images, tmp_path / "ref", "--steps", "60") == 0
        out = tmp_path / "run"
        cmd = [sys.executable, "-m", "scorematch", "train", "poe", "--data", str(images), "--lam", "0.01",
               "--patch-size", "4", "--steps", "60", "--batch-size", "16", "--checkpoint-every", "2",
               "--log-every", "1", "--out", str(out)]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while not (out / "checkpoint.safetensors").exists() and child.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        child.kill()
        child.wait()
        if child.returncode == 0:
            pytest.skip("the child finished before it could be killed (a very fast machine)")
        assert _train(images, out, "--steps", "60", "--resume") == 0
        a = scorematch.load(tmp_path / "ref" / "model.safetensors").state_dict()
        b = scorematch.load(out / "model.safetensors").state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    finally:
        torch.set_num_threads(torch_threads)
