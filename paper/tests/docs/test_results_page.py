"""RESULTS.md's measured figures are the ones stored under docs/results/ (paper/scripts/build_results.py)."""

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "docs" / "results"
#: The restoration files of a quick run (`scorematch reproduce restoration --quick`, one noise draw, so every std
#: over the draws is nan) as `paper/scripts/publish_results.py` published them: the format the generator reads.
RESTORATION_FIXTURE = ROOT / "paper" / "tests" / "helpers" / "readme_fixture" / "restoration"


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_results", ROOT / "paper" / "scripts" / "build_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


br = _load_builder()


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A copy of docs/results/ (without the pictures) to change, its restoration folder the quick-run fixture."""
    copy = Path(shutil.copytree(RESULTS, tmp_path / "results", ignore=shutil.ignore_patterns("*.png")))
    shutil.rmtree(copy / "restoration")
    shutil.copytree(RESTORATION_FIXTURE, copy / "restoration")
    return copy


@pytest.fixture
def readme(results: Path) -> str:
    """RESULTS.md as the generator writes it from ``results``."""
    return br.build((ROOT / "RESULTS.md").read_text(), results)


def _block(readme: str, name: str) -> str:
    return re.search(rf"<!-- results:{name} -->\n(.*?)<!-- /results:{name} -->", readme, flags=re.S).group(1)


def _words(text: str) -> str:
    """``text`` with its line breaks (the generator wraps prose) as single spaces."""
    return " ".join(text.split())


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _edit_rows(path: Path, change, **match) -> None:
    """Apply ``change`` to each row of a run file's ``result`` list whose fields equal ``match``."""
    def edit(data):
        for row in data["result"]:
            if all(row[k] == v for k, v in match.items()):
                change(row)
    _edit_json(path, edit)


def _set(**values):
    return lambda row: row.update(values)


def _set_draws(path: Path, image: str, **columns: list[float]) -> None:
    """Replace ``image``'s Table 1 draws by one draw per value, each a copy of the first with ``columns`` set."""
    def edit(data):
        first = next(r for r in data["result"] if r["image"] == image)
        n = len(next(iter(columns.values())))
        draws = [{**first, "draw": d, **{c: v[d] for c, v in columns.items()}} for d in range(n)]
        data["result"] = [r for r in data["result"] if r["image"] != image] + draws
    _edit_json(path, edit)


def _cells(block: str) -> dict[str, dict[str, str]]:
    """A block's table as row label -> column header -> cell."""
    lines = [line for line in block.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return {row[0]: dict(zip(rows[0], row)) for row in rows[2:]}


def test_readme_figures_are_the_stored_ones():
    """Every result block of RESULTS.md renders from its artifacts in docs/results and equals them."""
    ready = br.renderable(RESULTS)
    assert set(br.BLOCKS) == set(ready), set(br.BLOCKS) - set(ready)
    diff = br.check(ROOT / "RESULTS.md", RESULTS, only=ready)
    assert diff == "", "RESULTS.md differs from its artifacts; run python paper/scripts/build_results.py\n" + diff


HELDOUT = "restoration/heldout.json"
TABLE1 = "restoration/table1.json"
TABLE2 = "restoration/table2.json"
RESTORATION_BLOCKS = ("restoration-table1", "restoration-lambda", "restoration-superres", "restoration-heldout")


def _set_lam0_draws(data, level: str, weight: str, psnrs: list[float]) -> None:
    next(r for r in data if r["lam"] == 0.0)["draws"][level][weight] = psnrs


@pytest.mark.parametrize("name, block, edit, expected", [
    (TABLE1, "restoration-table1", lambda p: _edit_rows(p, _set(rsm=39.0), image="barbara"),
     "| 39.00 | 38.33 | 37.31 | -1.58 (std unknown) | +0.67 (std unknown) | +1.69 (std unknown) |"),
    ("restoration/choices.json", "restoration-table1",
     lambda p: _edit_json(p, lambda d: d["weights"]["rsm"].update({"5": 0.7})),
     "RSM: 0.7, CD-1 (same recipe): 0.3"),
    ("restoration/lambda_sweep.json", "restoration-lambda",
     lambda p: _edit_json(p, lambda d: _set_lam0_draws(d, "5", "0.3", [29.0])),
     "| gain over lambda = 0 (dB) | +0.98 (std unknown) |"),
    (TABLE2, "restoration-superres", lambda p: _edit_rows(p, _set(rsm=22.483115536602945), image="castle"),
     "+1.00 dB (Castle)"),
    ("restoration/choices.json", "restoration-superres", lambda p: _edit_json(p, lambda d: d["sr_iters"].update(rb=80)),
     "R&B 3x3x8: 80"),
    (HELDOUT, "restoration-heldout", lambda p: _edit_rows(p, _set(cd1=40.0), image="airplane", level=5),
     "| CD-1 (same recipe) | 36.24 ± 5.32 | tie (+2.73 ± 2.89); 1/2 above |"),
    ("beyond/summary.json", "inverse-problems",
     lambda p: _edit_json(p, lambda d: d["problems"]["superres_3x"]["means"].update(foe_5x5x24=30.0)),
     "| bicubic + projection | 26.98 | 30.00 | +0.14 ± 0.04 |"),
    ("beyond/summary.json", "inverse-problems",
     lambda p: _edit_json(p, lambda d: d["problems"]["inpaint"]["comparisons"][1].update(diff=0.9)),
     "| 31.81 | +0.90 ± 0.19 | +0.50 |"),
    ("beyond/summary.json", "colour-denoise",
     lambda p: _edit_json(p, lambda d: d["problems"]["colour_15"]["means"].update(colour_prior=33.0)),
     "| 15/256 | 24.83 | 29.81 | 32.89 | 29.10 | 33.00 |"),
    ("benchmarks/deep_energy_cpu.json", "deep-energy",
     lambda p: _edit_json(p, lambda d: d["levels"]["15"]["deep_minus_bm3d"].update(mean=0.31)), "| +0.31 ± 0.03 |"),
    (TABLE1, "known-gaps", lambda p: _set_draws(p, "barbara", rsm=[39.9, 40.1], cd1=[40.0, 40.4]),  # now a tie
     "CD-1 (same recipe) above our RSM FoE beyond the tie rule on House by +0.21 dB (std unknown) and Lena by "
     "+0.52 dB (std unknown);"),
    (HELDOUT, "known-gaps", lambda p: (_edit_rows(p, _set(cd1=36.4), image="airplane", level=5),
                                       _edit_rows(p, _set(cd1=34.6), image="train400/test_010", level=5)),
     "CD-1 (same recipe) by +1.99 dB"),
    (TABLE2, "known-gaps", lambda p: _edit_rows(p, _set(rsm=21.683115536602945), image="castle"),
     "less than 0.1 dB above the bicubic, projected start on Peppers (-0.04 dB), House (-0.16 dB), Lena (-1.01 dB) "
     "and Boat (-0.92 dB);"),
    ("benchmarks/sm_loss.json", "core-speed",
     lambda p: _edit_json(p, lambda d: d["poe"].update(exact_over_curvature=999.4)), "999x slower"),
    ("benchmarks/denoise_large_cpu.json", "denoise-speed",
     lambda p: _edit_json(p, lambda d: d["tiled"].update(peak_rss_mib=3072.0)), "3.0 GiB peak memory"),
    ("benchmarks/gpu_h100/provenance.json", "gpu", lambda p: _edit_json(p, lambda d: d.update(commit="abc1234")),
     "commit abc1234"),
    ("patches/summary.json", "patches", lambda p: _edit_json(p, lambda d: d["baseline"]["ll"].update({"0": 12.34})),
     "against 12.34 at lambda = 0"),
    ("deep_energy/shootout.json", "shootout",  # a row taken out is named as not run
     lambda p: _edit_json(p, lambda d: d.update(rows=[r for r in d["rows"] if (r["estimator"], r["minutes"])
                                                      != ("ssm", 15.0)])), "ssm 15 min"),
])
def test_a_changed_artifact_changes_its_block(results, readme, name, block, edit, expected):
    assert expected not in _words(_block(readme, block))
    edit(results / name)
    assert expected in _words(_block(br.build(readme, results), block))


def test_every_restoration_block_says_which_run_measured_it(results, readme):
    def edit(d):
        d["stage_stamp"].update(commit="abc1234def", dirty=False)
        d["machine"].update(cuda="NVIDIA H200")
        d["finished"] = "2026-12-02 10:00:00"
    _edit_json(results / "restoration/provenance.json", edit)
    page = br.build(readme, results)
    for block in RESTORATION_BLOCKS:
        assert "Measured at commit abc1234 on 2 x86_64 cores, NVIDIA H200" in _words(_block(page, block)), block
        assert "finished 2026-12-02 10:00:00" in _words(_block(page, block)), block
    assert "uncommitted" not in _words(_block(page, "restoration-table1"))
    assert "(code fingerprint 07cc4640cccc2a82)" in _words(_block(readme, "restoration-table1"))


def test_a_single_draw_says_std_unknown_never_nan(readme):
    for block in RESTORATION_BLOCKS + ("known-gaps",):
        assert "nan" not in _block(readme, block).lower(), block
    table = _cells(_block(readme, "restoration-table1"))
    assert table["Lena"]["ours - paper (dB)"] == "-4.79 (std unknown)"
    assert table["mean"]["RSM - CD-1 (dB)"] == "-0.01 (std unknown)"
    assert "one noise draw per image" in _words(_block(readme, "restoration-table1"))
    assert _cells(_block(readme, "restoration-lambda"))["its PSNR (dB)"]["5/256"] == "29.98 (std unknown)"


def test_ours_minus_paper_says_tie_by_the_two_std_rule(results):
    _set_draws(results / TABLE1, "peppers", rsm=[37.0, 38.0])  # mean - paper = +0.09, std 0.71: a tie
    _set_draws(results / TABLE1, "barbara", rsm=[37.50, 37.52])  # +0.20, std 0.014: a difference
    table = _cells(_block(br.build((ROOT / "RESULTS.md").read_text(), results), "restoration-table1"))
    assert table["Peppers"]["ours - paper (dB)"] == "tie (+0.09 ± 0.71)"
    assert table["Barbara"]["ours - paper (dB)"] == "+0.20"


def test_rsm_minus_cd1_is_paired_over_the_draws(results):
    # each spreads by 0.71 over the two draws, but on each draw RSM is 0.10 above CD-1: a difference
    _set_draws(results / TABLE1, "house", rsm=[37.0, 38.0], cd1=[36.9, 37.9])
    table = _cells(_block(br.build((ROOT / "RESULTS.md").read_text(), results), "restoration-table1"))
    assert table["House"]["RSM - CD-1 (dB)"] == "+0.10"


def test_the_mean_row_uses_the_std_of_the_mean_over_images(results):
    paper = {name: rsm for name, (_, _, rsm) in br.restoration.PAPER_TABLE1.items()}
    for name, p in paper.items():  # +0.05 ± 0.14 on every image; the mean of five: +0.05 ± 0.06
        _set_draws(results / TABLE1, name, rsm=[p + 0.05 - 0.1, p + 0.05 + 0.1])
    table = _cells(_block(br.build((ROOT / "RESULTS.md").read_text(), results), "restoration-table1"))
    assert table["Boat"]["ours - paper (dB)"] == "tie (+0.05 ± 0.14)"
    assert table["mean"]["ours - paper (dB)"] == "tie (+0.05 ± 0.06)"


def test_check_exits_1_and_prints_the_diff(results, tmp_path, capsys):
    readme = tmp_path / "README.md"
    shutil.copyfile(ROOT / "RESULTS.md", readme)
    assert br.main(["--readme", str(readme), "--results", str(results)]) == 0
    assert br.main(["--check", "--readme", str(readme), "--results", str(results)]) == 0
    _edit_rows(results / TABLE1, _set(rsm=40.5), image="house")
    assert br.main(["--check", "--readme", str(readme), "--results", str(results)]) == 1
    assert "+| House |" in capsys.readouterr().err
    assert br.main(["--readme", str(readme), "--results", str(results)]) == 0
    assert br.main(["--check", "--readme", str(readme), "--results", str(results)]) == 0
    assert "| House | 34.23 | 36.02 | 36.30 | 34.76 | 40.50 |" in readme.read_text()


def test_a_missing_field_fails_naming_its_file(results):
    _edit_rows(results / TABLE1, lambda row: row.pop("rsm_paper_solver"))
    with pytest.raises(KeyError, match="restoration/table1.json has no field 'rsm_paper_solver'"):
        br.build((ROOT / "RESULTS.md").read_text(), results)


def test_a_nan_is_refused_not_printed(results):
    _edit_json(results / "benchmarks/sm_loss.json", lambda d: d["poe"].update(curvature_over_closed_form=float("nan")))
    with pytest.raises(ValueError, match="non-finite"):
        br.build((ROOT / "RESULTS.md").read_text(), results)


def test_every_registered_block_is_on_the_page_once():
    readme = (ROOT / "RESULTS.md").read_text()
    with pytest.raises(ValueError, match="missing \\['gpu'\\]"):
        br.build(readme.replace("<!-- results:gpu -->", "<!-- gpu -->"), RESULTS)
    with pytest.raises(ValueError, match="without a renderer \\['nope'\\]"):
        br.build(readme + "\n<!-- results:nope -->\n<!-- /results:nope -->\n", RESULTS)
