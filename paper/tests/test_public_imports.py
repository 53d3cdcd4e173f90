"""The research package uses the library through its public API only: every import of ``scorematch`` in
``paper/`` (the package, its scripts and benchmarks) names public modules and names (no component with a leading
underscore), and every imported name exists (a library refactor that renames one breaks this test, not a script
run hours later). The other direction, that the library imports nothing from ``scorematch_paper``, is
``tests/docs/test_architecture.py``."""

import ast
import importlib
from pathlib import Path

import pytest

PAPER = Path(__file__).resolve().parents[1]
FILES = sorted(p for folder in ("src", "scripts", "benchmarks") for p in (PAPER / folder).rglob("*.py"))
PACKAGES = ("scorematch", "scorematch_paper")


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of each absolute import of ``scorematch`` or ``scorematch_paper``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] in PACKAGES:
            out.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] in PACKAGES]
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))  # __version__ is public


def test_files_are_found():
    names = {str(p.relative_to(PAPER)) for p in FILES}
    assert {"src/scorematch_paper/cli.py", "scripts/build_results.py", "benchmarks/train_foe.py"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PAPER)))
def test_imports_of_the_library_are_public(path):
    private = [f"{path.name}:{line}: {module} import {', '.join(names)}" for module, names, line in _imports(path)
               if any(map(_private, module.split("."))) or any(map(_private, names))]
    assert not private, f"imports of private modules or names: {private}"


@pytest.mark.parametrize("path", [p for p in FILES if "src" not in p.relative_to(PAPER).parts[:1]],
                         ids=lambda p: str(p.relative_to(PAPER)))
def test_imported_names_exist(path):
    missing = []
    for module_name, names, _ in _imports(path):
        module = importlib.import_module(module_name)
        for name in names:
            if not hasattr(module, name):
                try:
                    importlib.import_module(f"{module_name}.{name}")
                except ImportError:
                    missing.append(f"{module_name}.{name}")
    assert not missing, f"{path.name} imports names the packages no longer have: {missing}"


def test_a_private_import_is_caught(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from scorematch.tasks._x import y\nfrom scorematch.tasks import _z, w\nimport scorematch._q\n"
                   "from scorematch import __version__\n")
    flagged = [(m, n) for m, n, _ in _imports(bad) if any(map(_private, m.split("."))) or any(map(_private, n))]
    assert flagged == [("scorematch.tasks._x", ["y"]), ("scorematch.tasks", ["_z", "w"]), ("scorematch._q", [])]
