"""Every name that ``benchmarks/`` and ``docs/`` import from the package exists (a refactor that
renames or moves one breaks this test, not a benchmark run hours later)."""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(p for folder in ("benchmarks", "docs") for p in (ROOT / folder).glob("*.py"))  # paper/: its own test


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_package_imports_resolve(path):
    missing = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "scorematch":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        missing.append(f"{node.module}.{alias.name}")
    assert not missing, f"{path.name} imports names the package no longer has: {missing}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_benchmarks_and_docs_use_the_library_alone(path):
    """The research package (paper/) has its own benchmarks; these run on an install of the library alone."""
    research = [node.lineno for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "scorematch_paper"
                or isinstance(node, ast.Import) and any(a.name.split(".")[0] == "scorematch_paper" for a in node.names)]
    assert not research, f"{path.name} imports the research package (lines {research})"
