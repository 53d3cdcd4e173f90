"""The README's measured figures are the ones stored under docs/results/ (docs/build_readme.py)."""

import csv
import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_readme", ROOT / "docs" / "build_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


br = _load_builder()


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A copy of docs/results/ (without the pictures) to change."""
    return Path(shutil.copytree(RESULTS, tmp_path / "results", ignore=shutil.ignore_patterns("*.png")))


def _block(readme: str, name: str) -> str:
    return re.search(rf"<!-- results:{name} -->\n(.*?)<!-- /results:{name} -->", readme, flags=re.S).group(1)


def _words(text: str) -> str:
    """``text`` with its line breaks (the generator wraps prose) as single spaces."""
    return " ".join(text.split())


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _edit_csv(path: Path, image: str, column: str, value) -> None:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["image"] == image:
            row[column] = value
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _drop_csv_column(path: Path, column: str) -> None:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        del row[column]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_readme_figures_are_the_stored_ones():
    diff = br.check(ROOT / "README.md", RESULTS)
    assert diff == "", "README.md differs from its artifacts; run python docs/build_readme.py\n" + diff


def _set_lam0_curve(data, level: str, psnr: float) -> None:
    row = next(r for r in data if r["lam"] == 0.0)
    row["curves"][level] = {w: psnr for w in row["curves"][level]}


@pytest.mark.parametrize("name, block, edit, expected", [
    ("restoration/table1.csv", "restoration-table1", lambda p: _edit_csv(p, "barbara", "rsm", "39.0"), "**39.00**"),
    ("restoration/lambda_sweep.json", "restoration-lambda", lambda p: _edit_json(p, lambda d: _set_lam0_curve(d, "5", 30.0)),
     "+6.78"),
    ("restoration/table2.csv", "restoration-superres", lambda p: _edit_csv(p, "castle", "rsm", "28.27139129578838"),
     "+1.00 dB (Castle)"),
    ("benchmarks/sm_loss.json", "core-speed",
     lambda p: _edit_json(p, lambda d: d["poe"].update(exact_over_curvature=999.4)), "999x slower"),
    ("benchmarks/denoise_large_cpu.json", "denoise-speed",
     lambda p: _edit_json(p, lambda d: d["tiled"].update(peak_rss_mib=3072.0)), "3.0 GiB peak memory"),
    ("benchmarks/gpu_h100/provenance.json", "gpu", lambda p: _edit_json(p, lambda d: d.update(commit="abc1234")),
     "commit abc1234"),
    ("patches/summary.json", "patches", lambda p: _edit_json(p, lambda d: d["baseline"]["ll"].update({"0": 12.34})),
     "against 12.34 at lambda = 0"),
])
def test_a_changed_artifact_changes_its_block(results, name, block, edit, expected):
    readme = (ROOT / "README.md").read_text()
    assert expected not in _words(_block(readme, block))
    edit(results / name)
    assert expected in _words(_block(br.build(readme, results), block))


def test_ours_minus_paper_says_tie_by_the_two_std_rule(results):
    readme = (ROOT / "README.md").read_text()
    _edit_csv(results / "restoration/table1.csv", "peppers", "rsm_std", "0.1")  # |+0.19| < 2 * 0.1: a tie
    _edit_csv(results / "restoration/table1.csv", "barbara", "rsm_std", "0.001")  # |+0.01| > 2 * 0.001: a difference
    rows = {line.split(" | ")[0].lstrip("| "): line for line in _block(br.build(readme, results),
                                                                      "restoration-table1").splitlines()}
    assert rows["Peppers"].endswith("| tie (+0.19 ± 0.10) |")
    assert rows["Barbara"].endswith("| +0.01 |")


def test_check_exits_1_and_prints_the_diff(results, tmp_path, capsys):
    readme = tmp_path / "README.md"
    shutil.copyfile(ROOT / "README.md", readme)
    assert br.main(["--check", "--readme", str(readme), "--results", str(results)]) == 0
    _edit_csv(results / "restoration/table1.csv", "house", "rsm", "40.5")
    assert br.main(["--check", "--readme", str(readme), "--results", str(results)]) == 1
    assert "+| House |" in capsys.readouterr().err
    assert br.main(["--readme", str(readme), "--results", str(results)]) == 0
    assert br.main(["--check", "--readme", str(readme), "--results", str(results)]) == 0
    assert "**40.50**" in readme.read_text()


def test_a_missing_field_fails_naming_its_file(results):
    _drop_csv_column(results / "restoration/table1.csv", "rsm_std")
    with pytest.raises(KeyError, match="restoration/table1.csv has no field 'rsm_std'"):
        br.build((ROOT / "README.md").read_text(), results)


def test_a_nan_is_refused_not_printed(results):
    _edit_json(results / "benchmarks/sm_loss.json", lambda d: d["poe"].update(curvature_over_closed_form=float("nan")))
    with pytest.raises(ValueError, match="non-finite"):
        br.build((ROOT / "README.md").read_text(), results)


def test_every_registered_block_is_on_the_page_once():
    readme = (ROOT / "README.md").read_text()
    with pytest.raises(ValueError, match="missing \\['gpu'\\]"):
        br.build(readme.replace("<!-- results:gpu -->", "<!-- gpu -->"), RESULTS)
    with pytest.raises(ValueError, match="without a renderer \\['nope'\\]"):
        br.build(readme + "\n<!-- results:nope -->\n<!-- /results:nope -->\n", RESULTS)
