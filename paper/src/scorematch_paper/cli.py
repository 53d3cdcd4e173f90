"""``scorematch reproduce``: run the paper's experiments and write one report.

The library's command line finds this module through the entry-point group ``scorematch.commands``
(``paper/pyproject.toml``) and calls :func:`add_parser` with its subcommands."""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from scorematch.devices import add_device_argument, resolve_device
from scorematch.io.atomic import atomic_path
from scorematch_paper.experiments import EXPERIMENTS, get
from scorematch_paper.experiments.cache import Cache
from scorematch_paper.experiments.cache import describe as cache_describe
from scorematch_paper.report import write_report

EXAMPLES = """examples:
  scorematch reproduce all --quick            # a few minutes: every stage on small models
  scorematch reproduce all                    # the full experiments: about an hour on 2 cores for the paper's,
                                              # plus about 19 CPU hours of training for the shoot-out stage
                                              # (the report gives each stage's time)
  scorematch reproduce beyond                 # colour denoising and the inverse problems beside anchors
  scorematch reproduce shootout --jobs 2      # the estimator shoot-out alone (resumes run by run)
  scorematch reproduce mnist --out runs/mine  # one experiment
  scorematch reproduce all --force            # recompute everything, cached results and models included

An interrupted run (Ctrl-C, kill) resumes where it stopped when the same command is run again. Every
cached result is keyed on its settings and on a fingerprint of the code (the library's and the research
package's): after a code change the affected results are recomputed; the report says, per file, whether it
was computed in this run or reused (and from which commit).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="run the paper's experiments and write report.md / report.html",
        description="Run the experiments of Kingma & LeCun (2010) and write one report with every table "
        "and figure beside the paper's. Finished stages are cached and reused.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("what", nargs="*", default=["all"], metavar="{all," + ",".join(EXPERIMENTS) + "}",
                   help="experiments to run (default: all)")
    p.add_argument("--quick", action="store_true", help="small models and short runs (a smoke test)")
    p.add_argument("--out", type=Path, default=None,
                   help="results folder (default runs/reproduce, or runs/reproduce-quick with --quick)")
    p.add_argument("--force", action="store_true",
                   help="recompute everything: every stage and every cached result and model inside it")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes for the independent trainings and evaluations (default: one per CPU "
                   "core)")
    add_device_argument(p)
    p.set_defaults(func=run)


def _selected(what: list[str]) -> list[str]:
    names: list[str] = []
    for w in what:
        if w == "all":
            names += list(EXPERIMENTS)
        elif w in EXPERIMENTS:
            names.append(w)
        else:
            raise ValueError(f"unknown experiment {w!r}; choose from all, {', '.join(EXPERIMENTS)}")
    return list(dict.fromkeys(names))


def _load_state(path: Path) -> dict[str, Any]:
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            pass
    return {"stages": {}}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(state, indent=2))


def _check_device(names: list[str], requested: str) -> None:
    """Refuse an explicit ``--device cuda`` for the stages that run on the CPU only (rather than ignore it);
    ``--device auto`` runs those stages on the CPU."""
    if not requested.startswith("cuda"):
        return
    cpu_only = [n for n in names if "device" not in inspect.signature(get(n).run).parameters]
    if cpu_only:
        raise ValueError(f"--device {requested}: the {', '.join(cpu_only)} stage(s) run on the CPU only; run them "
                         "without --device (or with --device auto), or select only stages that support it (patches)")


#: Optional packages each stage needs beyond matplotlib (which every stage's figures need).
STAGE_NEEDS = {"mnist": ("sklearn",), "beyond": ("skimage",)}


def _check_dependencies(names: list[str]) -> None:
    """Fail before any work when a package the selected stages need is missing (the CLI names its extra)."""
    for module in ("matplotlib", *(m for n in names for m in STAGE_NEEDS.get(n, ()))):
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)


def _stage_settings(name: str, quick: bool, device: str) -> dict[str, Any]:
    return {"stage": name, "quick": quick, "device": device}


def _reported(names: list[str], state: dict[str, Any], cache: Cache, quick: bool, device: str) -> list[str]:
    """The stages of the report, in report order: those run now, and every other stage of the folder finished with
    the same settings and code (so running one stage keeps the others' sections in the one report)."""
    def finished(name: str) -> bool:
        stage = state["stages"].get(name, {})
        return bool(stage.get("done")) and (stage.get("stamp") or {}).get("key") == cache.key(
            _stage_settings(name, quick, device))

    return [n for n in EXPERIMENTS if n in names or finished(n)]


def run(args: argparse.Namespace) -> int:
    names = _selected(args.what)
    _check_dependencies(names)
    _check_device(names, str(args.device))
    device = str(resolve_device(args.device))
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    out = args.out or Path("runs/reproduce-quick" if args.quick else "runs/reproduce")
    out.mkdir(parents=True, exist_ok=True)
    state_file = out / "state.json"
    state = _load_state(state_file)
    cache = Cache(force=args.force)
    state["run"] = cache.run
    for name in names:
        module = get(name)
        stage = state["stages"].get(name, {})
        settings = _stage_settings(name, args.quick, device)
        command = "scorematch reproduce " + name + (" --quick" if args.quick else "") + f" --out {shlex.quote(str(out))}"
        if cache.is_current(stage.get("stamp"), settings) and stage.get("done"):
            print(f"[{name}] cached ({cache_describe(stage['stamp'], None)}); --force recomputes", file=sys.stderr)
        else:
            print(f"[{name}] running ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            accepted = inspect.signature(module.run).parameters
            kwargs = {k: v for k, v in (("device", device), ("jobs", jobs), ("cache", cache)) if k in accepted}
            module.run(out / name, quick=args.quick, progress=not args.no_progress, **kwargs)
            stage = {"stamp": cache.stamp(settings), "done": True, "seconds": time.perf_counter() - t0,
                     "command": command, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
            state["stages"][name] = stage
            _save_state(state_file, state)
            print(f"[{name}] done in {stage['seconds']:.0f} s", file=sys.stderr, flush=True)
    _save_state(state_file, state)
    sections = []
    for name in _reported(names, state, cache, args.quick, device):
        module = get(name)
        sections.append((getattr(module, "TITLE", name), module.report(out / name)))
    page = write_report(out, sections, state, quick=args.quick)
    print(f"report: {out / 'report.md'} and {page}")
    return 0
