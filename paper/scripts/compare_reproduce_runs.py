"""Compare two ``scorematch reproduce`` output folders number by number (the house issue's "behaviour unchanged").

    python paper/scripts/compare_reproduce_runs.py BEFORE AFTER

Every JSON and CSV file present in both folders is compared leaf by leaf, skipping what legitimately differs between
two runs (stamps, cache keys and code fingerprints, commits, timings). Prints the files present on one side only and
each differing leaf; exits 1 if any leaf differs.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

#: Key fragments of leaves that differ between any two runs.
SKIP = ("stamp", "seconds", "time", "computed", "fingerprint", "commit", "run", "models", "dirty", "elapsed", "wall")


def _load(path: Path) -> Any:
    if path.suffix == ".json":
        return json.loads(path.read_text())
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _compare(a: Any, b: Any, where: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if any(s in str(k) for s in SKIP):
                continue
            if k not in a or k not in b:
                out.append(f"{where}/{k}: only in {'after' if k not in a else 'before'}")
            else:
                _compare(a[k], b[k], f"{where}/{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} vs {len(b)} entries")
        for i, (u, v) in enumerate(zip(a, b)):
            _compare(u, v, f"{where}[{i}]", out)
    elif a != b and not (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
        out.append(f"{where}: {a!r} vs {b!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    before, after = (Path(p) for p in argv)
    files = [{p.relative_to(d) for d in (root,) for p in d.rglob("*") if p.suffix in (".json", ".csv")
              and p.name != "state.json"} for root in (before, after)]
    print("only before:", sorted(map(str, files[0] - files[1])))
    print("only after:", sorted(map(str, files[1] - files[0])))
    diffs: list[str] = []
    for rel in sorted(files[0] & files[1]):
        _compare(_load(before / rel), _load(after / rel), str(rel), diffs)
    print(f"{len(files[0] & files[1])} files compared; {len(diffs)} differing leaves")
    for d in diffs:
        print(" ", d)
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
