"""Whether two model files hold the same tensors (a retrained model against the bundled one); JSON.

    python paper/scripts/compare_models.py A.safetensors B.safetensors [--out F]

Per tensor: the largest absolute difference; ``bitwise_equal`` when every tensor matches exactly (the files may
still differ in their metadata, such as the run's times).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from safetensors.torch import load_file


def compare(a: Path, b: Path) -> dict:
    ta, tb = load_file(str(a)), load_file(str(b))
    if sorted(ta) != sorted(tb):
        return {"a": str(a), "b": str(b), "same_tensors": False, "bitwise_equal": False}
    diff = {k: float((ta[k].double() - tb[k].double()).abs().max()) if ta[k].shape == tb[k].shape else None
            for k in sorted(ta)}
    return {"a": str(a), "b": str(b), "same_tensors": True,
            "bitwise_equal": all(ta[k].shape == tb[k].shape and bool((ta[k] == tb[k]).all()) for k in ta),
            "max_abs_difference": diff}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    text = json.dumps(compare(args.a, args.b), indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
