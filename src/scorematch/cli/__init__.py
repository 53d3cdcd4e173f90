"""Command-line front end: ``scorematch <command> ...``. It parses arguments and calls library functions."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..serialization import ModelFileError
from . import demo, models, reproduce, sample, train
from . import restore

__all__ = ["main", "build_parser", "UsageError"]

#: Modules that each define ``add_parser(subparsers)``; the parser's ``func(args)`` runs the command.
COMMANDS = (train, reproduce, models, demo, sample)
COMMANDS += (restore,)  # denoise, superres


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
    except (UsageError, ValueError, TypeError, OSError, ModelFileError) as exc:
        if args.debug:
            raise
        print(f"scorematch {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
