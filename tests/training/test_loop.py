from dataclasses import dataclass

import pytest
import torch

from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.losses import CoverHunterLoss, LossConfig
from coverhunter.training.checkpoint import load_checkpoint
from coverhunter.training.config import TrainingConfig
from coverhunter.training.loop import train
from coverhunter.training.metric_logging import MemoryMetricLogger
from coverhunter.training.schedule import get_lr

N_WORKS, K_ITEMS, FRAMES, N_BINS = 3, 2, 40, 96


@dataclass
class ToyBatch:
    cqt: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor


class ToyBatches:
    """Every work's chunks share a spectral tilt; deterministic in (seed, step)."""

    n_classes = N_WORKS
    class_counts = torch.tensor([4.0, 2.0, 2.0])

    def __init__(self, seed: int = 0, kill_at: int | None = None):
        self.seed = seed
        self.kill_at = kill_at

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> ToyBatch:
        if step == self.kill_at:
            raise Killed(step)
        generator = torch.Generator().manual_seed(self.seed * 10_000 + step)
        labels = torch.arange(N_WORKS).repeat_interleave(K_ITEMS)
        tilt = torch.linspace(-1, 1, N_BINS)
        cqt = torch.randn(len(labels), FRAMES, N_BINS, generator=generator)
        cqt += 2.0 * (labels.view(-1, 1, 1) - 1) * tilt
        lengths = torch.randint(20, FRAMES + 1, (len(labels),), generator=generator)
        for row, length in enumerate(lengths):
            cqt[row, length:] = 0.0
        return ToyBatch(cqt, lengths, labels)


class Killed(Exception):
    pass


def _model(seed: int) -> CoverHunter:
    config = CoverHunterConfig(
        d_model=16, n_heads=2, ffn_dim=32, n_blocks=1, kernel_size=5, embedding_dim=8,
        n_classes=N_WORKS, dropout=0.2, pool_mask_prob=0.3,
    )  # fmt: skip
    return CoverHunter(config, generator=torch.Generator().manual_seed(seed))


def _loss(seed: int) -> CoverHunterLoss:
    return CoverHunterLoss(
        LossConfig(), N_WORKS, 8, ToyBatches.class_counts, torch.Generator().manual_seed(seed)
    )


def _config(**overrides) -> TrainingConfig:
    settings = dict(max_steps=6, checkpoint_every=3, validate_every=0, log_every=1, device="cpu")
    settings.update(overrides)
    return TrainingConfig(**settings)


def _parameters(model, loss_fn) -> dict[str, torch.Tensor]:
    return {**model.state_dict(), **{f"loss.{k}": v for k, v in loss_fn.state_dict().items()}}


def test_killed_run_resumed_from_checkpoint_ends_identical(tmp_path):
    reference_loss = _loss(1)
    reference = train(
        _model(0), reference_loss, ToyBatches(), _config(), checkpoint_dir=tmp_path / "a"
    )

    with pytest.raises(Killed):
        train(_model(0), _loss(1), ToyBatches(kill_at=4), _config(), checkpoint_dir=tmp_path / "b")
    (saved,) = (tmp_path / "b").glob("checkpoint-*.pt")
    checkpoint = load_checkpoint(saved)
    assert checkpoint["step"] == 3 and not checkpoint["finished"]

    # A fresh process would build the model from scratch: a different init proves the resume.
    resumed_loss = _loss(7)
    resumed = train(_model(5), resumed_loss, ToyBatches(), _config(), checkpoint_dir=tmp_path / "b")

    assert resumed.steps == reference.steps == 6
    expected = _parameters(reference.model, reference_loss)
    actual = _parameters(resumed.model, resumed_loss)
    assert expected.keys() == actual.keys()
    assert all(torch.equal(expected[k], actual[k]) for k in expected)
    assert [h["loss/total"] for h in resumed.history] == [
        h["loss/total"] for h in reference.history
    ]
    assert load_checkpoint(saved)["finished"]


def test_finished_checkpoint_is_not_reused_and_changed_settings_get_their_own(tmp_path):
    first = train(_model(0), _loss(1), ToyBatches(), _config(), checkpoint_dir=tmp_path)
    again = train(_model(0), _loss(1), ToyBatches(), _config(), checkpoint_dir=tmp_path)
    assert [h["step"] for h in again.history] == [1, 2, 3, 4, 5, 6]
    assert again.checkpoint_path == first.checkpoint_path
    other = train(_model(0), _loss(1), ToyBatches(), _config(lr=5e-4), checkpoint_dir=tmp_path)
    assert other.checkpoint_path != first.checkpoint_path
    longer = _config(max_steps=8)
    assert (
        train(_model(0), _loss(1), ToyBatches(), longer, checkpoint_dir=tmp_path / "x").steps == 8
    )


def test_best_model_is_kept_and_early_stopping_counts_validations(tmp_path):
    scores = iter([0.5, 0.7, 0.6, 0.65, 0.9])
    seen = []

    def validate(model):
        assert not model.training
        seen.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(scores)

    config = _config(validate_every=1, early_stopping_patience=2, checkpoint_every=0)
    result = train(
        _model(0), _loss(1), ToyBatches(), config, checkpoint_dir=tmp_path, validate=validate
    )
    assert result.stopped_early and result.steps == 4
    assert (result.best_step, result.best_metric) == (2, 0.7)
    best = result.model.state_dict()
    assert all(torch.equal(best[k], seen[1][k]) for k in best)
    assert not all(torch.equal(best[k], seen[3][k]) for k in best)
    assert [h["val/mAP"] for h in result.history] == [0.5, 0.7, 0.6, 0.65]
    assert load_checkpoint(result.checkpoint_path)["finished"]


def test_metrics_and_params_reach_the_logger(tmp_path):
    metric_logger = MemoryMetricLogger()
    config = _config(lr_decay=0.5, lr_decay_every=2, log_every=2, validate_every=3)
    train(
        _model(0), _loss(1), ToyBatches(), config, checkpoint_dir=tmp_path,
        validate=lambda model: 0.25, logger=metric_logger,
    )  # fmt: skip
    steps = [step for step, _ in metric_logger.metrics]
    assert steps == [2, 3, 4, 6]
    by_step = dict(metric_logger.metrics)
    losses = {"loss/total", "loss/focal", "loss/center", "loss/triplet"}
    assert losses | {"lr", "samples_per_s", "grad_norm"} <= by_step[2].keys()
    assert set(by_step[3]) == {"val/mAP"} and by_step[3]["val/mAP"] == 0.25
    assert "val/mAP" in by_step[6] and "loss/total" in by_step[6]
    # Logged at step 4 is the lr of the 4th optimizer step, index 3: 1e-3 * 0.5 ** 1.
    assert by_step[4]["lr"] == pytest.approx(get_lr(3, config)) == pytest.approx(5e-4)
    parts = by_step[2]
    total = parts["loss/focal"] + 0.01 * parts["loss/center"] + 0.1 * parts["loss/triplet"]
    assert parts["loss/total"] == pytest.approx(total, rel=1e-5)
    assert metric_logger.params["n_parameters"] == _model(0).num_parameters()
    assert metric_logger.params["train.lr_decay"] == 0.5


def test_training_lowers_the_loss_and_returns_cpu_eval_model(tmp_path):
    config = _config(max_steps=12, lr=3e-3, log_every=3, checkpoint_every=0)
    result = train(_model(0), _loss(1), ToyBatches(), config, checkpoint_dir=tmp_path)
    losses = [h["loss/total"] for h in result.history]
    assert losses[-1] < losses[0]
    assert not result.model.training
    assert all(p.device.type == "cpu" for p in result.model.parameters())


def test_class_count_mismatch_is_named(tmp_path):
    model = CoverHunter(CoverHunterConfig(d_model=16, n_heads=2, n_blocks=1, n_classes=5))
    with pytest.raises(ValueError, match="n_classes differ"):
        train(model, _loss(1), ToyBatches(), _config(), checkpoint_dir=tmp_path)


def _scores(values):
    """A validator that scores the models it is given `values` in turn (a real model's mAP
    would need a collection; what is tested here is which model the loop keeps)."""
    remaining = list(values)
    return lambda model: remaining.pop(0)


@pytest.mark.parametrize(("scores", "best_step"), [([0.9, 0.5, 0.6], 0), ([0.4, 0.5, 0.6], 6)])
def test_a_warm_start_is_kept_when_no_step_validates_better(tmp_path, scores, best_step):
    start = _model(0)
    before = {k: v.clone() for k, v in start.state_dict().items()}
    config = _config(validate_every=3, checkpoint_every=0)
    result = train(
        start, _loss(1), ToyBatches(), config, checkpoint_dir=tmp_path,
        validate=_scores(scores), validate_start=True,
    )  # fmt: skip
    assert result.best_step == best_step and result.best_metric == max(scores)
    assert [(h["step"], h["val/mAP"]) for h in result.history if "val/mAP" in h] == list(
        zip([0, 3, 6], scores, strict=True)
    )
    kept = result.model.state_dict()
    assert all(torch.equal(kept[k], before[k]) for k in before) == (best_step == 0)


def test_without_validate_start_step_zero_is_not_scored(tmp_path):
    config = _config(validate_every=3, checkpoint_every=0)
    result = train(
        _model(0), _loss(1), ToyBatches(), config, checkpoint_dir=tmp_path,
        validate=_scores([0.5, 0.4]),
    )  # fmt: skip
    assert result.best_step == 3
    assert [h["step"] for h in result.history if "val/mAP" in h] == [3, 6]


def test_prepare_runs_once_on_a_fresh_run_and_a_resume_takes_its_work_from_the_checkpoint(
    tmp_path,
):
    calls = []

    def prepare(model, loss_fn, device):
        calls.append(device.type)
        with torch.no_grad():  # a head set before the first step, as an imprint sets it
            model.classifier.weight.fill_(0.25)

    reference_loss = _loss(1)
    reference = train(
        _model(0), reference_loss, ToyBatches(), _config(), checkpoint_dir=tmp_path / "a",
        prepare=prepare,
    )  # fmt: skip
    assert calls == ["cpu"]
    unprepared = train(_model(0), _loss(1), ToyBatches(), _config(), checkpoint_dir=tmp_path / "c")
    assert not torch.equal(unprepared.model.classifier.weight, reference.model.classifier.weight)

    with pytest.raises(Killed):
        train(
            _model(0), _loss(1), ToyBatches(kill_at=4), _config(), checkpoint_dir=tmp_path / "b",
            prepare=prepare,
        )  # fmt: skip
    assert calls == ["cpu", "cpu"]
    resumed_loss = _loss(7)
    resumed = train(
        _model(5), resumed_loss, ToyBatches(), _config(), checkpoint_dir=tmp_path / "b",
        prepare=prepare,
    )  # fmt: skip
    assert calls == ["cpu", "cpu"]  # the resume never re-prepares: its head is the checkpoint's
    expected = _parameters(reference.model, reference_loss)
    actual = _parameters(resumed.model, resumed_loss)
    assert all(torch.equal(expected[k], actual[k]) for k in expected)
