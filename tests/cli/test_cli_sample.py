"""``scorematch sample`` on bundled and saved models (tiny settings)."""


import scorematch
from scorematch.cli import main
from scorematch.datasets import read_image


def test_sample_foe_and_poe(tmp_path, capsys):
    out = tmp_path / "rb.png"
    assert main(["sample", "--model", "roth_black_3x3x8", "-o", str(out), "--n", "2", "--size", "8",
                 "--steps", "4", "--sampler", "hmc"]) == 0
    img = read_image(out)
    assert img.shape == (1 + 1 * (8 + 1), 1 + 2 * (8 + 1)) and 0 <= float(img.min()) and float(img.max()) <= 1
    poe = scorematch.ProductOfExperts(16, 16, learn_alpha=False)
    model = scorematch.save(poe, tmp_path / "poe.safetensors")
    assert main(["sample", "--model", str(model), "-o", str(tmp_path / "p.png"), "--n", "3", "--steps", "3"]) == 0
    assert read_image(tmp_path / "p.png").shape == (1 + 2 * 5, 1 + 2 * 5)
    assert "acceptance" in capsys.readouterr().out


def test_sample_errors_are_one_line(tmp_path, capsys):
    assert main(["sample", "--model", str(tmp_path / "missing.safetensors"), "-o", str(tmp_path / "x.png")]) == 2
    assert "model file not found" in capsys.readouterr().err
    g = scorematch.save(scorematch.GaussianEnergy(3), tmp_path / "g.safetensors")
    assert main(["sample", "--model", str(g), "-o", str(tmp_path / "x.png"), "--steps", "2"]) == 2


def test_training_domain_is_read_from_metadata_keys_not_text():
    from scorematch.cli.sample import _training_domain
    from scorematch.pretrained import resolve
    from scorematch.serialization import load_info

    assert _training_domain(load_info(resolve("roth_black_3x3x8"))["extra"]) == (255.0, None)
    assert _training_domain(load_info(resolve("cd_foe_5x5x24"))["extra"]) == (
        255.0, {"kind": "laplacian", "size": 5, "sigma": 1.0})
    assert _training_domain({"data": {"scale": 2.0, "whiten": 5}}) == (2.0, {"size": 5})  # a `scorematch train` run
    assert _training_domain({"domain": "images * 255"}) == (1.0, None)  # free text is not read
