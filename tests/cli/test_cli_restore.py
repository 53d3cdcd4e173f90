"""``scorematch denoise`` / ``scorematch superres``: sigma parsing, files in and out (scale, bit depth, colour),
errors; the CLI's message for a missing optional dependency."""

import json
import re
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from scorematch.cli import main
from scorematch.cli.restore import NOISY_RANGE, parse_sigma, read_input
from scorematch.datasets import data_dir, read_image, write_image
from scorematch.prior import DEFAULT_PRIORS, default_prior, load_prior
from scorematch.tasks.colour import opponent_denoise

#: The bundled colour FoE (a colour prior, given with --model).
COLOUR_PRIOR = "foe_colour_5x5x24"


#: The progress lines of one file on stderr when it is not a terminal: ``<file>: 48x48 grey, restoring...`` and
#: ``wrote <file> in <t> s``.
PROGRESS = re.compile(r"scorematch \w+: (.+: \d+x\d+ (grey|colour), restoring with .+\.\.\.|wrote .+ in [0-9.]+ s)")


def _messages(err: str) -> list[str]:
    """The lines on stderr other than the progress lines (:data:`PROGRESS`): notes and errors."""
    return [line for line in err.splitlines() if not PROGRESS.fullmatch(line)]


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
        (["denoise", "{d}/missing.png", "-o", "{d}/o.png", "--sigma", "5/256"], "no such file"),
        (["denoise", "{d}/bad.png", "-o", "{d}/o.png", "--sigma", "5/256"], "not a readable image"),
        (["denoise", "{clean}", "-o", "{d}/o.png", "--sigma", "five"], "sigma"),
        (["denoise", "{clean}", "-o", "{d}/o.xyz", "--sigma", "5/256", "--iters", "2"], "extension"),
        (["denoise", "{clean}", "-o", "{d}/o.png", "--sigma", "5/256", "--model", "{d}/bad.png"], "model file"),
        (["superres", "{d}/tiny.npy", "-o", "{d}/o.png", "--boundary", "valid", "--model", "foe_5x5x24"], "smaller than the prior's 9x9"),
        (["superres", "{d}/tiny.npy", "-o", "{d}/o.png", "--model", "foe_5x5x24"], "(6x6 after the 2x upscale), smaller than the prior's 9x9 "
         "support (the window one energy term sees); give an image of at least 5x5 pixels"),
        (["denoise", "{d}/tiny.npy", "-o", "{d}/o.png", "--sigma", "5/256", "--model", "foe_5x5x24"], "the image is 3x3 pixels, smaller than "
         "the prior's 9x9 support"),
        (["denoise", "{d}/small.npy", "-o", "{d}/o.png", "--sigma", "5/256", "--model", "foe_5x5x24"],
         "the image is 9x8 pixels"),
        (["denoise", "{clean}", "-o", "{d}/o.png", "--sigma", "5/256", "--reference", "{d}/odd.npy"], "shape"),
        (["denoise", "{d}/n255.npy", "-o", "{d}/o.png", "--sigma", "5/256"], "values span -3..255, far outside "
         "[0, 1] (noise may take them to -1..2, not beyond): divide by 255, or pass --scale 255"),
        (["superres", "{d}/n255.npy", "-o", "{d}/o.png"], "divide by 255, or pass --scale 255"),
        (["denoise", "{d}/n65535.npy", "-o", "{d}/o.png", "--sigma", "5/256"], "pass --scale 65535"),
        (["denoise", "{d}/n255.npy", "-o", "{d}/o.png", "--sigma", "5/256", "--scale", "0"], "--scale must be > 0"),
        (["denoise", "{clean}", "-o", "{d}/o.jpg", "--sigma", "5/256", "--bits", "16"],
         "a .jpg file holds 8-bit images, not 16-bit; use .png or .tif for 16 bits"),
        (["superres", "{clean}", "-o", "{d}/o.npy", "--bits", "8"], "a .npy file holds float64 values"),
    ],
)
def test_cli_errors_are_one_line_exit_2_and_write_nothing(tmp_path, clean, capsys, argv, message):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    np.save(tmp_path / "odd.npy", np.full((7, 9), 0.5))
    np.save(tmp_path / "tiny.npy", np.full((3, 3), 0.5))  # 6x6 after upscaling: smaller than the prior's support (9)
    np.save(tmp_path / "small.npy", np.full((9, 8), 0.5))  # one side short of 9
    np.save(tmp_path / "n255.npy", np.linspace(-3, 255, 400).reshape(20, 20))  # a noisy image on the 0..255 scale
    np.save(tmp_path / "n65535.npy", np.linspace(0, 65535, 400).reshape(20, 20))
    argv = [a.format(d=tmp_path, clean=clean[0]) for a in argv]
    assert main(argv) == 2
    err = _messages(capsys.readouterr().err)
    assert len(err) == 1 and message in err[0]
    assert not list(tmp_path.glob("o.*"))


def test_unknown_boundary_is_a_one_line_usage_error(clean, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["denoise", str(clean[0]), "-o", "o.png", "--sigma", "5/256", "--boundary", "wrap"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--boundary" in err


def test_boundary_flag_reaches_the_solver(tmp_path, clean):
    path, im = clean
    outs = {}
    for b in ("replicate", "valid"):
        assert main(["denoise", str(path), "-o", str(tmp_path / f"{b}.npy"), "--sigma", "0.02", "--iters", "10",
                     "--boundary", b, "--model", "foe_5x5x24"]) == 0
        outs[b] = np.load(tmp_path / f"{b}.npy")
    border = np.abs(outs["replicate"] - outs["valid"])
    assert border[0].max() > 10 * border[20:28, 20:28].max()  # the rules differ at the border, hardly inside


def test_cli_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "denoise" in out and "superres" in out


def test_scale_divides_float_input_and_multiplies_the_output_back(tmp_path, clean):
    path, im = clean
    noisy = im.numpy() + 0.02 * np.random.default_rng(1).standard_normal(im.shape)
    np.save(tmp_path / "unit.npy", noisy)
    np.save(tmp_path / "n255.npy", 255 * noisy)
    common = ["--sigma", "0.02", "--iters", "5"]
    assert main(["denoise", str(tmp_path / "unit.npy"), "-o", str(tmp_path / "a.npy"), *common]) == 0
    assert main(["denoise", str(tmp_path / "n255.npy"), "-o", str(tmp_path / "b.npy"), *common, "--scale", "255"]) == 0
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.max() <= 1 and b.max() > 100  # b is on the 0..255 scale
    np.testing.assert_allclose(b, 255 * a, rtol=0, atol=1e-9)


def test_scale_leaves_integer_images_alone(tmp_path, clean):
    path, _ = clean  # an 8-bit PNG: its levels are read on [0, 1] whatever --scale says
    argv = ["denoise", str(path), "--sigma", "0.02", "--weight", "0"]
    assert main([*argv, "-o", str(tmp_path / "a.png")]) == 0
    assert main([*argv, "-o", str(tmp_path / "b.png"), "--scale", "255"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(path)))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "b.png")), np.asarray(Image.open(path)))


@pytest.mark.parametrize("lo, hi, ok", [(-0.2, 1.2, True), (-1.0, 2.0, True), (0.0, 2.01, False), (-1.01, 1.0, False)])
def test_noisy_float_input_may_leave_the_unit_range_up_to_the_documented_limits(tmp_path, lo, hi, ok):
    assert NOISY_RANGE == (-1.0, 2.0)
    np.save(tmp_path / "n.npy", np.linspace(lo, hi, 100).reshape(10, 10))
    if ok:
        img, info = read_input(tmp_path / "n.npy")
        assert img.shape == (1, 1, 10, 10) and img.min().item() == lo and img.max().item() == hi
        assert info.bits is None and not info.colour
    else:
        with pytest.raises(ValueError, match="far outside"):
            read_input(tmp_path / "n.npy")


def _png16(path, arr):
    Image.fromarray(arr.astype(np.uint16)).save(path)  # mode "I;16"
    assert Image.open(path).mode == "I;16"


def test_16bit_png_in_gives_16bit_png_out_and_bits_overrides(tmp_path):
    levels = np.random.default_rng(2).integers(0, 65536, (24, 24))
    _png16(tmp_path / "in.png", levels)
    argv = ["denoise", str(tmp_path / "in.png"), "--sigma", "0.02", "--weight", "0"]  # weight 0: out = in
    assert main([*argv, "-o", str(tmp_path / "out.png")]) == 0
    out = Image.open(tmp_path / "out.png")
    assert out.mode == "I;16" and np.array_equal(np.asarray(out), levels)  # all 16 bits kept
    assert main([*argv, "-o", str(tmp_path / "out.tif")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.tif")), levels)
    assert main([*argv, "-o", str(tmp_path / "out8.png"), "--bits", "8"]) == 0
    out8 = Image.open(tmp_path / "out8.png")
    assert out8.mode == "L" and np.array_equal(np.asarray(out8), np.round(levels / 65535 * 255))
    assert main([*argv, "-o", str(tmp_path / "out.jpg")]) == 0  # JPEG holds 8 bits: its own depth, no error
    assert Image.open(tmp_path / "out.jpg").mode == "L"


def test_8bit_png_in_gives_8bit_out_unless_bits_16(tmp_path, clean):
    path, _ = clean
    argv = ["denoise", str(path), "--sigma", "0.02", "--weight", "0"]
    assert main([*argv, "-o", str(tmp_path / "a.tif")]) == 0
    assert np.asarray(Image.open(tmp_path / "a.tif")).dtype == np.uint8
    assert main([*argv, "-o", str(tmp_path / "b.png"), "--bits", "16"]) == 0
    b = Image.open(tmp_path / "b.png")
    assert b.mode == "I;16" and np.array_equal(np.asarray(b), np.asarray(Image.open(path)).astype(np.uint16) * 257)


def _colour_pair(tmp_path):
    from scorematch.datasets import read_image

    clean = read_image(data_dir() / "castle" / "102061.jpg", colour=True, dtype=torch.float64)[:, 100:148, 200:248]
    noisy = (clean + 0.03 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    Image.fromarray(np.round(noisy.permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(tmp_path / "IN.png")
    np.save(tmp_path / "ref.npy", clean.permute(1, 2, 0).numpy())


def test_colour_input_with_a_colour_prior_keeps_its_colour(tmp_path, capsys):
    """A colour image is restored by the colour prior --model names (named in the JSON report, no note) and written
    in colour; an RGB file of gray content is read as gray and restored by the grey prior."""
    _colour_pair(tmp_path)
    assert main(["denoise", str(tmp_path / "IN.png"), "-o", str(tmp_path / "o.png"), "--sigma", "0.03",
                 "--iters", "30", "--reference", str(tmp_path / "ref.npy"), "--model", COLOUR_PRIOR]) == 0
    captured = capsys.readouterr()
    assert _messages(captured.err) == []
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert out["model"] == COLOUR_PRIOR and out["psnr"] > out["psnr_input"] + 1.0
    assert out["solver"]["weight"] == load_prior(COLOUR_PRIOR).presets.denoising(0.03).weight
    assert out["solver"]["method"] == "map" and out["solver"]["iterations"] == 30
    assert Image.open(tmp_path / "o.png").mode == "RGB"
    grey = np.repeat(np.asarray(Image.open(tmp_path / "IN.png"))[..., :1], 3, axis=2)
    Image.fromarray(grey).save(tmp_path / "grey_rgb.png")  # an RGB file of gray content
    assert main(["superres", str(tmp_path / "grey_rgb.png"), "-o", str(tmp_path / "s.png"), "--iters", "2"]) == 0
    assert _messages(capsys.readouterr().err) == []
    assert Image.open(tmp_path / "s.png").mode == "L"


def test_colour_denoising_defaults_to_the_grey_unet_on_the_opponent_channels(tmp_path, capsys):
    """Without --model a colour image is denoised by the default colour prior, the grey U-Net, on its luminance
    and opponent channels, each at its own noise level with its presets (no note: --help says so)."""
    _colour_pair(tmp_path)
    assert main(["denoise", str(tmp_path / "IN.png"), "-o", str(tmp_path / "o.png"), "--sigma", "0.03",
                 "--reference", str(tmp_path / "ref.npy")]) == 0
    captured = capsys.readouterr()
    assert _messages(captured.err) == []
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert out["model"] == DEFAULT_PRIORS[3] == "unet" and out["colour"] == "opponent"
    assert out["psnr"] > out["psnr_input"] + 3.0 and Image.open(tmp_path / "o.png").mode == "RGB"
    from scorematch.tasks import denoise

    prior = load_prior("unet")
    y = torch.from_numpy(np.asarray(Image.open(tmp_path / "IN.png")) / 255.0).permute(2, 0, 1)[None].float()
    expected = opponent_denoise(y, 0.03, lambda z, s: denoise(z, prior, sigma=s))  # each channel at its level
    levels = np.round(expected[0].permute(1, 2, 0).clamp(0, 1).double().numpy() * 255)
    assert np.abs(np.asarray(Image.open(tmp_path / "o.png")).astype(float) - levels).max() <= 1
    assert default_prior(3).name == DEFAULT_PRIORS[3] and default_prior(1).name == DEFAULT_PRIORS[1] == "unet"


@pytest.mark.parametrize("command", ["deblur", "inpaint", "superres"])
def test_every_restoration_command_takes_colour_input_with_the_default_colour_prior(tmp_path, capsys, command):
    _colour_pair(tmp_path)
    extra = {"deblur": ["--kernel", str(tmp_path / "k.npy"), "--sigma", "0.01"],
             "inpaint": ["--mask", str(tmp_path / "m.npy")], "superres": []}[command]
    np.save(tmp_path / "k.npy", np.ones((3, 3)) / 9)
    np.save(tmp_path / "m.npy", (np.arange(48 * 48).reshape(48, 48) % 3 != 0).astype(np.float64))
    assert main([command, str(tmp_path / "IN.png"), "-o", str(tmp_path / "o.png"), "--iters", "3", *extra]) == 0
    assert _messages(capsys.readouterr().err) == []
    out = Image.open(tmp_path / "o.png")
    assert out.mode == "RGB" and out.size == ((96, 96) if command == "superres" else (48, 48))


def test_the_grey_prior_on_colour_input_denoises_the_opponent_channels_with_one_note_line(tmp_path, capsys):
    _colour_pair(tmp_path)
    assert main(["denoise", str(tmp_path / "IN.png"), "-o", str(tmp_path / "o.png"), "--sigma", "0.03",
                 "--iters", "30", "--model", "foe_5x5x24", "--reference", str(tmp_path / "ref.npy")]) == 0
    captured = capsys.readouterr()
    assert _messages(captured.err) == [
        f"scorematch denoise: note: {tmp_path / 'IN.png'} is a colour image; the grey prior restores its luminance "
        "and two opponent-colour channels, each at its own noise level (the output keeps the colour)"
    ]
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert out["model"] == "foe_5x5x24" and out["psnr"] > out["psnr_input"] + 1.0
    assert out["colour"] == "opponent" and set(out) == {"model", "sigma", "colour", "psnr", "psnr_input"}
    assert Image.open(tmp_path / "o.png").mode == "RGB"


def test_the_colour_prior_refuses_a_grey_image_before_any_work(tmp_path, capsys):
    Image.fromarray(np.full((24, 24), 120, dtype=np.uint8)).save(tmp_path / "IN.png")
    assert main(["denoise", str(tmp_path / "IN.png"), "-o", str(tmp_path / "o.png"), "--sigma", "0.02",
                 "--model", COLOUR_PRIOR]) == 2
    err = capsys.readouterr().err
    assert (f"--model {COLOUR_PRIOR}: the prior (ColourFoE) takes colour (3-channel) images, the input is "
            "a grey image; use a grey prior such as foe_5x5x24") in err
    assert not (tmp_path / "o.png").exists()


def test_a_grey_reference_for_a_colour_output_is_refused_before_any_work(tmp_path, capsys):
    Image.fromarray(np.full((24, 24, 3), (10, 120, 200), dtype=np.uint8)).save(tmp_path / "IN.png")
    np.save(tmp_path / "ref.npy", np.full((24, 24), 0.5))
    assert main(["denoise", str(tmp_path / "IN.png"), "-o", str(tmp_path / "o.png"), "--sigma", "0.02",
                 "--reference", str(tmp_path / "ref.npy")]) == 2
    assert "--reference is a grey image, the output colour" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_missing_optional_dependency_names_the_extra(tmp_path, clean, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    assert main(["denoise", str(clean[0]), "-o", str(tmp_path / "o.npy"), "--sigma", "0.02"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "scorematch denoise: error: pillow is not installed (an optional dependency); "
        "install it with: pip install 'scorematch[images]'"
    ]
    assert not (tmp_path / "o.npy").exists()


def _motion_kernel() -> np.ndarray:
    k = np.zeros((7, 7))
    k[3, :], k[2, 4:] = 1.0, 0.5
    return k


@pytest.mark.parametrize("boundary", ["periodic", "valid"])
def test_deblur_cli(tmp_path, clean, capsys, boundary):
    from scorematch.tasks import Blur

    path, im = clean
    k = _motion_kernel()
    np.save(tmp_path / "k.npy", 3.0 * k)  # the CLI normalizes the kernel to sum 1
    op = Blur(torch.from_numpy(k / k.sum()), boundary=boundary)
    y = op.observe(im[None, None], sigma=0.01, generator=torch.Generator().manual_seed(0))[0, 0]
    np.save(tmp_path / "blurry.npy", y.numpy())
    rc = main(["deblur", str(tmp_path / "blurry.npy"), "-o", str(tmp_path / "out.npy"), "--kernel",
               str(tmp_path / "k.npy"), "--sigma", "0.01", "--blur-boundary", boundary, "--reference", str(path),
               "--iters", "40"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    sharp = np.load(tmp_path / "out.npy")
    assert sharp.shape == tuple(im.shape)  # valid: the output is larger than the blurred input
    if boundary == "periodic":
        assert out["psnr"] > out["psnr_input"] + 2.0
    else:
        assert out["psnr"] > 10 * np.log10(1 / np.mean((op.start(y[None, None])[0, 0].numpy() - im.numpy()) ** 2)) + 2.0


def test_inpaint_cli_keeps_the_known_pixels(tmp_path, clean, capsys):
    path, im = clean
    mask = np.random.default_rng(1).random(im.shape) > 0.5
    np.save(tmp_path / "mask.npy", mask.astype(np.uint8))
    np.save(tmp_path / "holes.npy", im.numpy() * mask)
    rc = main(["inpaint", str(tmp_path / "holes.npy"), "--mask", str(tmp_path / "mask.npy"), "-o",
               str(tmp_path / "out.npy"), "--reference", str(path), "--iters", "40"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    filled = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(filled[mask], im.numpy()[mask], atol=1e-12)
    assert out["psnr"] > out["psnr_input"]  # above the smooth fill it starts from


def test_inpaint_and_superres_with_deep_energy_use_its_tuned_level(tmp_path, clean, capsys):
    """A noise-conditional model serves as the MAP prior ``E_s`` at the level its file's presets give the task."""
    from scorematch.pretrained import load_pretrained
    from scorematch.tasks import MAP, Inpaint, restore

    path, im = clean
    mask = np.random.default_rng(1).random(im.shape) > 0.5
    np.save(tmp_path / "mask.npy", mask.astype(np.uint8))
    np.save(tmp_path / "holes.npy", im.numpy() * mask)
    assert main(["inpaint", str(tmp_path / "holes.npy"), "--mask", str(tmp_path / "mask.npy"), "-o",
                 str(tmp_path / "out.npy"), "--model", "deep_energy", "--iters", "5", "--reference", str(path)]) == 0
    presets = load_prior("deep_energy").presets
    level = presets.task("inpaint").level
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["solver"]["level"] == level
    energy = load_pretrained("deep_energy").float()
    y = torch.from_numpy(im.numpy() * mask).float()[None, None]
    expected = restore(y, Inpaint(torch.from_numpy(mask).float()), energy.at(level), sigma=0.0,
                       solver=MAP(iterations=5))
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected[0, 0].double().numpy(), atol=1e-6)
    np.save(tmp_path / "small.npy", im.numpy()[::2, ::2])
    assert main(["superres", str(tmp_path / "small.npy"), "-o", str(tmp_path / "big.npy"), "--factor", "2",
                 "--iters", "2", "--model", "deep_energy", "--reference", str(path)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["solver"]["level"] == presets.task(
        "superres_2x").level


def test_denoise_with_deep_energy_is_map_with_its_recommended_field(tmp_path, clean, capsys):
    from scorematch.pretrained import load_pretrained
    from scorematch.tasks import MAP, denoise

    path, im = clean
    noisy = im.numpy() + (15 / 256) * np.random.default_rng(0).standard_normal(im.shape)
    np.save(tmp_path / "noisy.npy", noisy)
    argv = ["denoise", str(tmp_path / "noisy.npy"), "--sigma", "15/256", "--model", "deep_energy", "--reference",
            str(path)]
    assert main([*argv, "-o", str(tmp_path / "map.npy"), "--iters", "5"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["solver"]
    preset = load_prior("deep_energy").presets.denoising(15 / 256)
    level, weight, start = preset.level_ratio * 15 / 256, preset.weight, preset.start
    assert (out["method"], out["level"], out["weight"], out["start"]) == ("map", level, weight, start)
    y = torch.from_numpy(noisy).float()[None, None]
    expected = denoise(y, load_pretrained("deep_energy").float(), sigma=15 / 256,
                       solver=MAP(level=level, weight=weight, iterations=5, start=start))
    np.testing.assert_allclose(np.load(tmp_path / "map.npy"), expected[0, 0].double().numpy(), atol=1e-6)
    assert main([*argv, "-o", str(tmp_path / "t.npy"), "--method", "tweedie"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["solver"]["method"] == "tweedie"


def test_superres_cli_factor_3(tmp_path, clean):
    path, im = clean
    assert main(["superres", str(path), "-o", str(tmp_path / "big.npy"), "--factor", "3", "--iters", "3"]) == 0
    assert np.load(tmp_path / "big.npy").shape == (3 * im.shape[0], 3 * im.shape[1])


def test_denoise_cli_with_a_noise_conditional_model_uses_tweedie(tmp_path, clean, capsys):
    from scorematch import save
    from scorematch.energies import DeepEnergy
    from scorematch.tasks import tweedie

    path, im = clean
    model = DeepEnergy(4, 2, 3, generator=torch.Generator().manual_seed(0))
    save(model, tmp_path / "deep.safetensors")
    noisy = im + 0.05 * torch.randn(im.shape, generator=torch.Generator().manual_seed(1), dtype=im.dtype)
    np.save(tmp_path / "noisy.npy", noisy.numpy())
    argv = ["denoise", str(tmp_path / "noisy.npy"), "-o", str(tmp_path / "out.npy"), "--sigma", "0.05",
            "--model", str(tmp_path / "deep.safetensors"), "--reference", str(path)]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["solver"]
    assert report["method"] == "tweedie" and "weight" not in report
    with torch.no_grad():
        expected = tweedie(noisy[None, None].float(), model, sigma=0.05)[0, 0]
    torch.testing.assert_close(torch.from_numpy(np.load(tmp_path / "out.npy")).float(), expected)
    assert main(argv + ["--method", "map", "--iters", "3"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["solver"]["method"] == "map"
