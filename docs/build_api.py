"""Generate ``docs/api.md`` from the package's docstrings.

    python docs/build_api.py            # writes docs/api.md
    python docs/build_api.py --check    # exit 1 if docs/api.md is out of date or a public name is undocumented

Every public function of the restoration front door (:data:`NUMPYDOC_MODULES`) must also document its parameters
and what it returns in numpydoc sections (``Parameters``, ``Returns``).

CI runs the check (tests/docs/test_docs.py).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

#: Modules whose ``__all__`` make up the public API, in page order.
MODULES = [
    "scorematch",
    "scorematch.energies",
    "scorematch.estimators",
    "scorematch.datasets",
    "scorematch.io",
    "scorematch.metrics",
    "scorematch.distributed",
    "scorematch.parallel",
    "scorematch.devices",
    "scorematch.pretrained",
    "scorematch.prior",
    "scorematch.unet_training",
    "scorematch.provenance",
]
#: The modules users restore images with: their public functions need numpydoc Parameters and Returns sections.
NUMPYDOC_MODULES = ["scorematch.restoration", "scorematch.prior", "scorematch.tasks"]
OPTIONAL_MODULES = ["scorematch.tasks", "scorematch.tasks.lbfgs", "scorematch.samplers", "scorematch.priors"]


def _doc(obj) -> str:
    return inspect.cleandoc(obj.__doc__ or "")


def _signature(name: str, obj) -> str:
    try:
        return f"{name}{inspect.signature(obj)}"
    except (TypeError, ValueError):
        return name


def build() -> tuple[str, list[str]]:
    """Return the page and the list of public names without a docstring."""
    missing: list[str] = []
    seen: set[int] = set()
    out = ["# API reference", "", "Generated from the docstrings by `docs/build_api.py`; do not edit by hand.", ""]
    modules = MODULES + [m for m in OPTIONAL_MODULES if importlib.util.find_spec(m) is not None]
    for modname in modules:
        mod = importlib.import_module(modname)
        out += [f"## `{modname}`", "", "```text", _doc(mod), "```", ""]
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            doc = _doc(obj)
            if not doc:
                missing.append(f"{modname}.{name}")
            kind = "class" if inspect.isclass(obj) else "function"
            out += [f"### {kind} `{name}`", "", "```python", _signature(name, obj), "```", "", "```text", doc, "```", ""]
            if inspect.isclass(obj):
                for attr, member in sorted(vars(obj).items()):
                    if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                        continue
                    mdoc = _doc(member.fget if isinstance(member, property) else member)
                    if not mdoc:
                        continue
                    sig = attr if isinstance(member, property) else _signature(attr, member)
                    out += [f"- `{sig}`: " + mdoc.splitlines()[0]]
                out.append("")
    return "\n".join(out).rstrip() + "\n", missing + _without_sections()


def _without_sections() -> list[str]:
    """The public functions of :data:`NUMPYDOC_MODULES` whose docstring lacks a section it needs: ``Parameters``
    when they take any, ``Returns`` when they return something (their annotation is not None)."""
    missing = []
    for modname in NUMPYDOC_MODULES:
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if not inspect.isfunction(obj):
                continue
            doc, sig = _doc(obj), inspect.signature(obj)
            needs = ["Parameters"] if sig.parameters else []
            needs += ["Returns"] if sig.return_annotation not in (None, "None", inspect.Signature.empty) else []
            for section in needs:
                if f"{section}\n{'-' * len(section)}" not in doc:
                    missing.append(f"{modname}.{name} (no {section} section)")
    return missing


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("api.md"))
    args = ap.parse_args()
    page, missing = build()
    if missing:
        print("undocumented public names or sections: " + ", ".join(missing), file=sys.stderr)
        return 1
    if args.check:
        if not args.out.is_file() or args.out.read_text() != page:
            print(f"{args.out} is out of date: run python docs/build_api.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(page)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
