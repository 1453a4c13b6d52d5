import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_two_gloo_ranks_end_with_identical_parameters(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(WORKER), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    initial = torch.load(tmp_path / "init.pt", weights_only=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert rank0["state"].keys() == rank1["state"].keys() == initial.keys()
    assert "loss.center.centers" in initial
    for name, value in rank0["state"].items():
        assert torch.equal(value, rank1["state"][name]), name
    moved = [k for k, v in initial.items() if v.is_floating_point()]
    assert not torch.equal(initial["loss.center.centers"], rank0["state"]["loss.center.centers"])
    assert all(not torch.equal(initial[k], rank0["state"][k]) for k in moved if "weight" in k)
    # Rank 0 alone logs: its history has the losses; rank 1 records nothing.
    assert len(rank0["history"]) == 3 and rank1["history"] == []
    # Rank 0's validation score (0.0) reached rank 1, whose own callback is never run.
    assert [h["val/mAP"] for h in rank0["history"]] == [0.0, 0.0, 0.0]
    assert len(list((tmp_path / "checkpoints").glob("checkpoint-*.pt"))) == 1


def test_torchrun_entry_names_a_missing_target():
    from coverhunter.training.distributed import main

    with pytest.raises(ValueError, match="MODULE:FUNCTION"):
        main(["not_a_target"])
