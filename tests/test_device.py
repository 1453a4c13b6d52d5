"""`resolve_device` on machines with and without CUDA and MPS.

What a machine has is torch's answer (`torch.cuda.is_available`, `torch.backends.mps
.is_available`), faked here so that every combination runs on any machine and each expectation
is a literal, not the code's own if-chain again.
"""

import pytest
import torch

from coverhunter.device import resolve_device


@pytest.fixture
def machine(monkeypatch):
    """`machine(cuda=..., mps=...)` makes torch report those backends as (un)available."""

    def make(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return make


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [
        (True, True, "cuda"),
        (True, False, "cuda"),
        (False, True, "mps"),
        (False, False, "cpu"),
    ],
)
def test_auto_prefers_cuda_then_mps_then_cpu(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert resolve_device("auto") == torch.device(expected)


@pytest.mark.parametrize(("cuda", "mps"), [(True, True), (False, False)])
def test_cpu_is_always_there(machine, cuda, mps):
    machine(cuda=cuda, mps=mps)
    assert resolve_device("cpu") == torch.device("cpu")


def test_a_named_backend_that_is_there_is_taken_as_named(machine):
    machine(cuda=True, mps=True)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("mps") == torch.device("mps")


@pytest.mark.parametrize(
    ("name", "backend"), [("cuda", "CUDA"), ("cuda:1", "CUDA"), ("mps", "MPS")]
)
def test_a_missing_backend_is_named(machine, name, backend):
    machine(cuda=False, mps=False)
    with pytest.raises(ValueError, match=f"device='{name}' requested but {backend} is not"):
        resolve_device(name)


@pytest.mark.parametrize("name", ["gpu0", "xla", "meta"])
def test_unknown_name_is_named(machine, name):
    machine(cuda=True, mps=True)
    with pytest.raises(ValueError, match=f"device='{name}'"):
        resolve_device(name)
