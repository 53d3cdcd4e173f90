"""fit(), checkpoints, and safe model files."""

import functools
import json

import pytest
import torch

import scorematch as sm
from scorematch.checkpoint import load_checkpoint


def _data(n=200, dim=4):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(0))


def test_fit_lowers_the_loss_and_writes_a_run_dir(tmp_path):
    poe = sm.ProductOfExperts(4, 4, generator=torch.Generator().manual_seed(0))
    loss = functools.partial(sm.score_matching_loss, lam=0.01)
    result = sm.fit(poe, _data(), loss, steps=60, batch_size=50, lr=0.05, log_every=10, run_dir=tmp_path)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    for name in ("config.json", "metrics.csv", "checkpoint.safetensors", "model.safetensors"):
        assert (tmp_path / name).is_file()
    assert json.loads((tmp_path / "config.json").read_text())["train"]["steps"] == 60
    loaded = sm.load(tmp_path / "model.safetensors")
    x = _data(5)
    torch.testing.assert_close(loaded.energy(x), poe.energy(x))


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "lbfgs"])
def test_every_optimizer_runs(optimizer):
    poe = sm.ProductOfExperts(4, 4, generator=torch.Generator().manual_seed(0))
    result = sm.fit(poe, _data(), sm.score_matching_loss, steps=5, batch_size=None, optimizer=optimizer,
                    lr=0.01 if optimizer != "lbfgs" else 1.0, log_every=1)
    assert len(result.history) == 5


def test_resume_continues_to_the_same_parameters(tmp_path):
    def run(steps, run_dir, resume=False):
        poe = sm.ProductOfExperts(4, 4, generator=torch.Generator().manual_seed(0))
        loss = functools.partial(sm.score_matching_loss, lam=0.01, method="hutchinson")  # uses the generator
        sm.fit(poe, _data(), loss, steps=steps, batch_size=20, lr=0.05, checkpoint_every=7, run_dir=run_dir,
               resume=resume)
        return poe

    full = run(30, tmp_path / "a")
    # Stop a second run at step 20 (an exception from the callback); the last checkpoint is at step 14.
    ck_dir = tmp_path / "b"
    first = sm.ProductOfExperts(4, 4, generator=torch.Generator().manual_seed(0))
    loss = functools.partial(sm.score_matching_loss, lam=0.01, method="hutchinson")
    cfg = sm.TrainConfig(steps=30, batch_size=20, lr=0.05, checkpoint_every=7, log_every=10)

    def stop(step, value, energy):
        if step == 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sm.fit(first, _data(), loss, config=cfg, run_dir=ck_dir, callback=stop)
    assert load_checkpoint(ck_dir / "checkpoint.safetensors").step == 14
    resumed = run(30, ck_dir, resume=True)
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_divergence_stops_with_a_message():
    poe = sm.ProductOfExperts(4, 4)

    def bad_loss(energy, x):
        return energy.energy(x).mean() * float("nan")

    with pytest.raises(sm.DivergenceError, match="diverged at step 0"):
        sm.fit(poe, _data(), bad_loss, steps=3)


def test_model_file_round_trip_for_every_energy(tmp_path):
    energies = [
        sm.ProductOfExperts(5, 7, learn_alpha=False),
        sm.FieldOfExperts(3, 3, normalize_filters=False),
        sm.TwoLayerEnergy(4, 6, 2),
        sm.GaussianEnergy(3),
    ]
    for i, energy in enumerate(energies):
        path = sm.save(energy.double(), tmp_path / f"m{i}.safetensors", metadata={"lam": 0.01})
        loaded = sm.load(path)
        assert type(loaded) is type(energy) and loaded.config() == energy.config()
        assert next(loaded.parameters()).dtype == torch.float64
        for (ka, a), (kb, b) in zip(energy.state_dict().items(), loaded.state_dict().items()):
            assert ka == kb and torch.equal(a, b)
        assert sm.load_info(path)["extra"] == {"lam": 0.01}


def test_loading_the_wrong_kind_of_file_is_a_clear_error(tmp_path):
    path = sm.save(sm.ProductOfExperts(3, 3), tmp_path / "poe.safetensors")
    with pytest.raises(sm.ModelFileError, match="not a FieldOfExperts"):
        sm.load(path, expect=sm.FieldOfExperts)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"definitely not a model")
    with pytest.raises(sm.ModelFileError, match="not a scorematch model file"):
        sm.load(junk)
    junk.write_bytes(b"\x80\x04not a model")
    with pytest.raises(sm.ModelFileError, match="pickle"):
        sm.load(junk)
    with pytest.raises(sm.ModelFileError, match="not found"):
        sm.load(tmp_path / "missing.safetensors")
