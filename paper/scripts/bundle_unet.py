"""Bundle a trained U-Net energy: its model file with the run's record, and its training curve as data and a plot.

    python paper/scripts/bundle_unet.py RUN_DIR NAME [--checkpoint]

Copies ``RUN_DIR/model.safetensors`` (``--checkpoint``: the energy of ``RUN_DIR/checkpoint.safetensors``, a run
still going) to ``src/scorematch/pretrained/NAME.safetensors`` with, in its metadata, the run's record
(``RUN_DIR/run.json``: recipe, data, machine, command, commit), the steps done and the training time (the sum of the run's
segments in ``metrics.csv``/the checkpoint's history, resumptions included); and writes the validation curve
(``RUN_DIR/validation.csv``: Tweedie PSNR on the validation images against training hours) to
``docs/results/unet/NAME_curve.csv`` and ``.png``. The model's presets are added afterwards by
``paper/scripts/bundle_presets.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from scorematch.checkpoint import load_checkpoint  # noqa: E402
from scorematch.pretrained import models_dir  # noqa: E402
from scorematch.provenance import git_state  # noqa: E402
from scorematch.serialization import load_info, save  # noqa: E402


def train_seconds(history: list[dict]) -> float:
    """The run's training seconds: each segment's last ``seconds`` (a resumed run's clock restarts), summed."""
    total, last = 0.0, 0.0
    for row in history:
        s = float(row["seconds"])
        if s < last:  # a new segment began
            total += last
        last = s
    return total + last


def plot_curve(rows: list[dict], path: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    hours = [float(r["hours"]) for r in rows]
    for key in [k for k in rows[0] if k.startswith("psnr_")]:
        ax.plot(hours, [float(r[key]) for r in rows], marker=".", label=f"noise {key[5:]}/255")
    ax.set_xlabel("training hours")
    ax.set_ylabel("Tweedie PSNR (dB), validation images")
    ax.set_title(f"{name}: validation curve")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("name")
    ap.add_argument("--checkpoint", action="store_true", help="bundle the running run's checkpoint")
    args = ap.parse_args(argv)
    settings = json.loads((args.run / "config.json").read_text())
    record = json.loads((args.run / "run.json").read_text())
    if args.checkpoint:
        ckpt = load_checkpoint(args.run / "checkpoint.safetensors")
        energy, steps, history, extra = ckpt.energy, ckpt.step, ckpt.history, {}
    else:
        from scorematch.serialization import load

        energy, extra = load(args.run / "model.safetensors"), load_info(args.run / "model.safetensors")["extra"]
        steps = extra["steps"]
        history = list(csv.DictReader((args.run / "metrics.csv").open()))
    curve = list(csv.DictReader((args.run / "validation.csv").open()))
    metadata = {**extra, **record, "steps": steps, "train_seconds": round(train_seconds(history), 1),
                "run": {"settings": settings, "bundled_from": "checkpoint" if args.checkpoint else "model",
                        "bundled_at": git_state(ROOT)}}
    out = save(energy.float(), models_dir() / f"{args.name}.safetensors", metadata=metadata)
    results = ROOT / "docs" / "results" / "unet"
    results.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.run / "validation.csv", results / f"{args.name}_curve.csv")
    plot_curve(curve, results / f"{args.name}_curve.png", args.name)
    print(f"{out}: {steps} steps, {metadata['train_seconds'] / 3600:.2f} h; curve in {results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
