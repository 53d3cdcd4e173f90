"""Command-line front end: ``scorematch <command> ...``. It parses arguments and calls library functions."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import re
import sys
from collections.abc import Sequence

from ..serialization import ModelFileError
from . import demo, models, reproduce, sample, train
from . import restore

__all__ = ["main", "build_parser", "UsageError"]

#: Modules that each define ``add_parser(subparsers)``; the parser's ``func(args)`` runs the command.
COMMANDS = (train, reproduce, models, demo, sample)
COMMANDS += (restore,)  # denoise, superres


#: Import names of the optional dependencies whose distribution is named otherwise (pyproject's
#: ``[project.optional-dependencies]``, read from the installed package's metadata, says which extra has them).
IMPORT_NAMES = {"scikit-learn": "sklearn", "scikit-image": "skimage", "pillow": "PIL"}
_REQUIREMENT = re.compile(r"""\s*([A-Za-z0-9._-]+)[^;]*;.*\bextra\s*==\s*["']([^"']+)["']""")  # name, extra


def optional_extra(module: str) -> tuple[str, str] | None:
    """The distribution that provides top-level ``module`` and the extra of ``pip install 'scorematch[EXTRA]'``
    that installs it, e.g. ``("pillow", "experiments")`` for ``PIL``; None if no extra does."""
    try:
        requires = importlib.metadata.requires("scorematch") or []
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return None
    for requirement in requires:  # e.g. 'scikit-learn>=1.3; extra == "experiments"'
        found = _REQUIREMENT.match(requirement)
        if found:
            dist = found.group(1).lower()
            if IMPORT_NAMES.get(dist, dist.replace("-", "_")) == module:
                return dist, found.group(2)
    return None


class UsageError(Exception):
    """A user error reported as one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the usage first)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scorematch",
        description="Regularized score matching for energy-based image models (Kingma & LeCun, NIPS 2010).",
        epilog="Run 'scorematch COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("scorematch: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        found = optional_extra((exc.name or "").partition(".")[0])
        if found is None or args.debug:
            raise
        dist, extra = found
        print(f"scorematch {args.command}: error: {dist} is not installed (an optional dependency); "
              f"install it with: pip install 'scorematch[{extra}]'", file=sys.stderr)
        return 2
    except (UsageError, ValueError, TypeError, OSError, ModelFileError) as exc:
        if args.debug:
            raise
        print(f"scorematch {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
