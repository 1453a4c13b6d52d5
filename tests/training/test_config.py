import pytest

from coverhunter.training.config import TrainingConfig


def test_yaml_style_values_become_a_config():
    config = TrainingConfig(**{"betas": [0.8, 0.99], "max_steps": 20})
    assert config.betas == (0.8, 0.99) and config.max_steps == 20
    assert TrainingConfig(**config.to_dict()) == config


@pytest.mark.parametrize(
    "field,value",
    [("lr", 0.0), ("lr_decay", 1.5), ("max_steps", 0), ("grad_clip", -1.0), ("amp_dtype", "fp8"),
     ("early_stopping_patience", -2), ("betas", (0.9,))],
)  # fmt: skip
def test_bad_values_are_named(field, value):
    with pytest.raises(ValueError, match=field):
        TrainingConfig(**{field: value})


def test_unknown_key_is_a_type_error():
    with pytest.raises(TypeError):
        TrainingConfig(**{"learning_rate": 1e-3})
