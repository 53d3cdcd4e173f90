"""The house issue's thermometers for the package: longest functions (lines without the docstring), largest modules, private names imported
across modules, and the config carriers (frozen dataclasses and settings tables). Prints JSON.

    python paper/scripts/house_metrics.py [--top 10]
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "scorematch"


def _modules() -> dict[str, ast.Module]:
    return {str(p.relative_to(PACKAGE)): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def _functions(trees: dict[str, ast.Module]) -> list[tuple[int, str]]:
    out = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                        first.value.value, str):
                    lines -= first.end_lineno - first.lineno + 1
                out.append((lines, f"{name}:{node.name}"))
    return sorted(out, reverse=True)


def _private_imports(trees: dict[str, ast.Module]) -> list[str]:
    """``from X import _name`` of another module (a module's own private helpers are its business)."""
    out = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                out += [f"{name}: from {'.' * node.level}{node.module or ''} import {a.name}" for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")]
    return out


def _config_carriers(trees: dict[str, ast.Module]) -> list[str]:
    """Dataclasses whose name says they carry settings."""
    out = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any("dataclass" in ast.unparse(d) for d in node.decorator_list):
                if any(w in node.name for w in ("Config", "Recipe", "Condition", "Settings", "Option")):
                    out.append(f"{name}:{node.name}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()
    trees = _modules()
    sizes = sorted(((len((PACKAGE / n).read_text().splitlines()), n) for n in trees), reverse=True)
    print(json.dumps({
        "longest_functions_without_docstrings": [f"{n} lines {f}" for n, f in _functions(trees)[: args.top]],
        "largest_modules": [f"{n} lines {m}" for n, m in sizes[: args.top]],
        "modules_over_400_lines": [m for n, m in sizes if n > 400],
        "private_imports_across_modules": _private_imports(trees),
        "config_carriers": _config_carriers(trees),
    }, indent=1))


if __name__ == "__main__":
    main()
