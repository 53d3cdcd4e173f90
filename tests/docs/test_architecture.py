"""``docs/architecture.md``'s package table against the code: every package is listed, and each imports only
the packages of its own row or of the rows above it; the library imports nothing from the research package
beside it (``paper/``, ``scorematch_paper``), which in turn uses only the library's public API
(``paper/tests/test_public_imports.py``)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "scorematch"
ENTRY_POINTS = {"__init__", "__main__"}  # the package's front door and ``python -m scorematch`` import anything


def _rows() -> list[set[str]]:
    """The packages named in the first column of each row of the page's first table (the package's), top to
    bottom."""
    rows = []
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        if line.startswith("| `"):
            rows.append({name.split(".")[0] for name in re.findall(r"`([\w.]+)`", line.split("|")[1])})
        elif rows and not line.startswith("|"):
            break
    return rows


def _imports() -> dict[str, set[str]]:
    """Top-level unit (package or module of ``scorematch``) -> the other units it imports."""
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or
             (p.is_dir() and (p / "__init__.py").exists())}
    out: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        unit, folder = parts[0].removesuffix(".py"), list(parts[:-1])
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            base = folder[: len(folder) - node.level + 1]
            target = base + (node.module.split(".") if node.module else [])
            names = target[:1] if target else [a.name for a in node.names]
            out.setdefault(unit, set()).update(n for n in names if n in units and n != unit)
    return out


def test_every_package_is_in_the_table():
    listed = set().union(*_rows())
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())}
    assert units - ENTRY_POINTS - {"_version"} <= listed, sorted(units - ENTRY_POINTS - listed)


def test_each_package_imports_only_its_row_or_the_rows_above():
    rows, imports = _rows(), _imports()
    allowed: set[str] = set()
    wrong = {}
    for row in rows:
        allowed |= row
        for unit in row:
            extra = imports.get(unit, set()) - allowed
            if extra:
                wrong[unit] = sorted(extra)
    assert not wrong, f"imports that run back up the table: {wrong}"


def _research_references(path: Path) -> list[int]:
    """Lines of ``path`` that import the research package or name one of its modules in a string (an
    ``importlib.import_module("scorematch_paper...")``); prose in docstrings may mention it."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        else:
            continue
        if any(n == "scorematch_paper" or n.startswith("scorematch_paper.") for n in names):
            lines.append(node.lineno)
    return lines


def test_the_library_imports_nothing_from_the_research_package():
    wrong = {str(p.relative_to(PACKAGE)): lines for p in sorted(PACKAGE.rglob("*.py"))
             if (lines := _research_references(p))}
    assert not wrong, f"the library refers to scorematch_paper: {wrong}"
    assert not (PACKAGE / "experiments").exists() and not (PACKAGE / "report.py").exists()


def test_a_research_import_is_caught(tmp_path):
    path = tmp_path / "m.py"
    path.write_text('"""Mentions scorematch_paper in prose."""\nimport importlib\nfrom scorematch_paper import cli\n'
                    'importlib.import_module("scorematch_paper.report")\n')
    assert _research_references(path) == [3, 4]
