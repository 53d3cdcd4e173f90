"""``scorematch denoise`` / ``scorematch superres``: sigma parsing, files in and out, errors."""

import json

import numpy as np
import pytest
import torch

from scorematch.cli import main
from scorematch.cli.restore import parse_sigma
from scorematch.datasets import data_dir, read_image, write_image


@pytest.mark.parametrize("text, value", [("5/256", 5 / 256), ("0.0195", 0.0195), (" 15 / 256 ", 15 / 256), ("1e-2", 0.01)])
def test_parse_sigma(text, value):
    assert parse_sigma(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "abc", "5/0", "-0.1", "0", "nan", "inf", "5/256/2", "300/256"])
def test_parse_sigma_rejects(text):
    with pytest.raises(ValueError, match="sigma"):
        parse_sigma(text)


@pytest.fixture
def clean(tmp_path):
    im = read_image(data_dir() / "set12" / "house.png", dtype=torch.float64)[96:144, 96:144]  # (48, 48)
    path = tmp_path / "clean.png"
    write_image(path, im)
    return path, read_image(path, dtype=torch.float64)


def test_denoise_cli_npy_in_png_out_with_reference(tmp_path, clean, capsys):
    path, im = clean
    noisy = im.numpy() + (5 / 256) * np.random.default_rng(0).standard_normal(im.shape)  # leaves [0, 1]
    np.save(tmp_path / "noisy.npy", noisy)
    rc = main(["denoise", str(tmp_path / "noisy.npy"), "-o", str(tmp_path / "out.png"), "--sigma", "5/256",
               "--reference", str(path)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["psnr"] > out["psnr_input"]
    assert read_image(tmp_path / "out.png").shape == im.shape


def test_denoise_cli_npy_output_is_float(tmp_path, clean):
    path, im = clean
    assert main(["denoise", str(path), "-o", str(tmp_path / "out.npy"), "--sigma", "0.01", "--iters", "5"]) == 0
    arr = np.load(tmp_path / "out.npy")
    assert arr.dtype == np.float64 and arr.shape == tuple(im.shape)


def test_superres_cli(tmp_path, clean, capsys):
    path, im = clean
    small = torch.nn.functional.avg_pool2d(im[None, None], 2)[0, 0]
    np.save(tmp_path / "small.npy", small.numpy())
    rc = main(["superres", str(tmp_path / "small.npy"), "-o", str(tmp_path / "big.npy"), "--reference", str(path),
               "--iters", "20"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["psnr"] > 20
    big = torch.from_numpy(np.load(tmp_path / "big.npy"))
    assert torch.allclose(torch.nn.functional.avg_pool2d(big[None, None], 2)[0, 0], small, atol=1e-12)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["denoise", "{d}/missing.png", "-o", "{d}/o.png", "--sigma", "5/256"], "not found"),
        (["denoise", "{d}/bad.png", "-o", "{d}/o.png", "--sigma", "5/256"], "not a readable image"),
        (["denoise", "{clean}", "-o", "{d}/o.png", "--sigma", "five"], "sigma"),
        (["denoise", "{clean}", "-o", "{d}/o.xyz", "--sigma", "5/256", "--iters", "2"], "extension"),
        (["denoise", "{clean}", "-o", "{d}/o.png", "--sigma", "5/256", "--model", "{d}/bad.png"], "model file"),
        (["superres", "{d}/tiny.npy", "-o", "{d}/o.png", "--boundary", "valid"], "H, W >="),
        (["denoise", "{clean}", "-o", "{d}/o.png", "--sigma", "5/256", "--reference", "{d}/odd.npy"], "shape"),
    ],
)
def test_cli_errors_are_one_line_exit_2(tmp_path, clean, capsys, argv, message):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    np.save(tmp_path / "odd.npy", np.full((7, 9), 0.5))
    np.save(tmp_path / "tiny.npy", np.full((3, 3), 0.5))  # 6x6 after upscaling: smaller than the prior's support (9)
    argv = [a.format(d=tmp_path, clean=clean[0]) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_unknown_boundary_is_a_one_line_usage_error(clean, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["denoise", str(clean[0]), "-o", "o.png", "--sigma", "5/256", "--boundary", "wrap"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--boundary" in err


def test_boundary_flag_reaches_the_solver_and_extension_allows_tiny_images(tmp_path, clean):
    path, im = clean
    outs = {}
    for b in ("replicate", "valid"):
        assert main(["denoise", str(path), "-o", str(tmp_path / f"{b}.npy"), "--sigma", "0.02", "--iters", "10",
                     "--boundary", b]) == 0
        outs[b] = np.load(tmp_path / f"{b}.npy")
    border = np.abs(outs["replicate"] - outs["valid"])
    assert border[0].max() > 10 * border[20:28, 20:28].max()  # the rules differ at the border, hardly inside
    np.save(tmp_path / "tiny.npy", np.full((3, 3), 0.5))
    assert main(["superres", str(tmp_path / "tiny.npy"), "-o", str(tmp_path / "big.npy")]) == 0
    assert np.allclose(np.load(tmp_path / "big.npy"), 0.5)


def test_cli_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "denoise" in out and "superres" in out
