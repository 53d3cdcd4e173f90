"""Pretrained models shipped with the package, each ``NAME.safetensors`` beside a model card ``NAME.md``.

``scorematch models`` lists them; every ``--model`` option accepts a name from this folder or a path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..energies import Energy
from ..serialization import load, load_info
from .roth_black import ROTH_BLACK_FILE, roth_black_3x3

__all__ = ["models_dir", "available", "resolve", "load_pretrained", "roth_black_3x3", "ROTH_BLACK_FILE"]


def models_dir() -> Path:
    """The folder holding the bundled model files and their cards."""
    return Path(__file__).resolve().parent


def available() -> list[dict[str, Any]]:
    """One entry per bundled model: name, path, energy class, size in bytes, card summary."""
    out = []
    for path in sorted(models_dir().glob("*.safetensors")):
        card = path.with_suffix(".md")
        summary = _summary(card.read_text()) if card.is_file() else ""
        info = load_info(path)
        out.append({"name": path.stem, "path": path, "energy": info["energy"], "bytes": path.stat().st_size,
                    "summary": summary, "card": card if card.is_file() else None})
    return out


def _summary(card: str) -> str:
    """A model card's first sentence: its first paragraph (after the title) up to the first full stop."""
    paragraph = []
    for line in card.splitlines():
        text = line.strip()
        if text.startswith("#") or (not text and not paragraph):
            continue
        if not text:
            break
        paragraph.append(text)
    joined = " ".join(paragraph)
    end = joined.find(". ")
    return joined if end < 0 else joined[: end + 1]


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A bundled model's file by name (``foe_5x5x24``), or the given path: anything that exists, has a suffix or a
    folder is a path (whose loading then says what is wrong with it: missing, a folder, not a model file).

    Raises
    ------
    FileNotFoundError
        A bare name that no bundled model has; the message lists the bundled names.
    """
    path = Path(name_or_path)
    if path.exists() or path.suffix or len(path.parts) > 1:  # a path (the loader says what is wrong with it)
        return path
    bundled = models_dir() / f"{name_or_path}.safetensors"
    if bundled.is_file():
        return bundled
    names = ", ".join(m["name"] for m in available()) or "none"
    raise FileNotFoundError(f"no model file or bundled model named {str(name_or_path)!r} (bundled: {names})")


def load_pretrained(name_or_path: str | os.PathLike, *, expect: type[Energy] | None = None) -> Energy:
    """Load a bundled model by name, or any model file by path (``expect``: refuse another energy class, as
    :func:`scorematch.serialization.load` does)."""
    return load(resolve(name_or_path), expect=expect)
