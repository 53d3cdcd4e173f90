"""The docs build (API page up to date, every public name documented) and the tutorial's code runs."""

import re
import runpy
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_api_page_is_complete_and_up_to_date():
    proc = subprocess.run([sys.executable, str(DOCS / "build_api.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_tutorial_code_runs(capsys):
    text = (DOCS / "tutorial_new_energy.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "tutorial_new_energy.md", "exec"), namespace)
    assert "gradient error" in capsys.readouterr().out


def test_build_script_is_importable():
    assert "build" in runpy.run_path(str(DOCS / "build_api.py"), run_name="not_main")


def test_restoration_examples_run(tmp_path, monkeypatch, capsys):
    """Every code block of docs/restoration.md, in order, in a scratch folder (their asserts included)."""
    text = (DOCS / "restoration.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "restoration.md", "exec"), namespace)
    assert (tmp_path / "restored.png").is_file() and "estimated noise std" in capsys.readouterr().out
