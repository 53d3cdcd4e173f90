"""Command-line front end: ``scorematch <command> ...``. It parses arguments and calls library functions.

Other installed packages add commands through the entry-point group :data:`COMMAND_GROUP`: each entry names a
module with ``add_parser(subparsers)`` (the research package ``scorematch-paper`` of a checkout adds
``reproduce``). The library imports none of them by name."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import re
import sys
from collections.abc import Sequence

from ..serialization import ModelFileError
from . import demo, models, sample, train
from . import restore

__all__ = ["main", "build_parser", "UsageError"]

#: Modules that each define ``add_parser(subparsers)``; the parser's ``func(args)`` runs the command.
COMMANDS = (train, models, demo, sample)
COMMANDS += (restore,)  # denoise, superres

#: The entry-point group of the commands that other installed packages add (each entry: a module with
#: ``add_parser(subparsers)``).
COMMAND_GROUP = "scorematch.commands"

#: Commands that another package provides, and how to install it when it is absent.
EXTERNAL_COMMANDS = {
    "reproduce": "the research package scorematch-paper, which is not installed; from a checkout of the repository "
                 "run: pip install -e paper (or pip install -r requirements.txt)",
}


#: Import names of the optional dependencies whose distribution is named otherwise (pyproject's
#: ``[project.optional-dependencies]``, read from the installed package's metadata, says which extra has them).
IMPORT_NAMES = {"scikit-learn": "sklearn", "scikit-image": "skimage", "pillow": "PIL"}
_REQUIREMENT = re.compile(r"""\s*([A-Za-z0-9._-]+)[^;]*;.*\bextra\s*==\s*["']([^"']+)["']""")  # name, extra
_PLAIN_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9._-]+)([^;]*)$")  # name, version: no marker, no extra


def optional_extra(module: str) -> tuple[str, str] | None:
    """The distribution that provides top-level ``module`` and the extra of ``pip install 'scorematch[EXTRA]'``
    that installs it, e.g. ``("pillow", "images")`` for ``PIL``; None if no extra does."""
    try:
        requires = importlib.metadata.requires("scorematch") or []
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return None
    for requirement in requires:  # e.g. 'pillow>=10; extra == "images"'
        found = _REQUIREMENT.match(requirement)
        if found:
            dist = found.group(1).lower()
            if IMPORT_NAMES.get(dist, dist.replace("-", "_")) == module:
                return dist, found.group(2)
    return None


def package_requirement(package: str, module: str) -> str | None:
    """The requirement of the installed distribution ``package`` that provides top-level ``module``, e.g.
    ``"matplotlib>=3.7"`` for ``matplotlib`` of ``scorematch-paper``; None if it has none (or is not installed)."""
    try:
        requires = importlib.metadata.requires(package) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for requirement in requires:
        found = _PLAIN_REQUIREMENT.match(requirement)
        if found:
            dist = found.group(1).lower()
            if IMPORT_NAMES.get(dist, dist.replace("-", "_")) == module:
                return f"{dist}{found.group(2).strip()}"
    return None


def _install_hint(module: str, package: str | None) -> str | None:
    """What to say when ``module`` is missing: the library's extra that installs it, or the requirement of the
    package that provides the command (``package``); None when neither names it (a bug: the traceback stays)."""
    found = optional_extra(module)
    if found is not None:
        dist, extra = found
        return f"{dist} is not installed (an optional dependency); install it with: pip install 'scorematch[{extra}]'"
    requirement = package_requirement(package, module) if package else None
    if requirement is not None:
        dist = _PLAIN_REQUIREMENT.match(requirement).group(1)
        return f"{dist} is not installed (a dependency of {package}); install it with: pip install '{requirement}'"
    return None


class UsageError(Exception):
    """A user error reported as one line with exit code 2."""


def plugin_commands() -> list[importlib.metadata.EntryPoint]:
    """The entry points of :data:`COMMAND_GROUP` of the installed packages, sorted by name (loaded by
    :func:`build_parser`)."""
    return sorted(importlib.metadata.entry_points(group=COMMAND_GROUP), key=lambda ep: ep.name)


def _missing_command(name: str):
    """The ``func`` of a command whose package is not installed: a one-line error (exit 2)."""
    def run(args: argparse.Namespace) -> int:
        raise UsageError(f"the {name} command is in {EXTERNAL_COMMANDS[name]}")
    return run


def _add_missing_command(sub: argparse._SubParsersAction, name: str) -> None:
    """A stand-in for ``name`` that takes any arguments and says which package to install."""
    p = sub.add_parser(name, help=f"(not installed: {EXTERNAL_COMMANDS[name].split(',')[0]})", add_help=False,
                       prefix_chars="\0")  # every argument, options and -h included, goes to ``rest``
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_missing_command(name))


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
    found = set()
    for entry in plugin_commands():
        try:
            module = entry.load()
        except ImportError as exc:  # a broken install of another package leaves the library's commands working
            print(f"scorematch: warning: the {entry.name} command could not be loaded ({exc})", file=sys.stderr)
            continue
        module.add_parser(sub)
        if entry.name in sub.choices:
            sub.choices[entry.name].set_defaults(command_package=entry.dist.name if entry.dist else None)
            found.add(entry.name)
    for name in EXTERNAL_COMMANDS:
        if name not in found:
            _add_missing_command(sub, name)
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
        hint = _install_hint((exc.name or "").partition(".")[0], getattr(args, "command_package", None))
        if hint is None or args.debug:
            raise
        print(f"scorematch {args.command}: error: {hint}", file=sys.stderr)
        return 2
    except (UsageError, ValueError, TypeError, OSError, ModelFileError) as exc:
        if args.debug:
            raise
        print(f"scorematch {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
