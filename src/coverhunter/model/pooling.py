"""Time pooling: frame embeddings (B,T,C) plus a padding mask -> one vector per chunk.

Every pooling takes ``(x, padding_mask)`` with ``padding_mask`` ``True`` at padded frames and
never lets a padded frame change its output. Each exposes ``out_dim``; the model's linear
bottleneck maps that to the embedding size.

- ``AttentiveStatisticsPooling``: the paper's time-domain pooling (Section II-B, Fig. 2c).
- ``GeMPooling``: generalised mean (ByteCover), the paper's ablation baseline.
- ``MeanPooling``: masked average.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["POOLINGS", "AttentiveStatisticsPooling", "GeMPooling", "MeanPooling", "build_pooling"]

POOLINGS = ("attentive", "gem", "mean")

# Variance floor before the square root: keeps std differentiable on constant channels.
_VARIANCE_FLOOR = 1e-12


def _masked_mean_std(x: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean and std over time.

    Args:
        x: (B,T,C).
        weights: (B,T,C) or (B,T,1), summing to 1 over T, zero at padded frames.

    Returns:
        mean (B,C), std (B,C).
    """
    mean = (weights * x).sum(dim=1)
    variance = (weights * (x - mean.unsqueeze(1)).pow(2)).sum(dim=1)
    return mean, variance.clamp(min=_VARIANCE_FLOOR).sqrt()


def _uniform_weights(padding_mask: torch.Tensor) -> torch.Tensor:
    """(B,T) bool padding mask -> (B,T,1) weights 1/length on valid frames, 0 on padding."""
    valid = (~padding_mask).float()
    return (valid / valid.sum(dim=1, keepdim=True)).unsqueeze(-1)


class AttentiveStatisticsPooling(nn.Module):
    """Attentive statistics pooling per channel, as CoverHunter redesigns it.

    concat [x, mean, std] -> Linear(3C, C) -> tanh -> 1x1 conv (C, C) -> softmax over time, per
    channel -> attention-weighted mean and std, concatenated: (B,T,C) -> (B,2C).

    In training, each attention logit (frame, channel) is dropped with probability
    ``mask_prob`` before the softmax (the paper's "random mask" in the self-attention layer;
    the authors' code has none, i.e. 0.0). A channel never loses all its valid frames: where
    that would happen the draw is ignored for that channel.

    Statistics are computed in float32 even under autocast.
    """

    def __init__(self, channels: int, mask_prob: float = 0.0):
        super().__init__()
        if not 0.0 <= mask_prob < 1.0:
            raise ValueError(f"mask_prob={mask_prob} must be in [0, 1)")
        self.mask_prob = mask_prob
        self.out_dim = 2 * channels
        self.linear = nn.Linear(3 * channels, channels)
        self.conv = nn.Conv1d(channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """x: (B,T,C), padding_mask: (B,T) bool -> (B,2C)."""
        assert x.ndim == 3 and padding_mask.shape == x.shape[:2], (x.shape, padding_mask.shape)
        x = x.float().masked_fill(padding_mask.unsqueeze(-1), 0.0)  # padding may hold NaN/inf
        mean, std = _masked_mean_std(x, _uniform_weights(padding_mask))
        frames = x.shape[1]
        context = torch.cat(
            [x, mean.unsqueeze(1).expand(-1, frames, -1), std.unsqueeze(1).expand(-1, frames, -1)],
            dim=-1,
        )  # (B,T,3C)
        hidden = torch.tanh(self.linear(context))
        logits = self.conv(hidden.transpose(1, 2)).transpose(1, 2).float()  # (B,T,C)
        blocked = padding_mask.unsqueeze(-1).expand_as(logits)
        if self.training and self.mask_prob > 0.0:
            dropped = torch.rand_like(logits) < self.mask_prob
            dropped = dropped & ~blocked
            # Keep a channel's draw only if it leaves at least one valid frame.
            survives = (~(blocked | dropped)).any(dim=1, keepdim=True)  # (B,1,C)
            blocked = blocked | (dropped & survives)
        weights = torch.softmax(logits.masked_fill(blocked, float("-inf")), dim=1)
        mean, std = _masked_mean_std(x, weights)
        return torch.cat([mean, std], dim=-1)


class GeMPooling(nn.Module):
    """Generalised mean over valid frames, ``(mean_t clamp(x, eps)^p)^(1/p)`` with learnable p.

    Inputs are clamped to ``eps`` because GeM is defined for positive activations (ByteCover
    applies it after a ReLU CNN); (B,T,C) -> (B,C).
    """

    def __init__(self, channels: int, p: float = 3.0, eps: float = 1e-6):
        super().__init__()
        if p <= 0:
            raise ValueError(f"gem p={p} must be positive")
        self.out_dim = channels
        self.eps = eps
        self.p = nn.Parameter(torch.tensor(float(p)))

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """x: (B,T,C), padding_mask: (B,T) bool -> (B,C)."""
        assert x.ndim == 3 and padding_mask.shape == x.shape[:2], (x.shape, padding_mask.shape)
        x = x.float().masked_fill(padding_mask.unsqueeze(-1), 1.0).clamp(min=self.eps)
        pooled = (_uniform_weights(padding_mask) * x.pow(self.p)).sum(dim=1)
        return pooled.pow(1.0 / self.p)


class MeanPooling(nn.Module):
    """Average over valid frames; (B,T,C) -> (B,C)."""

    def __init__(self, channels: int):
        super().__init__()
        self.out_dim = channels

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """x: (B,T,C), padding_mask: (B,T) bool -> (B,C)."""
        assert x.ndim == 3 and padding_mask.shape == x.shape[:2], (x.shape, padding_mask.shape)
        x = x.float().masked_fill(padding_mask.unsqueeze(-1), 0.0)
        return (_uniform_weights(padding_mask) * x).sum(dim=1)


def build_pooling(
    kind: str, channels: int, *, mask_prob: float = 0.0, gem_p: float = 3.0
) -> AttentiveStatisticsPooling | GeMPooling | MeanPooling:
    """The pooling named ``kind`` (one of ``POOLINGS``) over ``channels`` input channels."""
    if kind == "attentive":
        return AttentiveStatisticsPooling(channels, mask_prob=mask_prob)
    if kind == "gem":
        return GeMPooling(channels, p=gem_p)
    if kind == "mean":
        return MeanPooling(channels)
    raise ValueError(f"pooling={kind!r}; expected one of {POOLINGS}")
