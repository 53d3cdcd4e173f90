"""The reproduce driver: caching, resume after an interruption, and the report files."""

import sys
import types

import pytest

from scorematch_paper import experiments
from scorematch.cli import main
from scorematch_paper.report import markdown_to_html


@pytest.fixture
def fake_experiment(monkeypatch):
    calls = []
    mod = types.ModuleType("scorematch_fake_exp")
    mod.TITLE = "Fake experiment"

    def run(out_dir, *, quick=False, progress=True):
        calls.append(quick)
        if getattr(mod, "fail", False):
            raise KeyboardInterrupt
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "result.json").write_text('{"psnr": 30.0}')
        return {"psnr": 30.0}

    def report(out_dir):
        return "| image | PSNR |\n|---|---|\n| a | 30.00 |\n"

    mod.run, mod.report = run, report
    monkeypatch.setitem(sys.modules, "scorematch_fake_exp", mod)
    monkeypatch.setattr(experiments, "EXPERIMENTS", {"fake": "scorematch_fake_exp"})
    from scorematch_paper import cli as reproduce

    monkeypatch.setattr(reproduce, "EXPERIMENTS", {"fake": "scorematch_fake_exp"})
    return mod, calls


def test_reproduce_writes_report_and_caches_stages(tmp_path, fake_experiment, capsys):
    mod, calls = fake_experiment
    assert main(["reproduce", "fake", "--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").is_file() and (tmp_path / "report.html").is_file()
    html = (tmp_path / "report.html").read_text()
    assert "<table>" in html and "Fake experiment" in html and "Quick run" in html
    assert main(["reproduce", "fake", "--quick", "--out", str(tmp_path)]) == 0
    assert calls == [True]  # the second run reused the finished stage
    assert main(["reproduce", "fake", "--quick", "--out", str(tmp_path), "--force"]) == 0
    assert calls == [True, True]


def test_the_report_keeps_the_sections_of_other_finished_stages(tmp_path, fake_experiment, monkeypatch):
    mod, _ = fake_experiment
    other = types.ModuleType("scorematch_fake_other")
    other.TITLE = "Other experiment"
    other.run = lambda out_dir, *, quick=False, progress=True: out_dir.mkdir(parents=True, exist_ok=True)
    other.report = lambda out_dir: "other section"
    monkeypatch.setitem(sys.modules, "scorematch_fake_other", other)
    registry = {"fake": "scorematch_fake_exp", "other": "scorematch_fake_other"}
    from scorematch_paper import cli as reproduce

    monkeypatch.setattr(experiments, "EXPERIMENTS", registry)
    monkeypatch.setattr(reproduce, "EXPERIMENTS", registry)
    assert main(["reproduce", "fake", "--quick", "--out", str(tmp_path)]) == 0
    assert main(["reproduce", "other", "--quick", "--out", str(tmp_path)]) == 0
    md = (tmp_path / "report.md").read_text()
    assert md.index("## Fake experiment") < md.index("## Other experiment")  # both, in the registry's order
    assert main(["reproduce", "other", "--out", str(tmp_path)]) == 0  # the full run: fake has no full result
    assert "## Fake experiment" not in (tmp_path / "report.md").read_text()


def test_interrupted_stage_is_rerun(tmp_path, fake_experiment):
    mod, calls = fake_experiment
    mod.fail = True
    assert main(["reproduce", "fake", "--out", str(tmp_path)]) == 130
    mod.fail = False
    assert main(["reproduce", "fake", "--out", str(tmp_path)]) == 0
    assert calls == [False, False]


def test_unknown_experiment_is_a_usage_error(tmp_path, capsys):
    assert main(["reproduce", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown experiment" in capsys.readouterr().err


def test_markdown_to_html_embeds_images(tmp_path):
    import base64

    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    (tmp_path / "f.png").write_bytes(png)
    page = markdown_to_html("# T\n\n![fig](f.png)\n\n- a `b`\n", base=tmp_path, title="t")
    assert "data:image/png;base64," in page and "<li>a <code>b</code></li>" in page


def test_speed_experiment_quick(tmp_path):
    from scorematch_paper.experiments import speed

    result = speed.run(tmp_path, quick=True)
    assert (tmp_path / "cost_growth.png").is_file()
    assert set(result["poe"]["exponent_in_D"]) == {"curvature", "hutchinson", "exact"}
    assert "| D | curvature" in speed.report(tmp_path)
    # The exact diagonal costs one Hessian-vector product per input dimension: always the slowest.
    for row in result["poe"]["rows"]:
        assert row["exact"] > row["curvature"]
