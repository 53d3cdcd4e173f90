"""Copy a ``scorematch reproduce`` run's result files into ``docs/results/`` with their provenance.

    python3 paper/scripts/publish_results.py runs/full [--stages restoration mnist] [--to docs/results]

For each stage, the files of :data:`PUBLISHED` are copied from ``RUN/STAGE/`` to its folder under ``TO`` and
a ``provenance.json`` (``STAGE_provenance.json`` in a folder named otherwise) beside them records the commit, dirty flag and code fingerprint of the run, the machine
(``RUN/machine.json``), the stage's command, wall time and finish time (``RUN/state.json``), per copied file the
stamp the run stored with it, the files published (``published``), and the stage's
:func:`scorematch_paper.stamps.stamp` (``stamp``: the import closure of the stage's package and the SHA-256 of each
model or data file it read, :data:`STAGE_MODELS`), which ``paper/scripts/build_results.py`` checks for every
published file (CSVs included) as it writes the results pages from them. The stamp is taken now, so a run whose
code (the stage stamp's fingerprint of both packages and the bundled models) is not today's is refused: rerun the
stage at this checkout first. A stage that the run did not finish is refused too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))

from scorematch_paper import stamps  # noqa: E402
from scorematch_paper.experiments import EXPERIMENTS, beyond, patches, restoration  # noqa: E402
from scorematch_paper.experiments.beyond.settings import DEFAULT_COLOUR_PRIOR, DEFAULT_PRIOR  # noqa: E402
from scorematch_paper.experiments.cache import code_fingerprint, read_stamp  # noqa: E402
from scorematch.datasets import data_dir  # noqa: E402
from scorematch.io import write_json  # noqa: E402
from scorematch.pretrained import ROTH_BLACK_FILE, resolve  # noqa: E402

#: stage -> (folder under ``TO``, file patterns published from the stage's run folder).
PUBLISHED = {
    "restoration": ("restoration", ["table1.csv", "table2.csv", "heldout.csv", "table1.json", "table2.json",
                                    "heldout.json", "lambda_sweep.json", "variants.json", "weights.json",
                                    "choices.json", "settings.json", "fig*.png"]),
    "mnist": ("mnist", ["loglik.csv", "classification.csv", "long.csv", "results.json", "*.png"]),
    "patches": ("patches", ["results.csv", "*.png", "cd_foe/*.png"]),
    "speed": ("benchmarks", ["cost_growth.json", "cost_growth.png"]),
    "beyond": ("beyond", ["beyond.json", "beyond.png"]),
}


#: stage -> {file: function of the stage's run folder}: summaries the stage computes from its stored results
#: (in its report) without writing them, written beside the copied files.
DERIVED = {"patches": {"summary.json": patches.summary}, "beyond": {"summary.json": beyond.summary}}


def _relative(path: Path) -> Path:
    """``path`` below the repository root (as a stamp records it), else as it is."""
    path = Path(path).resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _restoration_models(stage_dir: Path) -> dict[str, tuple[Path, tuple[str, ...] | None]]:
    """The bundled priors scored beside the run's own (their weights and denoising presets), and Roth & Black's
    published filters (the data file its 3x3x8 FoE is built from)."""
    return {**{name: (resolve(name), stamps.DENOISING) for name in restoration.BUNDLED},
            "roth_black_filters": (data_dir() / ROTH_BLACK_FILE, None)}


def _beyond_models(stage_dir: Path) -> dict[str, tuple[Path, tuple[str, ...] | None]]:
    """The bundled priors of the run's configuration (``beyond.json``), the grey and colour FoEs it always runs
    among them: their weights and denoising presets (the inverse problems choose their own levels and weights)."""
    config = json.loads((stage_dir / "beyond.json").read_text())["config"]
    names = dict.fromkeys([DEFAULT_PRIOR, DEFAULT_COLOUR_PRIOR, *config["priors"], *config.get("colour_priors", [])])
    return {name: (resolve(name), stamps.DENOISING) for name in names}


#: stage -> function of the stage's run folder giving the model (or data) files the stage read, name -> (path,
#: the parts of it read, :data:`scorematch_paper.stamps.MODEL_PARTS`, None for the whole file); a stage not named
#: reads none (it trains its own models).
STAGE_MODELS = {"restoration": _restoration_models, "beyond": _beyond_models}


def stage_stamp(run: Path, stage: str, info: dict) -> dict:
    """The :func:`scorematch_paper.stamps.stamp` of a stage's results: the import closure of the stage's module
    and the model files it read, with the commit and dirty flag of the run. Raises SystemExit when the run's code
    (its stage stamp's fingerprint of both packages and the bundled models) is not the checkout's now: a stamp taken
    now would not describe it."""
    recorded = (info.get("stamp") or {}).get("fingerprint")
    if recorded != code_fingerprint():
        raise SystemExit(f"{run}: stage {stage!r} ran at other code (fingerprint {recorded}, now "
                         f"{code_fingerprint()}); rerun 'scorematch reproduce {stage}' at this checkout, then publish")
    models = STAGE_MODELS.get(stage, lambda _: {})(run / stage)
    record = stamps.stamp(EXPERIMENTS[stage], models={k: _relative(p) for k, (p, _) in models.items()},
                          parts={k: parts for k, (_, parts) in models.items()})
    return {**record, "commit": info["stamp"].get("commit"), "dirty": info["stamp"].get("dirty")}


def publish(run: Path, stage: str, to: Path) -> list[Path]:
    """Copy one stage's published files and write its provenance; returns the files written."""
    state = json.loads((run / "state.json").read_text())
    info = state["stages"].get(stage)
    if not info or not info.get("done"):
        raise SystemExit(f"{run}: stage {stage!r} is not finished; run 'scorematch reproduce {stage}' first")
    stamp = stage_stamp(run, stage, info)
    folder, patterns = PUBLISHED[stage]
    src, dst = run / stage, to / folder
    dst.mkdir(parents=True, exist_ok=True)
    copied = []
    for pattern in patterns:
        for path in sorted(src.glob(pattern)):
            target = dst / path.name
            shutil.copyfile(path, target)
            copied.append(target)
    for name, derive in DERIVED.get(stage, {}).items():
        write_json(dst / name, derive(src))
        copied.append(dst / name)
    cached = {p.name: read_stamp(src / p.name) for p in copied if read_stamp(src / p.name)}
    write_json(dst / ("provenance.json" if folder == stage else f"{stage}_provenance.json"), {
        "stage": stage, "command": info.get("command"), "seconds": info.get("seconds"),
        "finished": info.get("finished"), "stage_stamp": info.get("stamp"),
        "machine": json.loads((run / "machine.json").read_text()), "files": cached,
        "derived": {name: f"scorematch_paper.experiments.{stage}.summary of the run's results"
                    for name in DERIVED.get(stage, {})},
        "published": [p.name for p in copied], "stamp": stamp,
    })
    return copied


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="the reproduce output folder (holds state.json)")
    p.add_argument("--stages", nargs="*", default=None, help="stages to publish (default: every finished one)")
    p.add_argument("--to", type=Path, default=ROOT / "docs" / "results")
    args = p.parse_args(argv)
    state = json.loads((args.run / "state.json").read_text())
    stages = args.stages or [s for s in PUBLISHED if state["stages"].get(s, {}).get("done")]
    for stage in stages:
        files = publish(args.run, stage, args.to)
        print(f"{stage}: {len(files)} files -> {args.to / PUBLISHED[stage][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
