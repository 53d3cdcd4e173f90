"""RESULTS.md's and the model cards' measured figures are the ones stored under docs/results/, and a figure whose
code or model changed since it was measured is marked stale (paper/scripts/build_results.py)."""

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from scorematch_paper import stamps

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


PAGES = br.pages()


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_page_is_current_and_nothing_on_it_is_stale(page):
    """RESULTS.md and every model card are what the generator writes today (`build_results.py --check`)."""
    diff, stale = br.check_page(page, RESULTS)
    assert diff == "", f"{page.path} is out of date; run python paper/scripts/build_results.py\n" + diff
    assert stale == {}, f"{page.path}: stale blocks {stale}"


def test_every_bundled_model_has_a_card_template_and_every_template_a_model():
    models = {p.name for p in PAGES} - {"RESULTS"}
    templates = {p.stem for p in br.CARD_TEMPLATES.glob("*.md")} - {"CHANGELOG"}
    assert models == templates


def test_the_check_command_passes():
    assert br.main(["--check"]) == 0


def test_a_modified_page_fails_the_check(tmp_path, capsys):
    """A card or RESULTS.md edited by hand (a copy here) is not current: the check prints the diff and fails."""
    cards = tmp_path / "cards"
    cards.mkdir()
    for card in br.models_dir().glob("*.md"):
        shutil.copyfile(card, cards / card.name)
    readme = Path(shutil.copyfile(ROOT / "RESULTS.md", tmp_path / "RESULTS.md"))
    args = ["--check", "--readme", str(readme), "--cards", str(cards)]
    assert br.main(args) == 0
    card = cards / "deep_energy.md"
    row = next(line for line in card.read_text().splitlines() if line.startswith("| 5/256 | "))
    card.write_text(card.read_text().replace(row, row.replace("| 5/256 | ", "| 5/256 | 99.999 | ", 1)))
    assert br.main(args) == 1
    err = capsys.readouterr().err
    assert "-| 5/256 | 99.999 |" in err and f"{card} is out of date" in err
    assert br.main(["--readme", str(readme), "--cards", str(cards), "--pages", "deep_energy"]) == 0
    assert br.main(args) == 0
    readme.write_text(readme.read_text().replace("(this 2-core machine", "(a 2-core machine"))
    assert br.main(args) == 1 and f"{readme} is out of date" in capsys.readouterr().err


def _stamped(results: Path, name: str, **changes) -> None:
    """Give the artifact ``name`` today's stamp of the code that renders from it, then ``changes`` to it."""
    record = stamps.stamp("scorematch.derivatives", models={"foe_5x5x24": MODEL})
    for key, value in changes.items():
        part, field = key.split("__")
        (record[part] if part == "code" else record["models"]["foe_5x5x24"])[field] = value
    _edit_json(results / name, lambda d: d.update(record))


MODEL = "src/scorematch/pretrained/foe_5x5x24.safetensors"


def _unstamped(results: Path, name: str, commit: str | None = None) -> None:
    """Take the stamp (and the commit) off the artifact ``name``, as files written before stamps are; ``commit``:
    the one it then says measured it."""
    def strip(d):
        for key in ("code", "models", "commit", "dirty"):
            d.pop(key, None)
        if commit is not None:
            d["commit"] = commit
    _edit_json(results / name, strip)


def test_a_stamped_artifact_is_checked_not_marked_unstamped(results):
    _unstamped(results, "benchmarks/sm_loss.json")
    readme = br.build((ROOT / "RESULTS.md").read_text(), results)
    assert "unstamped (no code fingerprint or model hashes to check); commit not recorded: `benchmarks/sm_loss.json`" \
        in _words(_block(readme, "core-speed"))
    _stamped(results, "benchmarks/sm_loss.json")
    page = br.render((ROOT / "RESULTS.md").read_text(), br.BLOCKS, results)
    assert page.stale == {}
    block = _words(_block(page.text, "core-speed"))
    assert "sm_loss.json" not in block.split("Provenance")[-1] and "stale" not in block


@pytest.mark.parametrize("change, reason", [
    ({"code__fingerprint": "0" * 16}, "the code of scorematch.derivatives changed (fingerprint 0000000000000000 ->"),
    ({"models__sha256": "0" * 64}, "the model file of foe_5x5x24 changed"),
    ({"models__path": "src/scorematch/pretrained/gone.safetensors"}, "the model file of foe_5x5x24"),
])
def test_a_stamped_artifact_whose_code_or_model_changed_is_stale(results, tmp_path, capsys, change, reason):
    """The block rendered from it says **stale** with the reason, and --check fails naming the block."""
    _stamped(results, "benchmarks/sm_loss.json", **change)
    page = br.render((ROOT / "RESULTS.md").read_text(), br.BLOCKS, results)
    assert list(page.stale) == ["core-speed"]  # every block that reads the file
    assert reason in page.stale["core-speed"][0]
    assert f"**stale**: `benchmarks/sm_loss.json`: {reason}" in _words(_block(page.text, "core-speed"))
    readme = tmp_path / "RESULTS.md"
    readme.write_text(page.text)  # current, but stale
    args = ["--readme", str(readme), "--results", str(results), "--pages", "RESULTS"]
    assert br.main(["--check", *args]) == 1
    err = capsys.readouterr().err
    assert "out of date" not in err and "block 'core-speed' is stale" in err and reason in err


def test_the_loss_speed_without_torchebm_drops_its_row_and_gives_the_load(results, readme):
    def edit(d):
        d["poe"].pop("torchebm_version", None)  # (the stored run may already lack it)
        d.update(load_average_start=0.5)
    _edit_json(results / "benchmarks/sm_loss.json", edit)
    block = _words(_block(br.build(readme, results), "core-speed"))
    assert "torchebm" not in block and "load average 0.50 at the start" in block and "other jobs" not in block


def test_an_unstamped_artifact_names_the_commit_that_measured_it(results, readme):
    _unstamped(results, "benchmarks/deep_energy_cpu.json", commit="abcdef0123")
    assert ("unstamped (no code fingerprint or model hashes to check); measured at commit abcdef0: "
            "`benchmarks/deep_energy_cpu.json`") in _words(_block(br.build(readme, results), "deep-energy"))


def test_every_results_section_links_the_evaluation_protocol():
    text = (ROOT / "RESULTS.md").read_text()
    sections = re.split(r"\n(?=#{2,3} )", text)[1:]
    for section in sections:
        if "<!-- results:" in section:
            assert "docs/evaluation.md" in section, section.splitlines()[0]


HELDOUT = "restoration/heldout.json"
TABLE1 = "restoration/table1.json"
TABLE2 = "restoration/table2.json"
RESTORATION_BLOCKS = ("restoration-table1", "restoration-lambda", "restoration-superres", "restoration-heldout")


def _set_lam0_draws(data, level: str, weight: str, psnrs: list[float]) -> None:
    next(r for r in data if r["lam"] == 0.0)["draws"][level][weight] = psnrs


@pytest.mark.parametrize("name, block, edit, expected", [
    (TABLE1, "restoration-table1", lambda p: _edit_rows(p, _set(rsm=39.0), image="barbara"),
     "| 39.00 | 38.33 | 37.31 | -1.58 (std unknown) | +0.67 (std unknown) |"),
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
     "| CD-1 (same recipe) | 36.24 ± 5.32 | not resolved (+2.73 ± 2.89); 1/2 above |"),
    # the stage's and the benchmark's own values (implausible ones: the rerun files hold other numbers)
    ("beyond/summary.json", "inverse-problems",
     lambda p: _edit_json(p, lambda d: d["problems"]["superres_3x"]["means"].update(foe_5x5x24=43.21)), "| 43.21 |"),
    ("beyond/summary.json", "inverse-problems",
     lambda p: _edit_json(p, lambda d: next(c for c in d["problems"]["inpaint"]["comparisons"]
                                            if c["ours"] == "deep_energy").update(diff=0.987, std_of_mean=0.123)),
     "| +0.99 ± 0.12 |"),
    ("beyond/summary.json", "colour-denoise",
     lambda p: _edit_json(p, lambda d: d["problems"]["colour_15"]["means"].update(colour_prior=44.44)), "| 44.44 |"),
    ("benchmarks/deep_energy_cpu.json", "deep-energy",
     lambda p: _edit_json(p, lambda d: d["levels"]["15"]["deep_minus_bm3d"].update(mean=0.777, std_of_mean=0.066)),
     "| +0.78 ± 0.07 |"),
    (TABLE1, "known-gaps", lambda p: _set_draws(p, "barbara", rsm=[39.9, 40.1], cd1=[40.0, 40.4]),  # not resolved
     "CD-1 (same recipe) above our RSM FoE by the verdict rule on House by +0.21 dB (std unknown) and Lena by "
     "+0.52 dB (std unknown);"),
    (HELDOUT, "known-gaps", lambda p: (_edit_rows(p, _set(cd1=36.4), image="airplane", level=5),
                                       _edit_rows(p, _set(cd1=34.6), image="train400/test_010", level=5)),
     "CD-1 (same recipe) by +1.99 dB"),
    (TABLE2, "known-gaps", lambda p: _edit_rows(p, _set(rsm=21.683115536602945), image="castle"),
     "less than 0.1 dB above the bicubic, projected start on Peppers (-0.04 dB), House (-0.16 dB), Lena (-1.01 dB) "
     "and Boat (-0.92 dB);"),
    ("benchmarks/sm_loss.json", "core-speed",
     lambda p: _edit_json(p, lambda d: d["poe"].update(exact_over_curvature=999.4)), "999x slower"),
    ("patches/summary.json", "patches", lambda p: _edit_json(p, lambda d: d["baseline"]["ll"].update({"0": 12.34})),
     "against 12.34 at lambda = 0"),
    ("shootout/shootout.json", "shootout",  # a run not done yet is named
     lambda p: _edit_json(p, lambda d: d.update(missing=[*d["missing"], {"architecture": "foe", "estimator": "xyz",
                                                                         "lam": 0.0, "seed": 7}])), "foe xyz seed 7"),
])
def test_a_changed_artifact_changes_its_block(results, readme, name, block, edit, expected):
    assert expected not in _words(_block(readme, block))
    edit(results / name)
    assert expected in _words(_block(br.build(readme, results), block))


def _add_method(e, method: str, psnr: float, diff: float, others) -> None:
    """Give the beyond summary's problem entry ``e`` the method ``method``: its mean, per-image PSNRs and its
    comparisons with ``others``."""
    e["means"][method] = psnr
    e["per_image"][method] = [psnr] * e["n_images"]
    e["comparisons"] = [c for c in e["comparisons"] if c["ours"] != method] + [
        {"ours": method, "other": o, "diff": diff, "std_of_mean": 0.1} for o in others]


def test_a_beyond_run_with_the_unets_shows_them_once(results, readme):
    """A stage run whose priors include `unet` and whose colour priors include `unet_colour` (run whole) shows them
    in its own blocks, and the unet block does not repeat its own column among the stage's priors."""
    def edit(d):
        d["config"].update(priors=[*(p for p in d["config"]["priors"] if p != "unet"), "unet"],
                           colour_priors=["unet_colour"])
        for key, e in d["problems"].items():
            if key.startswith("colour_"):
                _add_method(e, "opponent_unet", 33.0, 0.4, ("grey_per_channel", "cbm3d", "tv"))
                _add_method(e, "whole_unet_colour", 33.5, 0.5, ("grey_per_channel", "cbm3d", "tv"))
            else:
                _add_method(e, "unet", 32.0, 1.2, [br.beyond_settings.GREY_PROBLEMS[key][1]])
    _edit_json(results / "beyond/summary.json", edit)
    page = br.build(readme, results)
    colour = _words(_block(page, "colour-denoise"))
    assert "| 15/256 | `unet_colour` (colour) | +0.50 ± 0.10 | +0.50 ± 0.10 | +0.50 ± 0.10 |" in colour
    assert "`unet_colour` on the colour image whole" in colour
    assert "| unet | minus anchor |" in _block(page, "inverse-problems")
    header = next(line for line in _block(page, "inverse-problems-unet").splitlines() if line.startswith("| problem"))
    assert header.count("unet") == 1 and "| deep_energy minus anchor |" in header


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
        assert not re.search(r"\bnan\b", _block(readme, block).lower()), block
    table = _cells(_block(readme, "restoration-table1"))
    assert table["Lena"]["RSM - CD-1 (dB)"].endswith("(std unknown)")
    assert table["mean"]["RSM - CD-1 (dB)"] == "-0.01 (std unknown)"
    assert "one noise draw per image" in _words(_block(readme, "restoration-table1"))
    assert _cells(_block(readme, "restoration-lambda"))["its PSNR (dB)"]["5/256"] == "29.98 (std unknown)"


def test_the_papers_column_stands_beside_ours_without_a_verdict(readme):
    block = _block(readme, "restoration-table1")
    header = next(line for line in block.splitlines() if line.startswith("| image"))
    assert "| paper's RSM |" in header and "paper (dB)" not in header
    assert "ours - paper" not in block and "against the paper's" not in _words(block)
    assert "Table 1: below the paper" not in _block(readme, "known-gaps")
    assert "learning rate and step count were chosen for RSM" in _words(block)


def test_a_difference_under_two_std_is_not_resolved(results):
    _set_draws(results / TABLE1, "peppers", rsm=[37.0, 38.0], cd1=[36.9, 38.1])  # +0.00, std 0.14: not resolved
    _set_draws(results / TABLE1, "barbara", rsm=[37.50, 37.52], cd1=[37.30, 37.32])  # +0.20, std 0: resolved
    table = _cells(_block(br.build((ROOT / "RESULTS.md").read_text(), results), "restoration-table1"))
    assert table["Peppers"]["RSM - CD-1 (dB)"] == "not resolved (+0.00 ± 0.14)"
    assert table["Barbara"]["RSM - CD-1 (dB)"] == "+0.20"


def test_rsm_minus_cd1_is_paired_over_the_draws(results):
    # each spreads by 0.71 over the two draws, but on each draw RSM is 0.10 above CD-1: a difference
    _set_draws(results / TABLE1, "house", rsm=[37.0, 38.0], cd1=[36.9, 37.9])
    table = _cells(_block(br.build((ROOT / "RESULTS.md").read_text(), results), "restoration-table1"))
    assert table["House"]["RSM - CD-1 (dB)"] == "+0.10"


def test_the_mean_row_uses_the_std_of_the_mean_over_images(results):
    for name in br.restoration.PAPER_TABLE1:  # +0.05 ± 0.14 on every image; the mean of five: +0.05 ± 0.06
        _set_draws(results / TABLE1, name, rsm=[37.05 - 0.1, 37.05 + 0.1], cd1=[37.0, 37.0])
    table = _cells(_block(br.build((ROOT / "RESULTS.md").read_text(), results), "restoration-table1"))
    assert table["Boat"]["RSM - CD-1 (dB)"] == "not resolved (+0.05 ± 0.14)"
    assert table["mean"]["RSM - CD-1 (dB)"] == "not resolved (+0.05 ± 0.06)"


def test_check_exits_1_and_prints_the_diff(results, tmp_path, capsys):
    readme = tmp_path / "README.md"
    shutil.copyfile(ROOT / "RESULTS.md", readme)
    args = ["--readme", str(readme), "--results", str(results), "--pages", "RESULTS"]
    assert br.main(args) == 0
    assert br.main(["--check", *args]) == 0
    _edit_rows(results / TABLE1, _set(rsm=40.5), image="house")
    assert br.main(["--check", *args]) == 1
    assert "+| House |" in capsys.readouterr().err
    assert br.main(args) == 0
    assert br.main(["--check", *args]) == 0
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
    with pytest.raises(ValueError, match="missing \\['known-gaps'\\]"):
        br.build(readme.replace("<!-- results:known-gaps -->", "<!-- known-gaps -->"), RESULTS)
    with pytest.raises(ValueError, match="without a renderer \\['nope'\\]"):
        br.build(readme + "\n<!-- results:nope -->\n<!-- /results:nope -->\n", RESULTS)
