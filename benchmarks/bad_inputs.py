"""Try every bad input we know of at the public entries and write the table ``docs/bad_inputs.md``.

Each CLI case runs ``scorematch ...`` in-process in a fresh temporary folder and records the exit code,
the message printed on stderr, and whether any output file was left behind (the folder is listed before
and after; the inputs the case itself prepared do not count). Each library case records the exception
type and message. Nothing is hard-coded: the table is what the code does today.

    PYTHONPATH=src python benchmarks/bad_inputs.py            # writes docs/bad_inputs.md
    PYTHONPATH=src python benchmarks/bad_inputs.py --check    # exit 1 unless every case behaves

Add a case by appending to :func:`cli_cases` / :func:`library_cases` (``expect``: a fragment the message
must contain). CLI cases for commands that are not registered (yet) are skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import pickle
import shlex
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class CliCase:
    name: str
    argv: str  # shell words, with {dir} for the case's folder
    expect: str  # fragment of the message
    setup: Callable[[Path], None] | None = None
    code: int = 2
    note: str = ""
    blocked: tuple[str, ...] = ()  # modules made unimportable during the run (a missing optional dependency)
    leaves: tuple[str, ...] = ()  # the outputs it must write anyway (a batch whose other files are good)


@dataclass
class LibCase:
    name: str
    call: str  # shown in the table
    run: Callable[[Path], object]
    expect: str
    error: type = ValueError


@dataclass
class Result:
    case: object
    code: int | None = None
    message: str = ""
    left: list[str] = field(default_factory=list)
    error: str = ""
    ok: bool = False


# ------------------------------------------------------------------------------------- fixtures


def _png(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _image_dir(d: Path, *, bad: Callable[[Path], None] | None = None, size: int = 32) -> None:
    rng = np.random.default_rng(0)
    for i in range(3):
        _png(d / "imgs" / f"ok{i}.png", (rng.random((size, size)) * 255).astype(np.uint8))
    if bad is not None:
        bad(d / "imgs")


def _valid_png_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(1).random((40, 40)) * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _valid_jpeg_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(1).random((40, 40)) * 255).astype(np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def _idx_dir(d: Path, mutate: Callable[[bytes], bytes]) -> None:
    """A folder with MNIST-named idx files, the image file damaged by ``mutate``."""
    (d / "idx").mkdir()
    images = np.zeros((10, 28, 28), np.uint8)
    raw = bytes([0, 0, 8, 3]) + b"".join(int(n).to_bytes(4, "big") for n in images.shape) + images.tobytes()
    (d / "idx" / "train-images-idx3-ubyte").write_bytes(mutate(raw))
    labels = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(10)
    (d / "idx" / "train-labels-idx1-ubyte").write_bytes(labels)


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil(d: Path) -> None:
    (d / "evil.pt").write_bytes(pickle.dumps(_Payload(str(d / "PWNED")), protocol=4))


def _torch_evil(d: Path) -> None:
    torch.save({"w": torch.zeros(2), "x": _Payload(str(d / "PWNED"))}, d / "evil.pt")


def _model(d: Path, energy, name: str = "model.safetensors") -> None:
    import scorematch

    scorematch.save(energy, d / name)


def _truncated_model(d: Path) -> None:
    import scorematch

    scorematch.save(scorematch.ProductOfExperts(196, 196), d / "m.safetensors")
    data = (d / "m.safetensors").read_bytes()
    (d / "m.safetensors").write_bytes(data[: len(data) // 2])


def _existing_run(d: Path) -> None:
    (d / "out").mkdir()
    (d / "out" / "checkpoint.safetensors").write_bytes(b"")


def _run_with(settings: str) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        (d / "out").mkdir()
        (d / "out" / "train.toml").write_text(settings)

    return setup


def _toml(text: str) -> Callable[[Path], None]:
    return lambda d: (d / "c.toml").write_text(text)


def _write(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda d: (d / name).write_bytes(content)


def _npy(name: str, arr: np.ndarray) -> Callable[[Path], None]:
    return lambda d: np.save(d / name, arr)


@contextlib.contextmanager
def _unimportable(modules: tuple[str, ...]):
    """``import m`` raises ModuleNotFoundError for each of ``modules`` inside the block, as if not installed."""
    saved = {m: sys.modules[m] for m in modules if m in sys.modules}
    sys.modules.update(dict.fromkeys(modules))
    try:
        yield
    finally:
        for m in modules:
            del sys.modules[m]
        sys.modules.update(saved)


# ------------------------------------------------------------------------------------- cases


TRAIN = "train poe --data mnist --n-train 500 --steps 2 --out {dir}/out"


def cli_cases() -> list[CliCase]:
    from PIL import Image

    png, jpg = _valid_png_bytes(), _valid_jpeg_bytes()
    return [
        CliCase("lambda < 0", f"{TRAIN} --lam -0.1", "--lam must be >= 0"),
        CliCase("lambda NaN", f"{TRAIN} --lam nan", "--lam must be a finite number"),
        CliCase("lambda inf", f"{TRAIN} --lam inf", "--lam must be a finite number"),
        CliCase("lambda not a number", f"{TRAIN} --lam abc", "invalid float value: 'abc'"),
        CliCase("lambda missing", TRAIN, "--lam is required"),
        CliCase("steps 0", f"{TRAIN} --lam 0.01 --steps 0", "--steps must be >= 1"),
        CliCase("steps not an integer", f"{TRAIN} --lam 0.01 --steps 2.5", "invalid int value: '2.5'"),
        CliCase("batch size 0", f"{TRAIN} --lam 0.01 --batch-size 0", "--batch-size must be >= 1"),
        CliCase("learning rate 0", f"{TRAIN} --lam 0.01 --lr 0", "--lr must be > 0"),
        CliCase("negative seed", f"{TRAIN} --lam 0.01 --seed -1", "--seed must be >= 0"),
        CliCase("unknown optimizer", f"{TRAIN} --lam 0.01 --optimizer rmsprop", "invalid choice: 'rmsprop'"),
        CliCase("unknown model", "train gmm --data mnist --lam 0.01 --out {dir}/out", "invalid choice: 'gmm'"),
        CliCase("float16 requested", f"{TRAIN} --lam 0.01 --dtype float16", "invalid choice: 'float16'"),
        CliCase("CUDA requested, none present", f"{TRAIN} --lam 0.01 --device cuda", "CUDA is not available",
                note="only on machines without CUDA"),
        CliCase("unknown device", f"{TRAIN} --lam 0.01 --device tpu", "not a device name"),
        CliCase("even whitening size", f"{TRAIN} --lam 0.01 --whiten 4", "--whiten must be 0 or an odd size"),
        CliCase("patch size with MNIST", f"{TRAIN} --lam 0.01 --patch-size 8", "MNIST digits are used whole"),
        CliCase("data: no such set or folder", "train poe --data nowhere --lam 0.01 --out {dir}/out",
                "not a bundled data set"),
        CliCase("data: a file, not a folder", "train poe --data {dir}/a.png --lam 0.01 --out {dir}/out",
                "is a file", setup=_write("a.png", png)),
        CliCase("data: folder with no images", "train poe --data {dir} --lam 0.01 --out {dir}/out",
                "no image files", setup=_write("notes.txt", b"hello")),
        CliCase("data: random bytes as PNG", "train poe --data {dir}/imgs --lam 0.01 --out {dir}/out",
                "not a readable image", setup=lambda d: _image_dir(d, bad=lambda p: (p / "x.png").write_bytes(
                    bytes(np.random.default_rng(3).integers(0, 256, 500, dtype=np.uint8))))),
        CliCase("data: truncated PNG", "train poe --data {dir}/imgs --lam 0.01 --out {dir}/out",
                "truncated", setup=lambda d: _image_dir(d, bad=lambda p: (p / "x.png").write_bytes(png[: len(png) // 2]))),
        CliCase("data: truncated JPEG", "train poe --data {dir}/imgs --lam 0.01 --out {dir}/out",
                "truncated", setup=lambda d: _image_dir(d, bad=lambda p: (p / "x.jpg").write_bytes(jpg[: len(jpg) // 2]))),
        CliCase("data: text file named .jpg", "train poe --data {dir}/imgs --lam 0.01 --out {dir}/out",
                "cannot identify image file", setup=lambda d: _image_dir(d, bad=lambda p: (p / "x.jpg").write_text("hi"))),
        CliCase("data: float TIFF outside [0, 1]", "train poe --data {dir}/imgs --lam 0.01 --out {dir}/out",
                "must lie in [0, 1]", setup=lambda d: _image_dir(d, bad=lambda p: Image.fromarray(
                    np.full((32, 32), 7.5, np.float32)).save(p / "x.tif"))),
        CliCase("data: 32-bit TIFF beyond 16 bits", "train poe --data {dir}/imgs --lam 0.01 --out {dir}/out",
                "outside the 16-bit range", setup=lambda d: _image_dir(d, bad=lambda p: Image.fromarray(
                    np.full((32, 32), 70000, np.int32)).save(p / "x.tif"))),
        CliCase("data: image in LAB mode", "train poe --data {dir}/imgs --lam 0.01 --out {dir}/out",
                "unsupported image mode 'LAB'", setup=lambda d: _image_dir(d, bad=lambda p: Image.new(
                    "LAB", (32, 32)).save(p / "x.tif"))),
        CliCase("data: 3-D .npy", "train poe --data {dir}/imgs --lam 0.01 --out {dir}/out",
                "expected a 2-D gray image", setup=lambda d: _image_dir(d, bad=lambda p: np.save(p / "x.npy", np.zeros((4, 32, 32))))),
        CliCase("data: NaN in a .npy image", "train poe --data {dir}/imgs --lam 0.01 --out {dir}/out",
                "NaN or inf", setup=lambda d: _image_dir(d, bad=lambda p: np.save(p / "x.npy", np.full((32, 32), np.nan)))),
        CliCase("data: pickled .npy", "train poe --data {dir}/imgs --lam 0.01 --out {dir}/out",
                "not a readable .npy", setup=lambda d: _image_dir(d, bad=lambda p: np.save(
                    p / "x.npy", np.array([[_Payload(str(d / "PWNED"))]], dtype=object), allow_pickle=True))),
        CliCase("data: images smaller than the patch", "train poe --data {dir}/imgs --lam 0.01 --patch-size 16 "
                "--out {dir}/out", "smaller than the patch size", setup=lambda d: _image_dir(d, size=10)),
        CliCase("FoE patch smaller than its filters", "train foe --data {dir}/imgs --lam 0.01 --patch-size 3 "
                "--out {dir}/out", "smaller than --kernel-size", setup=_image_dir),
        CliCase("idx: truncated", "train poe --data {dir}/idx --lam 0.01 --out {dir}/out", "truncated or corrupt",
                setup=lambda d: _idx_dir(d, lambda raw: raw[:-100])),
        CliCase("idx: bad magic number", "train poe --data {dir}/idx --lam 0.01 --out {dir}/out", "bad magic number",
                setup=lambda d: _idx_dir(d, lambda raw: b"\x12\x34" + raw[2:])),
        CliCase("idx: corrupt gzip", "train poe --data {dir}/idx --lam 0.01 --out {dir}/out", "corrupt gzip stream",
                setup=lambda d: _idx_dir(d, lambda raw: gzip.compress(raw)[:40])),
        CliCase("idx: not the full MNIST train set", "train poe --data {dir}/idx --lam 0.01 --out {dir}/out",
                "expected 60000 images", setup=lambda d: _idx_dir(d, lambda raw: raw)),
        CliCase("config: missing file", f"{TRAIN} --config {{dir}}/none.toml", "no such file"),
        CliCase("config: TOML syntax error", f"{TRAIN} --config {{dir}}/c.toml", "not valid TOML",
                setup=_toml("lam = = 0.1\n")),
        CliCase("config: unknown key", f"{TRAIN} --config {{dir}}/c.toml", "unknown setting 'lamda'",
                setup=_toml("lamda = 0.1\n")),
        CliCase("config: wrong type", f"{TRAIN} --config {{dir}}/c.toml", "steps must be an integer",
                setup=_toml('lam = 0.01\nsteps = "100"\n')),
        CliCase("config: lambda < 0", f"{TRAIN} --config {{dir}}/c.toml", "--lam must be >= 0",
                setup=_toml("lam = -1.0\n")),
        CliCase("config: binary file", f"{TRAIN} --config {{dir}}/c.toml", "not a UTF-8 text file",
                setup=_write("c.toml", b"\xff\xfe\x00lam")),
        CliCase("out is a file", "train poe --data mnist --lam 0.01 --out {dir}/f", "is a file; give a directory",
                setup=_write("f", b"x")),
        CliCase("out holds a run, no --resume", f"{TRAIN} --lam 0.01", "already holds a training run",
                setup=_existing_run),
        CliCase("--resume with other settings", f"{TRAIN} --lam 0.02 --resume", "was started with other settings",
                setup=_run_with('data = "mnist"\nlam = 0.01\nn_train = 500\n')),
        CliCase("init: malicious pickle", f"{TRAIN} --lam 0.01 --init {{dir}}/evil.pt", "can run code when loaded",
                setup=_evil),
        CliCase("init: malicious torch.save file", f"{TRAIN} --lam 0.01 --init {{dir}}/evil.pt",
                "can run code when loaded", setup=_torch_evil),
        CliCase("init: model of another energy", f"{TRAIN} --lam 0.01 --init {{dir}}/model.safetensors",
                "not a ProductOfExperts", setup=lambda d: _model(d, _foe())),
        CliCase("init: model for other data", f"{TRAIN} --lam 0.01 --init {{dir}}/model.safetensors",
                "on 64 dimensions but the data has 196", setup=lambda d: _model(d, _poe(64))),
        CliCase("init: truncated model file", f"{TRAIN} --lam 0.01 --init {{dir}}/m.safetensors",
                "not a scorematch model file", setup=_truncated_model),
        CliCase("init: missing model file", f"{TRAIN} --lam 0.01 --init {{dir}}/none.safetensors",
                "model file not found"),
        # Restoration commands (skipped until they are registered); loose fragments, as their wording may change.
        CliCase("denoise: sigma = 0", "denoise {dir}/n.png -o {dir}/out.png --sigma 0", "sigma",
                setup=_write("n.png", png)),
        CliCase("denoise: sigma on the 0..255 scale", "denoise {dir}/n.png -o {dir}/out.png --sigma 25", "sigma",
                setup=_write("n.png", png)),
        CliCase("denoise: sigma not a number", "denoise {dir}/n.png -o {dir}/out.png --sigma five", "sigma",
                setup=_write("n.png", png)),
        CliCase("denoise: corrupt input image", "denoise {dir}/n.png -o {dir}/out.png --sigma 5/256", "n.png",
                setup=_write("n.png", png[: len(png) // 2])),
        CliCase("denoise: missing input image", "denoise {dir}/none.png -o {dir}/out.png --sigma 5/256", "none.png"),
        CliCase("denoise: malicious model", "denoise {dir}/n.png -o {dir}/out.png --sigma 5/256 --model {dir}/evil.pt",
                "can run code when loaded", setup=lambda d: (_evil(d), (d / "n.png").write_bytes(png))),
        CliCase("denoise: model of another energy", "denoise {dir}/n.png -o {dir}/out.png --sigma 5/256 "
                "--model {dir}/model.safetensors", "ProductOfExperts",
                setup=lambda d: (_model(d, _poe()), (d / "n.png").write_bytes(png))),
        CliCase("superres: corrupt input image", "superres {dir}/n.png -o {dir}/out.png", "n.png",
                setup=_write("n.png", png[: len(png) // 2])),
        CliCase("denoise: float .npy on the 0..255 scale", "denoise {dir}/n.npy -o {dir}/out.png --sigma 5/256",
                "divide by 255, or pass --scale 255", setup=_npy("n.npy", _noisy255())),
        CliCase("superres: float .npy on the 0..255 scale", "superres {dir}/n.npy -o {dir}/out.png",
                "divide by 255, or pass --scale 255", setup=_npy("n.npy", _noisy255())),
        CliCase("denoise: float .npy on the 0..65535 scale", "denoise {dir}/n.npy -o {dir}/out.png --sigma 5/256",
                "pass --scale 65535", setup=_npy("n.npy", 257 * _noisy255())),
        CliCase("denoise: --scale 0", "denoise {dir}/n.npy -o {dir}/out.png --sigma 5/256 --scale 0",
                "--scale must be > 0", setup=_npy("n.npy", _noisy255())),
        CliCase("denoise: 1x1 image, the FoE", "denoise {dir}/n.npy -o {dir}/out.png --sigma 5/256 --model foe_5x5x24",
                "smaller than the prior's 9x9 support", setup=_npy("n.npy", np.full((1, 1), 0.5))),
        CliCase("denoise: 3x3 image (smaller than the FoE)",
                "denoise {dir}/n.npy -o {dir}/out.png --sigma 5/256 --model foe_5x5x24",
                "smaller than the prior's 9x9 support", setup=_npy("n.npy", np.full((3, 3), 0.5))),
        CliCase("superres: 3x3 image (6x6 upscaled, smaller than the FoE)",
                "superres {dir}/n.npy -o {dir}/out.png --model foe_5x5x24",
                "at least 5x5 pixels", setup=_npy("n.npy", np.full((3, 3), 0.5))),
        CliCase("denoise: --bits 16 into a JPEG", "denoise {dir}/n.png -o {dir}/out.jpg --sigma 5/256 --bits 16",
                "holds 8-bit images, not 16-bit", setup=_write("n.png", png)),
        CliCase("denoise: --bits with a .npy output", "denoise {dir}/n.png -o {dir}/out.npy --sigma 5/256 --bits 8",
                "holds float64 values", setup=_write("n.png", png)),
        CliCase("denoise: --reference of another size", "denoise {dir}/n.png -o {dir}/out.png --sigma 5/256 "
                "--reference {dir}/r.npy", "--reference has shape", setup=lambda d: (
                    (d / "n.png").write_bytes(png), np.save(d / "r.npy", np.full((7, 9), 0.5)))),
        CliCase("denoise: Pillow not installed", "denoise {dir}/n.png -o {dir}/out.png --sigma 5/256",
                "pip install 'scorematch[images]'", setup=_write("n.png", png), blocked=("PIL",)),
        CliCase("denoise: sigma 1 (255/255, far beyond the prior's levels)",
                "denoise {dir}/n.png -o {dir}/out.png --sigma 1", "did you mean 1/255?", setup=_write("n.png", png)),
        CliCase("denoise: a grey image with the colour prior", "denoise {dir}/n.png -o {dir}/out.png --sigma 5/256 "
                "--model foe_colour_5x5x24", "takes colour (3-channel) images, the input is a grey image",
                setup=_write("n.png", png)),
        CliCase("denoise: a folder with one corrupt file", "denoise {dir}/in -o {dir}/out --sigma 5/256 --iters 2",
                "1 written, 0 skipped, 1 failed", code=1, leaves=("out", "out/a.png"),
                note="the good file is written; the bad one is named on a FAILED line",
                setup=lambda d: ((d / "in").mkdir(), (d / "in" / "a.png").write_bytes(png),
                                 (d / "in" / "b.png").write_bytes(png[: len(png) // 2]))),
        CliCase("denoise: --reference with several inputs", "denoise {dir}/a.png {dir}/b.png -o {dir}/out "
                "--sigma 5/256 --reference {dir}/a.png", "give one input file",
                setup=lambda d: ((d / "a.png").write_bytes(png), (d / "b.png").write_bytes(png))),
        CliCase("denoise: --jobs 0", "denoise {dir}/n.png -o {dir}/out.png --sigma 5/256 --jobs 0",
                "--jobs must be >= 1", setup=_write("n.png", png)),
        CliCase("denoise: no input matches", "denoise {dir}/*.tif -o {dir}/out --sigma 5/256", "matches no",
                setup=_write("n.png", png)),
        CliCase("denoise: output would overwrite an input", "denoise {dir}/in -o {dir}/in --sigma 5/256",
                "would overwrite the input", setup=lambda d: ((d / "in").mkdir(), (d / "in" / "n.png").write_bytes(png))),
        CliCase("denoise: two inputs with one output name", "denoise {dir}/a/n.png {dir}/b/n.png -o {dir}/out "
                "--sigma 5/256", "would both be written to", setup=lambda d: ((d / "a").mkdir(), (d / "b").mkdir(),
                                                                (d / "a" / "n.png").write_bytes(png),
                                                                (d / "b" / "n.png").write_bytes(png))),
        CliCase("denoise: unknown bundled model name", "denoise {dir}/n.png -o {dir}/out.png --sigma 5/256 "
                "--model no_such_model", "no model file or bundled model named 'no_such_model'",
                setup=_write("n.png", png)),
        CliCase("deblur: kernel with a negative sum", "deblur {dir}/n.npy -o {dir}/out.png --kernel {dir}/k.npy "
                "--sigma 0.01", "needs a positive sum",
                setup=lambda d: (np.save(d / "n.npy", np.full((40, 40), 0.5)), np.save(d / "k.npy", -np.ones((3, 3))))),
        CliCase("deblur: kernel with NaN", "deblur {dir}/n.npy -o {dir}/out.png --kernel {dir}/k.npy --sigma 0.01",
                "NaN", setup=lambda d: (np.save(d / "n.npy", np.full((40, 40), 0.5)),
                                        np.save(d / "k.npy", np.full((3, 3), np.nan)))),
        CliCase("deblur: kernel larger than the image", "deblur {dir}/n.npy -o {dir}/out.png --kernel {dir}/k.npy "
                "--sigma 0.01", "larger than the", setup=lambda d: (np.save(d / "n.npy", np.full((12, 12), 0.5)),
                                                                 np.save(d / "k.npy", np.ones((15, 15))))),
        CliCase("deblur: sigma missing", "deblur {dir}/n.npy -o {dir}/out.png --kernel {dir}/k.npy",
                "arguments are required: --sigma", setup=lambda d: (np.save(d / "n.npy", np.full((40, 40), 0.5)),
                                                      np.save(d / "k.npy", np.ones((3, 3))))),
        CliCase("inpaint: mask of another shape", "inpaint {dir}/n.npy --mask {dir}/m.npy -o {dir}/out.png",
                "give a mask of the image's size", setup=lambda d: (np.save(d / "n.npy", np.full((40, 40), 0.5)),
                                                                   np.save(d / "m.npy", np.ones((40, 30))))),
        CliCase("inpaint: mask with no known pixel", "inpaint {dir}/n.npy --mask {dir}/m.npy -o {dir}/out.png",
                "marks no pixel as known", setup=lambda d: (np.save(d / "n.npy", np.full((40, 40), 0.5)),
                                                           np.save(d / "m.npy", np.zeros((40, 40))))),
        CliCase("superres --factor 3: a reference of the 2x size", "superres {dir}/n.npy -o {dir}/out.png "
                "--factor 3 --reference {dir}/r.npy", "--reference has shape",
                setup=lambda d: (np.save(d / "n.npy", np.full((20, 20), 0.5)), np.save(d / "r.npy", np.full((40, 40), 0.5)))),
        CliCase("superres: factor 5", "superres {dir}/n.npy -o {dir}/out.png --factor 5", "invalid choice: 5",
                setup=_npy("n.npy", np.full((20, 20), 0.5))),
        CliCase("demo: negative steps", "demo --steps -5", "steps must be >= 0"),
        CliCase("demo: lambda < 0", "demo --lam -1 --steps 1 --n-train 10", "lam must be >= 0"),
        CliCase("demo: no training digits", "demo --n-train 0", "non-empty"),
        CliCase("unknown command", "trian poe", "invalid choice: 'trian'"),
    ]


def _noisy255() -> np.ndarray:
    """A noisy 40x40 float image on the 0..255 scale."""
    rng = np.random.default_rng(2)
    return rng.random((40, 40)) * 255 + 5 * rng.standard_normal((40, 40))


def _poe(dim: int = 8):
    import scorematch

    return scorematch.ProductOfExperts(dim, dim)


def _foe():
    import scorematch

    return scorematch.FieldOfExperts(4, 3)


def library_cases() -> list[LibCase]:
    import scorematch
    from scorematch.checkpoint import load_checkpoint
    from scorematch.datasets import PatchStream, list_images, read_idx, read_image, write_image
    from scorematch.tasks import denoise, superresolve
    from scorematch.validation import parse_sigma

    poe, x = _poe(), torch.randn(4, 8)
    nan_x = x.clone()
    nan_x[1, 2] = float("nan")
    loss = scorematch.score_matching_loss
    fit = scorematch.fit

    def saved(d: Path, energy, name: str = "m.safetensors") -> Path:
        return scorematch.save(energy, d / name)

    def evil(d: Path) -> Path:
        _evil(d)
        return d / "evil.pt"

    def raw_file(d: Path, name: str, content: bytes) -> Path:
        (d / name).write_bytes(content)
        return d / name

    return [
        LibCase("lambda < 0", "score_matching_loss(poe, x, lam=-0.1)", lambda d: loss(poe, x, lam=-0.1),
                "lam must be >= 0"),
        LibCase("lambda NaN", "score_matching_loss(poe, x, lam=nan)", lambda d: loss(poe, x, lam=float("nan")),
                "lam must be a finite number"),
        LibCase("lambda as text", "score_matching_loss(poe, x, lam='0.1')", lambda d: loss(poe, x, lam="0.1"),
                "lam must be a number", TypeError),
        LibCase("NaN in the batch", "score_matching_loss(poe, x_with_nan, lam=0.01)",
                lambda d: loss(poe, nan_x, lam=0.01), "contains NaN or inf"),
        LibCase("integer batch", "score_matching_loss(poe, x.long())", lambda d: loss(poe, x.long()),
                "floating-point", TypeError),
        LibCase("empty batch", "score_matching_loss(poe, x[:0])", lambda d: loss(poe, x[:0]), "empty"),
        LibCase("numpy array", "score_matching_loss(poe, x.numpy())", lambda d: loss(poe, x.numpy()),
                "must be a torch.Tensor", TypeError),
        LibCase("wrong width", "score_matching_loss(poe, torch.randn(4, 9))", lambda d: loss(poe, torch.randn(4, 9)),
                "must have shape (B, 8)"),
        LibCase("unflattened patches", "poe.energy(torch.randn(4, 1, 8, 1))", lambda d: poe.energy(torch.randn(4, 1, 8, 1)),
                "expects a batch of shape (B, ...) with 2 dimensions"),
        LibCase("float64 batch, float32 model", "score_matching_loss(poe, x.double())",
                lambda d: loss(poe, x.double()), "convert one of them", TypeError),
        LibCase("unknown method", "score_matching_loss(poe, x, method='fast')",
                lambda d: loss(poe, x, method="fast"), "method must be one of"),
        LibCase("NaN into input_derivatives", "input_derivatives(poe, x_with_nan)",
                lambda d: scorematch.input_derivatives(poe, nan_x), "contains NaN or inf"),
        LibCase("sigma = 0", "denoising_score_matching_loss(poe, x, sigma=0)",
                lambda d: scorematch.denoising_score_matching_loss(poe, x, sigma=0), "sigma must be > 0"),
        LibCase("sigma as a vector", "denoising_score_matching_loss(poe, x, sigma=torch.tensor([0.1, 0.2]))",
                lambda d: scorematch.denoising_score_matching_loss(poe, x, sigma=torch.tensor([0.1, 0.2])),
                "sigma must be a single number", TypeError),
        LibCase("sigma on the wrong scale", "parse_sigma('25')", lambda d: parse_sigma("25"), "pass 25/255"),
        LibCase("sigma <= 0 (text)", "parse_sigma('-5/255')", lambda d: parse_sigma("-5/255"),
                "sigma must be a positive number"),
        LibCase("n_proj = 0", "sliced_score_matching_loss(poe, x, n_proj=0)",
                lambda d: scorematch.sliced_score_matching_loss(poe, x, n_proj=0), "n_proj must be >= 1"),
        LibCase("dim not an integer", "ProductOfExperts(2.5, 3)", lambda d: scorematch.ProductOfExperts(2.5, 3),
                "dim must be an integer", TypeError),
        LibCase("expert scale c <= 0", "ProductOfExperts(4, 4, c=-1)", lambda d: scorematch.ProductOfExperts(4, 4, c=-1),
                "c must be > 0"),
        LibCase("FoE without channel axis", "FieldOfExperts(4, 3).energy(torch.rand(2, 16, 16))",
                lambda d: _foe().energy(torch.rand(2, 16, 16)), "with 4 dimensions"),
        LibCase("FoE image smaller than filters", "FieldOfExperts(4, 3).energy(torch.rand(2, 1, 2, 9))",
                lambda d: _foe().energy(torch.rand(2, 1, 2, 9)), "H, W >= 3"),
        LibCase("fit: NaN in data", "fit(poe, x_with_nan, loss_fn)",
                lambda d: fit(poe, nan_x, loss, steps=1), "NaN or inf values (in 1 of 4 samples)"),
        LibCase("fit: lr = inf", "fit(poe, x, loss_fn, lr=inf)", lambda d: fit(poe, x, loss, lr=float("inf")),
                "lr must be a finite number"),
        LibCase("fit: steps as text", "fit(poe, x, loss_fn, steps='10')", lambda d: fit(poe, x, loss, steps="10"),
                "steps must be an integer", TypeError),
        LibCase("fit: run_dir is a file", "fit(poe, x, loss_fn, run_dir='a_file')",
                lambda d: fit(poe, x, loss, steps=1, run_dir=raw_file(d, "a_file", b"x")), "not a directory",
                NotADirectoryError),
        LibCase("load: malicious pickle", "load('evil.pt')", lambda d: scorematch.load(evil(d)),
                "can run code when loaded"),
        LibCase("load: another energy", "load('foe.safetensors', expect=ProductOfExperts)",
                lambda d: scorematch.load(saved(d, _foe()), expect=scorematch.ProductOfExperts),
                "holds a FieldOfExperts, not a ProductOfExperts"),
        LibCase("load: a directory", "load('run_dir')", lambda d: scorematch.load(d), "is a directory"),
        LibCase("load: hostile config (dim=10**12)", "load('hostile.safetensors')",
                lambda d: scorematch.load(_hostile(d)), "do not match"),
        LibCase("load_checkpoint: a model file", "load_checkpoint('model.safetensors')",
                lambda d: load_checkpoint(saved(d, _poe())), "is not a training checkpoint"),
        LibCase("read_image: random bytes", "read_image('x.png')",
                lambda d: read_image(raw_file(d, "x.png", bytes(range(256)) * 3)), "not a readable image"),
        LibCase("read_image: missing", "read_image('none.png')", lambda d: read_image(d / "none.png"),
                "image not found", FileNotFoundError),
        LibCase("read_idx: truncated", "read_idx('t.idx')",
                lambda d: read_idx(raw_file(d, "t.idx", bytes([0, 0, 8, 1, 0, 0, 0, 9, 1, 2]))),
                "truncated or corrupt"),
        LibCase("read_idx: signed type", "read_idx('s.idx')",
                lambda d: read_idx(raw_file(d, "s.idx", bytes([0, 0, 9, 1, 0, 0, 0, 1, 1]))), "not supported"),
        LibCase("write_image: NaN pixels", "write_image('out.png', image_with_nan)",
                lambda d: write_image(d / "out.png", torch.full((4, 4), float("nan"))), "nothing was written"),
        LibCase("write_image: 16 bits into a JPEG", "write_image('out.jpg', image, bits=16)",
                lambda d: write_image(d / "out.jpg", torch.rand(4, 4), bits=16), "holds 8-bit images"),
        LibCase("denoise: image smaller than the prior", "denoise(torch.rand(1, 1, 3, 3), prior, sigma=0.02)",
                lambda d: denoise(torch.rand(1, 1, 3, 3), _image_prior(), sigma=0.02),
                "smaller than the prior's 9x9 support"),
        LibCase("superresolve: upscale smaller than the prior", "superresolve(torch.rand(1, 1, 4, 4), prior)",
                lambda d: superresolve(torch.rand(1, 1, 4, 4), _image_prior()), "at least 5x5 pixels"),
        LibCase("sm.denoise: a colour array without channel_axis", "sm.denoise(np.zeros((8, 8, 3)), 0.1)",
                lambda d: scorematch.denoise(np.zeros((8, 8, 3)), 0.1), "pass channel_axis=-1"),
        LibCase("sm.denoise: sigma 1 (255/255)", "sm.denoise(image, 1.0)",
                lambda d: scorematch.denoise(np.zeros((16, 16)), 1.0), "did you mean 1/255?"),
        LibCase("sm.denoise: a grey image with the colour prior", "sm.denoise(image, 0.1, 'foe_colour_5x5x24')",
                lambda d: scorematch.denoise(np.zeros((16, 16)), 0.1, "foe_colour_5x5x24"),
                "takes colour (3-channel) images"),
        LibCase("sm.denoise: beyond a noise-conditional prior's levels", "sm.denoise(image, 0.5, 'deep_energy')",
                lambda d: scorematch.denoise(np.zeros((16, 16)), 0.5, "deep_energy"), "was trained on"),
        LibCase("sm.restore: Tweedie as a restoration solver", "sm.restore(y, sm.Blur(k), sigma=0.01, "
                "solver=sm.Tweedie())", lambda d: scorematch.restore(np.zeros((16, 16)), scorematch.Blur(
                    torch.ones(3, 3) / 9), sigma=0.01, solver=scorematch.Tweedie()),
                "Tweedie's estimate is a denoiser", TypeError),
        LibCase("sm.restore: a solver that is not one", "sm.restore(y, sm.Blur(k), sigma=0.01, solver='lbfgs')",
                lambda d: scorematch.restore(np.zeros((16, 16)), scorematch.Blur(torch.ones(3, 3) / 9), sigma=0.01,
                                             solver="lbfgs"), "solver must be MAP(...)", TypeError),
        LibCase("sm.load_prior: unknown name", "sm.load_prior('no_such_model')",
                lambda d: scorematch.load_prior("no_such_model"), "no model file or bundled model",
                FileNotFoundError),
        LibCase("PatchStream: patch size 0", "PatchStream(images, 0)",
                lambda d: PatchStream([torch.rand(8, 8)], 0), "size must be a positive integer"),
        LibCase("list_images: empty folder", "list_images(empty_dir)", lambda d: list_images(d), "no image files"),
    ]


def _image_prior():
    """An untrained ImageFoE with the bundled prior's shape: 5x5 filters on the 5x5 whitening (support 9)."""
    import scorematch

    return scorematch.energies.ImageFoE(24, 5, whitening_size=5)


def _hostile(d: Path) -> Path:
    from safetensors.torch import save_file

    from scorematch.serialization import FORMAT

    path = d / "hostile.safetensors"
    save_file({"layers.0.raw_weight": torch.zeros(3, 4), "layers.2.beta": torch.zeros(3)}, str(path),
              metadata={"format": FORMAT, "energy": "ProductOfExperts", "config": json.dumps({"dim": 10**12, "n_experts": 3})})
    return path


# ------------------------------------------------------------------------------------- running


def _listing(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


def run_cli_case(case: CliCase, commands: set[str]) -> Result | None:
    from scorematch.cli import main

    argv_words = shlex.split(case.argv)
    if argv_words[0] not in commands and not case.expect.startswith("invalid choice"):
        return None
    if "CUDA" in case.name and torch.cuda.is_available():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if case.setup is not None:
            case.setup(d)
        before = _listing(d)
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), _unimportable(case.blocked):
            try:
                code = main(shlex.split(case.argv.format(dir=tmp)))
            except SystemExit as exc:
                code = exc.code
        lines = [line for line in err.getvalue().splitlines() if line.strip() and not line.startswith(("usage:", " "))]
        message = lines[-1] if lines else ""
        left = sorted(_listing(d) - before)
        res = Result(case, code=code, message=message.replace(tmp, "DIR"), left=left)
        res.ok = (code == case.code and case.expect in message and left == sorted(case.leaves)
                  and not (d / "PWNED").exists())
        return res


def run_lib_case(case: LibCase) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        try:
            case.run(d)
        except Exception as exc:  # noqa: BLE001 - recording what happens is the point
            # Files the case wrote as its own input are in the listing too: only outputs named out* count.
            left = sorted(p for p in _listing(d) if Path(p).name.startswith(("out", ".out")))
            res = Result(case, message=str(exc).replace(tmp, "DIR"), error=type(exc).__name__, left=left)
            res.ok = (isinstance(exc, case.error) and case.expect in str(exc) and not left
                      and not (d / "PWNED").exists())
            return res
        return Result(case, error="(no error)")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(cli: list[Result], lib: list[Result]) -> str:
    out = [
        "# Bad inputs: what each entry point says",
        "",
        "Generated by `PYTHONPATH=src python benchmarks/bad_inputs.py` (do not edit by hand). Each CLI case",
        "runs `scorematch ...` in a fresh temporary folder (`DIR`); *left behind* lists files that were not",
        "there before the command (inputs the case prepared do not count). Exit code 2 = bad input. Cases",
        "that plant a malicious pickle also check that its payload (creating `DIR/PWNED`) never ran.",
        "",
        "## Command line",
        "",
        "| # | bad input | command | exit | message (stderr, last line) | left behind | as expected |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(cli, 1):
        c = r.case
        out.append(
            f"| {i} | {_cell(c.name)} | `scorematch {_cell(c.argv.replace('{dir}', 'DIR'))}` | {r.code} | "
            f"{_cell(r.message)} | {', '.join(r.left) or 'nothing'} | {'yes' if r.ok else '**NO**'} |"
        )
    out += [
        "",
        "## Library",
        "",
        "Outputs a library call would write are named `out*`; *left behind* lists any that exist after the error.",
        "",
        "| # | bad input | call | exception | message | left behind | as expected |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(lib, 1):
        c = r.case
        out.append(f"| {i} | {_cell(c.name)} | `{_cell(c.call)}` | {r.error} | {_cell(r.message)} | "
                   f"{', '.join(r.left) or 'nothing'} | {'yes' if r.ok else '**NO**'} |")
    out.append("")
    return "\n".join(out)


def collect() -> tuple[list[Result], list[Result]]:
    import logging

    from scorematch.cli import build_parser

    logging.disable(logging.WARNING)
    torch.set_num_threads(1)
    commands = {name for a in build_parser()._subparsers._group_actions for name in a.choices}
    cli = [r for r in (run_cli_case(c, commands) for c in cli_cases()) if r is not None]
    lib = [run_lib_case(c) for c in library_cases()]
    return cli, lib


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "bad_inputs.md"))
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if any case misbehaves")
    args = parser.parse_args(argv)
    cli, lib = collect()
    bad = [r for r in cli + lib if not r.ok]
    for r in bad:
        print(f"UNEXPECTED: {r.case.name}: exit {r.code} {r.error} {r.message!r} left {r.left}", file=sys.stderr)
    if not args.check:
        from scorematch.io import atomic_path

        with atomic_path(args.out) as tmp:
            tmp.write_text(render(cli, lib))
        print(f"{len(cli)} CLI and {len(lib)} library cases, {len(bad)} unexpected -> {args.out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
