"""The commands other packages add (the entry-point group ``scorematch.commands``), and the one-line message for
one whose package is not installed (``scorematch reproduce`` without the research package ``paper/``)."""

import argparse
import importlib.metadata
import subprocess
import sys
import types

import pytest

from scorematch import cli
from scorematch.cli import main


@pytest.fixture
def no_plugins(monkeypatch):
    """As if no package added commands (the library installed alone, e.g. from its wheel)."""
    monkeypatch.setattr(cli, "plugin_commands", lambda: [])


@pytest.mark.parametrize("argv", [["reproduce"], ["reproduce", "all", "--quick"], ["reproduce", "--help"],
                                  ["reproduce", "-h", "--out", "x"]])
def test_reproduce_without_the_research_package_is_one_line_exit_2(no_plugins, argv, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.splitlines() == [
        "scorematch reproduce: error: the reproduce command is in the research package scorematch-paper, which is "
        "not installed; from a checkout of the repository run: pip install -e paper (or pip install -r "
        "requirements.txt)"]


def test_the_parser_imports_a_command_package_only_through_the_entry_points():
    code = ("import sys; from scorematch import cli; cli.plugin_commands = lambda: []; cli.build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scorematch_paper'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_command_from_the_entry_point_group_is_added(monkeypatch, capsys):
    module = types.ModuleType("scorematch_fake_command")

    def add_parser(sub: argparse._SubParsersAction) -> None:
        p = sub.add_parser("fake", help="a command of another package")
        p.add_argument("--n", type=int, default=1)
        p.set_defaults(func=lambda args: print(f"fake {args.n}") or 0)

    module.add_parser = add_parser
    monkeypatch.setitem(sys.modules, "scorematch_fake_command", module)
    entry = importlib.metadata.EntryPoint("fake", "scorematch_fake_command", cli.COMMAND_GROUP)
    monkeypatch.setattr(cli, "plugin_commands", lambda: [entry])
    assert main(["fake", "--n", "3"]) == 0
    assert capsys.readouterr().out == "fake 3\n"
    # reproduce still answers with its one-line message when the package that provides it is absent
    assert main(["reproduce"]) == 2


def test_a_command_package_that_fails_to_load_leaves_the_library_commands(monkeypatch, capsys):
    entry = importlib.metadata.EntryPoint("reproduce", "scorematch_no_such_package.cli", cli.COMMAND_GROUP)
    monkeypatch.setattr(cli, "plugin_commands", lambda: [entry])
    assert main(["models"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("scorematch: warning: the reproduce command could not be loaded (No module named")
    assert main(["reproduce"]) == 2  # the stand-in: which package to install
