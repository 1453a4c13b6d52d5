import pytest

from coverhunter.training.config import TrainingConfig
from coverhunter.training.schedule import get_lr


def test_paper_schedule_decays_by_0_95_every_1000_steps():
    config = TrainingConfig()
    assert get_lr(0, config) == pytest.approx(1e-3)
    assert get_lr(999, config) == pytest.approx(1e-3)
    assert get_lr(1000, config) == pytest.approx(9.5e-4)
    assert get_lr(2500, config) == pytest.approx(1e-3 * 0.95 * 0.95)


def test_floor_stops_the_decay():
    config = TrainingConfig(lr=1e-3, lr_decay=0.5, lr_decay_every=1, lr_floor=1e-4)
    assert get_lr(3, config) == pytest.approx(1.25e-4)
    assert get_lr(4, config) == pytest.approx(1e-4)
    assert get_lr(50, config) == pytest.approx(1e-4)


def test_negative_step_is_named():
    with pytest.raises(ValueError, match="step=-1"):
        get_lr(-1, TrainingConfig())
