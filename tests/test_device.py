import pytest
import torch

from coverhunter.device import resolve_device


def _mps() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def test_auto_prefers_cuda_then_mps_then_cpu():
    expected = "cuda" if torch.cuda.is_available() else "mps" if _mps() else "cpu"
    assert resolve_device("auto").type == expected


def test_cpu_is_always_there():
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_named():
    with pytest.raises(ValueError, match="device='cuda:1'.*CUDA is not available"):
        resolve_device("cuda:1")


def test_unknown_name_is_named():
    with pytest.raises(ValueError, match="device='gpu0'"):
        resolve_device("gpu0")
