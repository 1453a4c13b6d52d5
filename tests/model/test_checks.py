"""The config field checks: each names the field, its value and the rule it breaks."""

from dataclasses import dataclass

import pytest

from coverhunter.model.checks import check, check_at_least, check_choice, check_fraction


@dataclass
class _Settings:
    kernel_size: int = 5
    n_blocks: int = 1
    dropout: float = 0.1
    pooling: str = "gem"


def _checked(settings: _Settings) -> None:
    check(settings, "kernel_size", settings.kernel_size % 2 == 1, "must be odd")
    check_at_least(settings, ("n_blocks",), 1)
    check_fraction(settings, ("dropout",))
    check_choice(settings, "pooling", ("attentive", "gem"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kernel_size", 4, "kernel_size=4 must be odd"),
        ("n_blocks", 0, "n_blocks=0 must be >= 1"),
        ("dropout", 1.0, r"dropout=1.0 must be in \[0, 1\)"),
        ("dropout", -0.5, r"dropout=-0.5 must be in \[0, 1\)"),
        ("pooling", "max", r"pooling='max'; expected one of \('attentive', 'gem'\)"),
    ],
)
def test_a_bad_field_is_named_with_its_value_and_rule(field, value, message):
    _checked(_Settings())  # the defaults pass
    with pytest.raises(ValueError, match=f"^{message}$"):
        _checked(_Settings(**{field: value}))
