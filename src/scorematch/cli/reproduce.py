"""``scorematch reproduce``: run the paper's experiments and write one report."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from ..devices import add_device_argument, resolve_device
from ..experiments import EXPERIMENTS, get
from ..report import write_report
from ..serialization import atomic_path

EXAMPLES = """examples:
  scorematch reproduce all --quick            # a few minutes: every stage on small models
  scorematch reproduce all                    # the full experiments (about 85 minutes on 2 cores)
  scorematch reproduce mnist --out runs/mine  # one experiment
  scorematch reproduce all --force            # recompute finished stages too

An interrupted run (Ctrl-C, kill) resumes where it stopped when the same command is run again.
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
    p.add_argument("--force", action="store_true", help="recompute stages even if cached")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes for the independent training runs of a sweep (default: one per CPU "
                   "core; results are those of a serial run)")
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


def run(args: argparse.Namespace) -> int:
    from .. import __version__

    names = _selected(args.what)
    device = resolve_device(args.device)  # experiments that support it train there; the others use the CPU
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    out = args.out or Path("runs/reproduce-quick" if args.quick else "runs/reproduce")
    out.mkdir(parents=True, exist_ok=True)
    state_file = out / "state.json"
    state = _load_state(state_file)
    key = f"quick={args.quick};scorematch={__version__}"
    sections: list[tuple[str, str]] = []
    for name in names:
        module = get(name)
        stage = state["stages"].get(name, {})
        command = "scorematch reproduce " + name + (" --quick" if args.quick else "") + f" --out {shlex.quote(str(out))}"
        if args.force or stage.get("key") != key or not stage.get("done"):
            print(f"[{name}] running ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            accepted = inspect.signature(module.run).parameters
            kwargs = {k: v for k, v in (("device", str(device)), ("jobs", jobs)) if k in accepted}
            module.run(out / name, quick=args.quick, progress=not args.no_progress, **kwargs)
            stage = {"key": key, "done": True, "seconds": time.perf_counter() - t0, "command": command,
                     "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
            state["stages"][name] = stage
            _save_state(state_file, state)
            print(f"[{name}] done in {stage['seconds']:.0f} s", file=sys.stderr, flush=True)
        else:
            print(f"[{name}] cached (finished {stage.get('finished')}); --force recomputes", file=sys.stderr)
        sections.append((module.TITLE if hasattr(module, "TITLE") else name, module.report(out / name)))
    page = write_report(out, sections, state, quick=args.quick)
    print(f"report: {out / 'report.md'} and {page}")
    return 0
