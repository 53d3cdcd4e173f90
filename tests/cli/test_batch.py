"""The batch runner of the restoration commands: inputs from files, folders and globs; output planning; a
resumable run where one bad file fails alone; worker processes give the same files; progress lines when piped."""

import functools
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from scorematch.cli.batch import BatchResult, expand_inputs, plan_outputs, run_batch
from scorematch.io.images import write_image

sys.path.insert(0, str(Path(__file__).parents[1] / "helpers"))
from batch_jobs import smooth_copy, smooth_copy_noting_pid  # noqa: E402


def _images(folder: Path, n: int, suffix: str = ".png", *, start: int = 0) -> list[Path]:
    """``n`` tiny distinct gray images img00.png ... in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(start)
    return [write_image(folder / f"img{i:02d}{suffix}", rng.random((6, 5))) for i in range(start, start + n)]


def _counting(calls: list, inp: Path, out: Path) -> None:
    calls.append(inp.name)
    smooth_copy(inp, out)


# ---------------------------------------------------------------------------------------------- expand_inputs


def test_folder_gives_its_image_files_sorted_not_recursive(tmp_path):
    files = _images(tmp_path, 3)
    (tmp_path / "notes.txt").write_text("not an image")
    np.save(tmp_path / "arr.npy", np.zeros((4, 4)))
    _images(tmp_path / "sub", 2, start=5)
    assert expand_inputs([str(tmp_path)]) == [tmp_path / "arr.npy"] + files


def test_glob_patterns_plain_and_recursive(tmp_path):
    top = _images(tmp_path, 2)
    deep = _images(tmp_path / "a" / "b", 2, ".jpg", start=10)
    (tmp_path / "img01.txt").write_text("a pattern yields image files only")
    assert expand_inputs([str(tmp_path / "*.png")]) == top
    assert expand_inputs([str(tmp_path / "**" / "*.jpg")]) == deep
    assert expand_inputs([str(tmp_path / "img0[1]*")]) == top[1:]


def test_duplicates_removed_keeping_the_first_order(tmp_path):
    files = _images(tmp_path, 3)
    spelled_otherwise = str(tmp_path / "." / files[0].name)
    got = expand_inputs([str(files[2]), str(tmp_path / "*.png"), spelled_otherwise, str(tmp_path)])
    assert got == [files[2], files[0], files[1]]


@pytest.mark.parametrize("spec", ["missing.png", "*.tif", "empty_dir"])
def test_a_spec_that_matches_nothing_is_an_error_naming_it(tmp_path, monkeypatch, spec):
    monkeypatch.chdir(tmp_path)
    _images(tmp_path, 1)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ValueError, match=re.escape(spec)):
        expand_inputs(["img00.png", spec])


def test_one_string_instead_of_a_list_is_refused(tmp_path):
    with pytest.raises(TypeError, match="list"):
        expand_inputs(str(tmp_path))


# ---------------------------------------------------------------------------------------------- plan_outputs


def test_one_input_and_a_file_name_is_the_single_file_case(tmp_path):
    (inp,) = _images(tmp_path, 1)
    assert plan_outputs([inp], tmp_path / "out" / "clean.npy") == [(inp, tmp_path / "out" / "clean.npy")]
    assert not (tmp_path / "out").exists()  # the single-file case creates no folder


def test_several_inputs_or_an_existing_folder_make_a_folder(tmp_path):
    files = _images(tmp_path / "in", 2)
    out = tmp_path / "results"
    assert plan_outputs(files, out) == [(f, out / f.name) for f in files]
    assert out.is_dir()
    assert plan_outputs(files[:1], out, suffix="npy") == [(files[0], out / "img00.npy")]  # existing folder
    assert plan_outputs(files[:1], tmp_path / "new_dir") == [(files[0], tmp_path / "new_dir" / "img00.png")]


def test_two_inputs_with_one_output_name_is_an_error_naming_both(tmp_path):
    a = _images(tmp_path / "a", 1)[0]
    b = _images(tmp_path / "b", 1, ".npy")[0]
    b = b.rename(tmp_path / "b" / "img00.npy")
    with pytest.raises(ValueError, match=f"{re.escape(str(a))} and {re.escape(str(b))}"):
        plan_outputs([a, b], tmp_path / "out", suffix=".png")
    assert not (tmp_path / "out").exists()


def test_folder_output_refusals(tmp_path):
    files = _images(tmp_path / "in", 2)
    with pytest.raises(ValueError, match="is a file"):
        plan_outputs(files, files[0])
    with pytest.raises(ValueError, match="names an image file"):
        plan_outputs(files, tmp_path / "clean.png")
    with pytest.raises(ValueError, match="overwrite the input"):
        plan_outputs(files, tmp_path / "in")
    with pytest.raises(ValueError, match="unsupported output suffix"):
        plan_outputs(files, tmp_path / "out", suffix=".gif")


# ------------------------------------------------------------------------------------------------- run_batch


@pytest.fixture
def batch(tmp_path):
    """20 inputs, the 8th corrupt, planned into ``out/``."""
    files = _images(tmp_path / "in", 20)
    files[7].write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    return plan_outputs(expand_inputs([str(tmp_path / "in")]), tmp_path / "out"), files[7]


def test_one_corrupt_file_fails_alone_and_a_rerun_skips_the_finished(batch, capsys):
    pairs, bad = batch
    calls: list[str] = []
    result = run_batch(pairs, functools.partial(_counting, calls), progress=False)
    err = capsys.readouterr().err
    assert isinstance(result, BatchResult) and result.exit_code == 1
    assert len(result.done) == 19 and not result.skipped and [f for f, _ in result.failed] == [bad]
    assert sorted(p.name for p in (pairs[0][1].parent).iterdir()) == sorted(o.name for i, o in pairs if i != bad)
    failed = [line for line in err.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and failed[0].startswith(f"scorematch: FAILED {bad}: ")
    assert "not a readable image" in failed[0] and f"{bad}: {bad}" not in failed[0]  # the message's own prefix cut
    assert err.splitlines()[-1] == "scorematch: 19 written, 0 skipped, 1 failed"

    mtimes = {o: o.stat().st_mtime_ns for _, o in result.done}
    calls.clear()
    again = run_batch(pairs, functools.partial(_counting, calls), progress=False)
    assert calls == [bad.name]  # only the failed one is tried again
    assert len(again.skipped) == 19 and not again.done and again.exit_code == 1
    assert {o: o.stat().st_mtime_ns for _, o in result.done} == mtimes
    assert capsys.readouterr().err.splitlines()[-1] == "scorematch: 0 written, 19 skipped, 1 failed"


def test_force_redoes_every_file(batch, capsys):
    pairs, bad = batch
    good = [(i, o) for i, o in pairs if i != bad]
    run_batch(good, smooth_copy, progress=False)
    calls: list[str] = []
    result = run_batch(good, functools.partial(_counting, calls), force=True, progress=False)
    assert len(calls) == 19 and len(result.done) == 19 and result.exit_code == 0
    assert capsys.readouterr().err.splitlines()[-1] == "scorematch: 19 written, 0 skipped, 0 failed"


def test_a_process_that_writes_nothing_fails_and_errors_are_one_line(tmp_path, capsys):
    pairs = plan_outputs(_images(tmp_path / "in", 2), tmp_path / "out")

    def broken(inp, out):
        if inp.name == "img00.png":
            raise KeyError("two\nlines")

    result = run_batch(pairs, broken, progress=False)
    failed = [line for line in capsys.readouterr().err.splitlines() if "FAILED" in line]
    assert failed == [f"scorematch: FAILED {pairs[0][0]}: KeyError: 'two\\nlines'",
                      f"scorematch: FAILED {pairs[1][0]}: RuntimeError: finished without writing {pairs[1][1]}"]
    assert result.exit_code == 1 and not result.done


def test_interrupt_stops_the_batch_and_the_rerun_resumes(tmp_path, capsys):
    pairs = plan_outputs(_images(tmp_path / "in", 4), tmp_path / "out")

    def stop_at_third(inp, out):
        if inp.name == "img02.png":
            raise KeyboardInterrupt
        smooth_copy(inp, out)

    with pytest.raises(KeyboardInterrupt):
        run_batch(pairs, stop_at_third, progress=False)
    assert "interrupted: 2 written, 0 skipped, 0 failed, 2 not done" in capsys.readouterr().err
    assert [o.exists() for _, o in pairs] == [True, True, False, False]
    result = run_batch(pairs, smooth_copy, progress=False)
    assert len(result.skipped) == 2 and len(result.done) == 2


def test_two_worker_processes_write_the_same_bytes_as_one(tmp_path, capsys):
    files = _images(tmp_path / "in", 6)
    pids = tmp_path / "pids"
    pids.mkdir()
    serial = run_batch(plan_outputs(files, tmp_path / "one"), smooth_copy, progress=False)
    process = functools.partial(smooth_copy_noting_pid, pids)
    parallel = run_batch(plan_outputs(files, tmp_path / "two"), process, jobs=2, progress="lines")
    assert serial.exit_code == parallel.exit_code == 0 and len(parallel.done) == 6
    workers = {int(p.read_text()) for p in pids.iterdir()}
    assert len(list(pids.iterdir())) == 6 and os.getpid() not in workers  # all done in worker processes
    for f in files:
        assert (tmp_path / "two" / f.name).read_bytes() == (tmp_path / "one" / f.name).read_bytes()
    assert len(re.findall(r"^\[\d/6\] img0\d\.png", capsys.readouterr().err, flags=re.M)) == 6


def test_jobs_need_a_picklable_process(tmp_path):
    pairs = plan_outputs(_images(tmp_path / "in", 2), tmp_path / "out")
    with pytest.raises(TypeError, match="picklable"):
        run_batch(pairs, lambda i, o: None, jobs=2)


def test_piped_stderr_gets_one_line_per_file_with_time_left(tmp_path, capsys):
    pairs = plan_outputs(_images(tmp_path / "in", 3), tmp_path / "out")
    assert not sys.stderr.isatty()  # capsys: as when piped
    run_batch(pairs, smooth_copy)
    lines = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"\[1/3\] img00\.png \d+\.\d s \(done in ~\d+ s\)", lines[0])
    assert re.fullmatch(r"\[2/3\] img01\.png \d+\.\d s \(done in ~\d+ s\)", lines[1])
    assert re.fullmatch(r"\[3/3\] img02\.png \d+\.\d s", lines[2])
    assert lines[3:] == ["scorematch: 3 written, 0 skipped, 0 failed"]


def test_a_terminal_gets_a_bar_not_lines(tmp_path, capsys, monkeypatch):
    pairs = plan_outputs(_images(tmp_path / "in", 3), tmp_path / "out")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    run_batch(pairs, smooth_copy)
    err = capsys.readouterr().err
    assert "[1/3] img00.png" not in err and "0/3 [" in err and "file/s" in err  # tqdm's counter, in files
    assert err.rstrip().endswith("scorematch: 3 written, 0 skipped, 0 failed")


def test_bad_arguments(tmp_path):
    pairs = plan_outputs(_images(tmp_path / "in", 1), tmp_path / "out.png")
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        run_batch(pairs, smooth_copy, jobs=0)
    with pytest.raises(ValueError, match="progress must be"):
        run_batch(pairs, smooth_copy, progress="verbose")


@pytest.mark.slow
def test_torchrun_ranks_share_the_files_and_rank_0_reports(tmp_path):
    import json

    import torch.multiprocessing as mp
    from batch_jobs import batch_on_rank

    files = _images(tmp_path / "in", 5)
    (tmp_path / "pids").mkdir()
    mp.spawn(batch_on_rank, args=(2, str(tmp_path)), nprocs=2, join=True)
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for r, report in enumerate(reports):
        assert report["done"] == [str(f) for f in files]  # every rank returns the whole result
        ran_here = [f for f in files if int((tmp_path / "pids" / f"{f.stem}.pid").read_text()) == report["pid"]]
        assert ran_here == files[r::2]
    assert reports[0]["stderr"].splitlines()[-1] == "scorematch: 5 written, 0 skipped, 0 failed"
    assert re.search(r"^\[3/3\] img04\.png", reports[0]["stderr"], flags=re.M)
    assert reports[1]["stderr"] == ""  # rank 1 shows neither progress nor the summary
