"""map_jobs: worker processes give exactly the serial results."""

import sys
from pathlib import Path

import pytest

from scorematch.parallel import map_jobs

sys.path.insert(0, str(Path(__file__).parents[1] / "helpers"))
from parallel_jobs import train_one  # noqa: E402


def test_worker_processes_match_serial_run():
    lams = [0.0, 1e-3, 1e-2]
    serial = map_jobs(train_one, lams, jobs=1)
    parallel = map_jobs(train_one, lams, jobs=2)
    assert parallel == serial  # bitwise: each run seeds itself


def test_bad_jobs_is_rejected():
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        map_jobs(train_one, [0.0], jobs=0)
