"""``scorematch reproduce`` as the library's command line finds it: through the entry-point group
``scorematch.commands`` of this package; the one-line message for a missing dependency."""

import importlib.metadata
import sys

import pytest

from scorematch.cli import COMMAND_GROUP, main
from scorematch_paper import cli as reproduce


def test_reproduce_is_registered_in_the_library_commands_group():
    (entry,) = [e for e in importlib.metadata.entry_points(group=COMMAND_GROUP) if e.name == "reproduce"]
    assert entry.value == "scorematch_paper.cli" and entry.load() is reproduce
    assert entry.dist.name == "scorematch-paper"


def test_missing_matplotlib_in_reproduce_is_one_line_exit_2(monkeypatch, capsys):
    def run(args):
        import matplotlib.pyplot  # noqa: F401 - what the plotting stages do

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(reproduce, "run", run)
    assert main(["reproduce", "speed", "--quick"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "scorematch reproduce: error: matplotlib is not installed (a dependency of scorematch-paper); "
        "install it with: pip install 'matplotlib>=3.7'"
    ]


def test_other_missing_modules_still_raise(monkeypatch):
    def run(args):
        import no_such_module_xyz  # noqa: F401 - a bug, not a missing extra: the traceback stays

    monkeypatch.setattr(reproduce, "run", run)
    with pytest.raises(ModuleNotFoundError):
        main(["reproduce", "speed", "--quick"])
