"""``scorematch models``: list the pretrained models shipped with the package."""

from __future__ import annotations

import argparse

from ..pretrained import available

EXAMPLES = """examples:
  scorematch models
  scorematch denoise noisy.png -o clean.png --sigma 5/256 --model foe_5x5x24
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the bundled pretrained models",
                       description="List the pretrained models shipped with scorematch. Every --model option "
                       "accepts one of these names or a path to a model file.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    models = available()
    if not models:
        print("no bundled models")
        return 0
    width = max(len(m["name"]) for m in models)
    for m in models:
        print(f"{m['name']:<{width}}  {m['energy']:<18} {m['bytes'] / 1024:6.1f} KiB  {m['summary']}")
        if m["card"] is not None:
            print(f"{'':<{width}}  card: {m['card']}")
    return 0
