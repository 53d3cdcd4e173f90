import pytest
import torch

# Tests run many tiny ops: one thread avoids OpenMP spin costs (20x slower on a busy 2-core machine).
torch.set_num_threads(1)


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="run only the slow checks (marked 'slow')")


def pytest_configure(config):
    if config.getoption("--slow"):
        config.option.markexpr = "slow"


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
