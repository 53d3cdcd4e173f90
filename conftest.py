"""What the library's tests (``tests/``) and the research package's (``paper/tests/``) share: one torch thread, and
the ``--slow`` option (run only the checks marked ``slow``; without it, ``-m 'not slow'`` of pyproject.toml leaves
them out)."""

import torch

# Tests run many tiny ops: one thread avoids OpenMP spin costs (20x slower on a busy 2-core machine).
torch.set_num_threads(1)


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="run only the slow checks (marked 'slow')")


def pytest_configure(config):
    if config.getoption("--slow"):
        config.option.markexpr = "slow"
