"""Batch runs of the restoration commands: many inputs (files, folders, glob patterns) into an output folder,
resumable (an output that exists is skipped), a failing file reported in one line while the others go on, and
spread over worker processes (``jobs``) or ``torchrun`` ranks.

A command calls the three steps in turn::

    inputs = expand_inputs(args.inputs)                       # files, folders, globs -> files
    pairs = plan_outputs(inputs, args.output, suffix=suffix)  # (input, output) pairs
    result = run_batch(pairs, functools.partial(restore_file, settings), force=args.force, jobs=args.jobs)
    return result.exit_code

**The contract of ``process(input_path, output_path)``: it writes ``output_path`` atomically**, through
:func:`scorematch.io.atomic.atomic_path` (which :func:`scorematch.io.images.write_image` uses), so the file is
whole or absent whenever a run stops (an error, Ctrl-C, a killed job). :func:`run_batch` relies on it: an output
that exists counts as finished and is skipped by the next run, and :func:`run_batch` itself removes nothing.
"""

from __future__ import annotations

import concurrent.futures
import functools
import glob
import os
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from .. import distributed as dist_util
from ..io.images import IMAGE_SUFFIXES, list_images
from ..parallel import map_jobs, worker_pool
from ..validation import check_int

__all__ = ["expand_inputs", "plan_outputs", "run_batch", "BatchResult", "INPUT_SUFFIXES", "PROGRESS_MODES"]

#: Suffixes of the files that a folder or a glob pattern yields (compared in lower case).
INPUT_SUFFIXES = IMAGE_SUFFIXES + (".npy",)
#: Values of ``run_batch(progress=...)`` besides None (automatic) and False (off).
PROGRESS_MODES = ("bar", "lines")
_GLOB_CHARS = frozenset("*?[")
_DONE, _SKIPPED, _FAILED = "done", "skipped", "failed"

Pair = tuple[Path, Path]
Process = Callable[[Path, Path], object]


# ---------------------------------------------------------------------------------------------------- inputs


def expand_inputs(specs: Sequence[str | os.PathLike]) -> list[Path]:
    """The input files named by ``specs``: files, folders and glob patterns, in order, each file once.

    Parameters
    ----------
    specs : sequence of str or path-like
        Each one is an existing file (taken as it is, whatever its suffix), a folder (its image files, sorted,
        by the suffixes :data:`INPUT_SUFFIXES`; not its subfolders), or a glob pattern (``*.png``,
        ``photos/**/*.jpg``, where ``**`` spans subfolders; its matching image files, sorted).

    Returns
    -------
    list of Path
        Duplicates (the same file reached twice, however spelled) removed, the first kept.

    Raises
    ------
    ValueError
        No specs, or a spec that yields no file (named in the message).
    TypeError
        ``specs`` is one string rather than a list of them.
    """
    if isinstance(specs, (str, os.PathLike)):
        raise TypeError(f"specs must be a list of file names, folders or patterns, not one: {specs!r}")
    if not specs:
        raise ValueError("no input files given")
    return _unique([path for spec in specs for path in _expand(spec)])


def _expand(spec: str | os.PathLike) -> list[Path]:
    """The files of one spec (a file, a folder or a glob pattern); error if none."""
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        return list_images(path)  # its error (ImageFileError, a ValueError) names the folder
    if _GLOB_CHARS & set(str(spec)):
        found = [Path(p) for p in glob.glob(str(spec), recursive=True)]
        files = sorted(p for p in found if p.suffix.lower() in INPUT_SUFFIXES and p.is_file())
        if not files:
            raise ValueError(f"{spec}: the pattern matches no image files ({', '.join(INPUT_SUFFIXES)})")
        return files
    raise ValueError(f"{spec}: no such file or folder")


def _unique(paths: list[Path]) -> list[Path]:
    """``paths`` without repeats of the same file (compared resolved), in order."""
    seen: set[Path] = set()
    out = []
    for path in paths:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


# --------------------------------------------------------------------------------------------------- outputs


def plan_outputs(
    inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, suffix: str | None = None
) -> list[Pair]:
    """Pair each input with its output file.

    Parameters
    ----------
    inputs : sequence of path-like
        The input files (:func:`expand_inputs`).
    out : path-like
        With one input, an ``out`` that has a suffix and is not an existing folder is the output file itself
        (``suffix`` is then not used). Otherwise ``out`` is a folder, created if needed, and input
        ``dir/name.ext`` goes to ``out/name`` + (``suffix`` or ``.ext``).
    suffix : str, optional
        The output format of a folder, e.g. ``".png"`` or ``"png"`` (one of :data:`INPUT_SUFFIXES`); default:
        each input's own suffix.

    Returns
    -------
    list of (input, output) Path pairs, in the order of ``inputs``

    Raises
    ------
    ValueError
        No inputs; ``out`` is an existing file (or names an image file that does not exist yet) while several
        inputs need a folder; two inputs would write the same output (both named); an output would overwrite
        an input; an unknown ``suffix``.
    """
    inputs = [Path(p) for p in inputs]
    out = Path(out)
    if not inputs:
        raise ValueError("no input files given")
    if len(inputs) == 1 and out.suffix and not out.is_dir():
        return [(inputs[0], out)]
    suffix = _check_suffix(suffix)
    _check_folder(out, len(inputs))
    pairs = [(p, out / (p.stem + (suffix or p.suffix))) for p in inputs]
    _check_clashes(pairs)
    out.mkdir(parents=True, exist_ok=True)
    return pairs


def _check_suffix(suffix: str | None) -> str | None:
    """``suffix`` with its leading dot; error if it is no image format."""
    if suffix is None:
        return None
    suffix = suffix if suffix.startswith(".") else f".{suffix}"
    if suffix.lower() not in INPUT_SUFFIXES:
        raise ValueError(f"unsupported output suffix {suffix!r}; use one of {', '.join(INPUT_SUFFIXES)}")
    return suffix


def _check_folder(out: Path, n_inputs: int) -> None:
    """Error if ``out`` cannot be the output folder of ``n_inputs`` inputs."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {out} is a file, but the {n_inputs} inputs need an output folder")
    if not out.exists() and out.suffix.lower() in INPUT_SUFFIXES:
        raise ValueError(f"output {out} names an image file, but the {n_inputs} inputs need an output folder")


def _check_clashes(pairs: list[Pair]) -> None:
    """Error if two inputs share an output, or an output is one of the inputs."""
    by_output: dict[Path, Path] = {}
    for inp, output in pairs:
        if output in by_output:
            raise ValueError(f"{by_output[output]} and {inp} would both be written to {output}; "
                             "rename one, or run them into different output folders")
        by_output[output] = inp
    inputs = {inp.resolve(): inp for inp, _ in pairs}
    for inp, output in pairs:
        if output.resolve() in inputs:
            raise ValueError(f"the output of {inp} would overwrite the input {inputs[output.resolve()]}; "
                             "choose another output folder or suffix")


# -------------------------------------------------------------------------------------------------- running


@dataclass
class BatchResult:
    """What :func:`run_batch` did, in the order of its pairs.

    Attributes
    ----------
    done : list of (input, output) Path pairs
        Written by this run.
    skipped : list of (input, output) Path pairs
        Their output existed already (not redone without ``force``).
    failed : list of (input, message) pairs
        ``process`` raised; the message is one line.
    """

    done: list[Pair] = field(default_factory=list)
    skipped: list[Pair] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every file was written or skipped, 1 when some failed."""
        return 1 if self.failed else 0

    def summary(self) -> str:
        """``"19 written, 0 skipped, 1 failed"``."""
        return f"{len(self.done)} written, {len(self.skipped)} skipped, {len(self.failed)} failed"


@dataclass(frozen=True)
class _Outcome:
    """One pair's fate: its index among the pairs, status, seconds spent, and the error message of a failure."""

    index: int
    pair: Pair
    status: str
    seconds: float = 0.0
    message: str = ""


def run_batch(
    pairs: Sequence[tuple[str | os.PathLike, str | os.PathLike]], process: Process, *, force: bool = False,
    jobs: int = 1, progress: bool | str | None = None,
) -> BatchResult:
    """Call ``process(input_path, output_path)`` for each pair whose output does not exist yet.

    Parameters
    ----------
    pairs : sequence of (input, output) path pairs
        From :func:`plan_outputs`.
    process : callable
        ``process(input_path, output_path)`` with two Paths; it **must write ``output_path`` atomically**
        (:func:`scorematch.io.atomic.atomic_path`; :func:`scorematch.io.images.write_image` does), so an output
        that exists is finished. Any ``Exception`` it raises fails that file alone: one line
        ``scorematch: FAILED <input>: <message>`` on stderr, and the batch goes on. With ``jobs > 1`` it must
        be picklable: a module-level function or a ``functools.partial`` of one.
    force : bool
        Redo the pairs whose output exists (default: skip them, so a rerun resumes an interrupted batch).
    jobs : int
        Worker processes (spawned, each with ``cpu_count // jobs`` torch threads; see
        :func:`scorematch.parallel.worker_pool`); the outputs are those of ``jobs=1`` when ``process`` gives the
        same result whatever the thread count. Under a ``torchrun`` launch (a process group initialised by
        :func:`scorematch.distributed.init_from_env`), rank ``r`` takes ``pairs[r::world]`` (with ``jobs``
        workers of its own), every rank returns the whole result and rank 0 alone shows progress and the summary.
    progress : {None, False, "bar", "lines"}
        Per-file progress on stderr. None: a tqdm bar over the files when stderr is a terminal, else one line per
        written file with its time and an estimate of the time left, ``[3/20] photo3.png 4.1 s (done in ~1 min)``
        (piped output and CI logs are not silent). False: none (failures and the summary are still shown).

    Returns
    -------
    BatchResult
        ``exit_code`` 0 when every file was written or skipped, 1 when some failed. The summary line
        ``scorematch: 19 written, 0 skipped, 1 failed`` goes to stderr.

    Raises
    ------
    KeyboardInterrupt
        Ctrl-C stops the batch (after a summary line of what is finished, which a rerun skips); with ``jobs > 1``
        the workers' current files finish first unless they were interrupted too.
    TypeError
        ``jobs > 1`` and ``process`` cannot be pickled.
    RuntimeError
        A worker process died (killed, out of memory); the finished outputs stay.
    """
    pairs = [(Path(inp), Path(out)) for inp, out in pairs]
    jobs = check_int("jobs", jobs, minimum=1)
    mode = _progress_mode(progress)
    if jobs > 1:
        _check_picklable(process, jobs)
    world, main = dist_util.world_size(), dist_util.is_main_process()
    shares = [list(enumerate(pairs))[r::world] for r in range(world)]
    run_share = functools.partial(_run_share, process=process, force=force, jobs=jobs,
                                  mode=mode if main else "off", main=main)
    outcomes = [o for share in map_jobs(run_share, shares) for o in share]  # each rank runs its own share
    result = _result(outcomes)
    if main:
        print(f"scorematch: {result.summary()}", file=sys.stderr, flush=True)
    return result


def _progress_mode(progress: bool | str | None) -> str:
    """``"bar"``, ``"lines"`` or ``"off"`` for ``progress`` (None: a bar on a terminal, else lines)."""
    if progress is None or progress is True:
        isatty = getattr(sys.stderr, "isatty", None)
        return "bar" if isatty is not None and isatty() else "lines"
    if progress is False:
        return "off"
    if progress in PROGRESS_MODES:
        return progress
    raise ValueError(f"progress must be None, False, 'bar' or 'lines', got {progress!r}")


def _check_picklable(process: Process, jobs: int) -> None:
    try:
        pickle.dumps(process)
    except Exception as exc:
        raise TypeError(f"with jobs={jobs} the process function goes to worker processes and must be picklable "
                        f"(a module-level function or a functools.partial of one); {process!r} is not: {exc}") from None


def _result(outcomes: list[_Outcome]) -> BatchResult:
    """The outcomes, in the order of the pairs, as a :class:`BatchResult`."""
    result = BatchResult()
    for o in sorted(outcomes, key=lambda o: o.index):
        if o.status == _FAILED:
            result.failed.append((o.pair[0], o.message))
        else:
            (result.done if o.status == _DONE else result.skipped).append(o.pair)
    return result


def _run_share(share: list[tuple[int, Pair]], *, process: Process, force: bool, jobs: int, mode: str,
               main: bool) -> list[_Outcome]:
    """Run one rank's (index, pair) share: skip the finished outputs, process the others, report each."""
    outcomes = []
    todo = []
    for index, pair in share:
        if not force and pair[1].exists():
            outcomes.append(_Outcome(index, pair, _SKIPPED))
        else:
            todo.append((index, pair))
    reporter = _Reporter(len(todo), mode)

    def finished(outcome: _Outcome) -> None:
        outcomes.append(outcome)
        reporter.finished(outcome)

    try:
        _process_all(process, todo, jobs, finished)
    except KeyboardInterrupt:
        reporter.close()
        if main:
            left = len(todo) - reporter.count
            print(f"scorematch: interrupted: {_result(outcomes).summary()}, {left} not done (run again to resume)",
                  file=sys.stderr, flush=True)
        raise
    reporter.close()
    return outcomes


def _process_all(process: Process, todo: list[tuple[int, Pair]], jobs: int,
                 finished: Callable[[_Outcome], None]) -> None:
    """``finished(outcome)`` for each pair of ``todo`` once processed: here, or over ``jobs`` worker processes."""
    if jobs == 1 or len(todo) <= 1:
        for index, pair in todo:
            finished(_attempt(process, index, pair))
        return
    with worker_pool(jobs, len(todo)) as pool:
        waiting = iter(todo)
        running: dict[concurrent.futures.Future, tuple[int, Pair]] = {}

        def submit_next() -> None:  # one file per free worker: nothing queued that Ctrl-C would leave running
            item = next(waiting, None)
            if item is not None:
                running[pool.submit(_attempt, process, *item)] = item

        for _ in range(jobs):
            submit_next()
        while running:
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                index, pair = running.pop(future)
                finished(_worker_outcome(future, index, pair))
                submit_next()


def _worker_outcome(future: concurrent.futures.Future, index: int, pair: Pair) -> _Outcome:
    """The outcome a worker returned; error if the worker died."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise RuntimeError(f"a worker process died (killed, or out of memory?) while processing {pair[0]}; "
                           "the finished outputs are kept: run again to resume") from None


def _attempt(process: Process, index: int, pair: Pair) -> _Outcome:
    """``process(*pair)``, timed; any Exception it raises (or a missing output) is a failed outcome."""
    start = time.perf_counter()
    try:
        process(*pair)
        if not pair[1].exists():
            raise RuntimeError(f"finished without writing {pair[1]}")
    except Exception as exc:
        return _Outcome(index, pair, _FAILED, time.perf_counter() - start, _one_line(exc, pair[0]))
    return _Outcome(index, pair, _DONE, time.perf_counter() - start)


def _one_line(exc: Exception, path: Path) -> str:
    """The error message on one line, without a leading ``path:`` (the FAILED line names the file); the
    exception's type first unless it is a user-facing error (ValueError, OSError) or has no message."""
    text = " ".join(str(exc).split())
    text = text.removeprefix(f"{path}: ") or type(exc).__name__
    if not isinstance(exc, (ValueError, OSError)) and text != type(exc).__name__:
        text = f"{type(exc).__name__}: {text}"
    return text


# ------------------------------------------------------------------------------------------------- progress


class _Reporter:
    """FAILED lines, and per-file progress (``mode``: a tqdm ``"bar"``, ``"lines"`` or ``"off"``), on stderr."""

    def __init__(self, total: int, mode: str) -> None:
        self.total, self.mode, self.count = total, mode, 0
        self.start = time.perf_counter()
        self.bar = None
        if mode == "bar" and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="file", desc="scorematch", file=sys.stderr, leave=False,
                            dynamic_ncols=True)

    def finished(self, outcome: _Outcome) -> None:
        self.count += 1
        if outcome.status == _FAILED:
            self._write(f"scorematch: FAILED {outcome.pair[0]}: {outcome.message}")
        if self.bar is not None:
            self.bar.update(1)
        elif self.mode == "lines" and outcome.status == _DONE:
            self._write(self._line(outcome))

    def _line(self, outcome: _Outcome) -> str:
        """``[3/20] photo3.png 4.1 s (done in ~1 min)``: the file's time, and the time left at the rate so far."""
        line = f"[{self.count}/{self.total}] {outcome.pair[0].name} {_seconds(outcome.seconds)}"
        left = self.total - self.count
        if left:
            rate = (time.perf_counter() - self.start) / self.count  # wall seconds per file, all workers together
            line += f" (done in {_estimate(rate * left)})"
        return line

    def _write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)  # above the bar, which is redrawn below
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _seconds(t: float) -> str:
    """A file's time: ``4.1 s``, ``2.5 min``."""
    return f"{t:.1f} s" if t < 60 else f"{t / 60:.1f} min"


def _estimate(t: float) -> str:
    """A rough time left: ``~12 s``, ``~3 min``, ``~2 h 05 min``."""
    if t < 60:
        return f"~{max(1, round(t))} s"
    if t < 3600:
        return f"~{round(t / 60)} min"
    hours, minutes = divmod(round(t / 60), 60)
    return f"~{hours} h {minutes:02d} min"
