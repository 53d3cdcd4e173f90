"""Copy a ``scorematch reproduce`` run's result files into ``docs/results/`` with their provenance.

    python3 paper/scripts/publish_results.py runs/full [--stages restoration mnist] [--to docs/results]

For each stage, the files of :data:`PUBLISHED` are copied from ``RUN/STAGE/`` to its folder under ``TO`` and
a ``provenance.json`` (``STAGE_provenance.json`` in a folder named otherwise) beside them records the commit, dirty flag and code fingerprint of the run, the machine
(``RUN/machine.json``), the stage's command, wall time and finish time (``RUN/state.json``), and, per
copied file, the stamp the run stored with it. The README's result blocks are then written from these files
by ``paper/scripts/build_results.py``. A stage that the run did not finish is refused.
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

from scorematch_paper.experiments import beyond, patches  # noqa: E402
from scorematch_paper.experiments.cache import read_stamp  # noqa: E402
from scorematch.io import write_json  # noqa: E402

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


def publish(run: Path, stage: str, to: Path) -> list[Path]:
    """Copy one stage's published files and write its provenance; returns the files written."""
    state = json.loads((run / "state.json").read_text())
    info = state["stages"].get(stage)
    if not info or not info.get("done"):
        raise SystemExit(f"{run}: stage {stage!r} is not finished; run 'scorematch reproduce {stage}' first")
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
    stamps = {p.name: read_stamp(src / p.name) for p in copied if read_stamp(src / p.name)}
    write_json(dst / ("provenance.json" if folder == stage else f"{stage}_provenance.json"), {
        "stage": stage, "command": info.get("command"), "seconds": info.get("seconds"),
        "finished": info.get("finished"), "stage_stamp": info.get("stamp"),
        "machine": json.loads((run / "machine.json").read_text()), "files": stamps,
        "derived": {name: f"scorematch_paper.experiments.{stage}.summary of the run's results"
                    for name in DERIVED.get(stage, {})},
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
