import pytest
import torch

# One torch thread and the --slow option: the repository's conftest.py (../conftest.py), shared with paper/tests.

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
