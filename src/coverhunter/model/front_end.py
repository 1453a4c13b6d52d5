"""What the network sees of the CQT: the paper's log-CQT, or key-invariant chroma lags.

A cover is often in another key, a circular shift of its chroma. The paper teaches the model that
invariance with a pitch-shift augmentation (random rolls of up to 12 semitones); on CPU budgets
that augmentation stops learning outright (README, "What holds the learning back"). The
``chroma_lags`` front end removes the key by construction instead, keeping the melody and harmony
relative to it:

    r_t^d[k] = sum_i c_t[i] * c_{t+d}[(i + k) mod 12]

for each lag ``d`` (frames) and interval ``k`` (semitones), where ``c_t`` is frame ``t``'s chroma
(summing to 1). Transposing the recording rolls every ``c_t`` by the same amount, which leaves
every ``r_t^d`` unchanged; lag 0 is each frame's interval content (its chord quality), longer lags
the melodic and harmonic motion from ``t`` to ``t + d``. Values are in dB (floor -80, like the
CQT's), so the rest of the network is unchanged.

``pool_frames`` averages real frames only (padding never mixes in), to cut the sequence length
the network pays for: 5 turns 25 frames a second into 5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FRONT_ENDS", "ChromaLags", "frame_chroma", "octave_bins", "pool_frames"]

FRONT_ENDS = ("cqt", "chroma_lags")
PITCH_CLASSES = 12
FLOOR_DB = -80.0


def octave_bins(n_bins: int, octaves: tuple[int, int] | None) -> slice:
    """The CQT bins of the octaves `[first, last)` counted from the CQT's lowest (all: None).

    Raises ValueError when the range is empty or outside the `n_bins // 12` octaves there are."""
    if octaves is None:
        return slice(0, n_bins)
    first, last = (int(o) for o in octaves)
    if not 0 <= first < last <= n_bins // PITCH_CLASSES:
        raise ValueError(
            f"chroma_octaves {[first, last]} must be a range [first, last) within the "
            f"{n_bins // PITCH_CLASSES} octaves of {n_bins} CQT bins"
        )
    return slice(first * PITCH_CLASSES, last * PITCH_CLASSES)


def frame_chroma(
    cqt: torch.Tensor, eps: float = 1e-12, octaves: tuple[int, int] | None = None
) -> torch.Tensor:
    """(B,T,F) log-CQT in dB (12 bins an octave) -> (B,T,12) chroma, each frame summing to 1.

    dB back to amplitude, the `octaves` (`[first, last)` from the CQT's lowest; None: all) folded
    into 12 pitch classes, each frame scaled to sum 1 so loudness drops out; `eps` guards silent
    frames. Leaving the lowest octaves out leaves out the bass, which a cover re-draws with its
    harmony while the melody stays (see `chroma_octaves` in conf/base).
    """
    cqt = cqt[..., octave_bins(cqt.shape[-1], octaves)]
    batch, frames, _ = cqt.shape
    amplitude = torch.pow(10.0, cqt / 20.0)
    chroma = amplitude.reshape(batch, frames, -1, PITCH_CLASSES).sum(2)
    return chroma / chroma.sum(-1, keepdim=True).clamp(min=eps)


class ChromaLags(nn.Module):
    """(B,T,F) log-CQT in dB -> (B,T,12 * len(lags)) chroma lag features in dB; no parameters.

    Args:
        lags: frame lags ``d`` (each >= 0); frames past a chunk's end count as silence.
        bins_per_octave: CQT bins per octave; one bin a semitone (12) is required.

    Example:
        >>> lags = ChromaLags((0, 5))
        >>> cqt = torch.randn(1, 50, 96) - 40
        >>> out = lags(cqt, torch.tensor([50]))
        >>> out.shape
        torch.Size([1, 50, 24])
        >>> torch.allclose(out, lags(torch.roll(cqt, 3, dims=-1), torch.tensor([50])), atol=1e-4)
        True
    """

    def __init__(
        self,
        lags: tuple[int, ...],
        bins_per_octave: int = PITCH_CLASSES,
        octaves: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.octaves = None if octaves is None else tuple(int(o) for o in octaves)
        if bins_per_octave != PITCH_CLASSES:
            raise ValueError(f"chroma_lags needs 12 CQT bins per octave, got {bins_per_octave}")
        if not lags or min(lags) < 0:
            raise ValueError(f"chroma_lags must be non-negative frame lags, got {list(lags)}")
        self.lags = tuple(int(lag) for lag in lags)
        # intervals[i, k] = (i + k) mod 12 (kept in the state dict of saved models); its columns
        # read backwards give (j - k) mod 12, which rolls c_t by every interval k at once
        steps = torch.arange(PITCH_CLASSES)
        self.register_buffer("intervals", (steps[:, None] + steps[None, :]) % PITCH_CLASSES)
        self.register_buffer("lag_frames", torch.tensor(self.lags), persistent=False)

    def forward(self, cqt: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        frames, n_bins = cqt.shape[1:]
        if n_bins % PITCH_CLASSES:
            raise ValueError(f"{n_bins} CQT bins are not whole octaves of 12")
        # float32 whatever the autocast: products of chroma shares reach 1e-4, the dB floor
        with torch.autocast(device_type=cqt.device.type, enabled=False):
            real = (torch.arange(frames, device=cqt.device)[None, :] < lengths[:, None])[..., None]
            chroma = frame_chroma(cqt.float().masked_fill(~real, FLOOR_DB), octaves=self.octaves)
            chroma = chroma * real  # padding is silence, for the lags that reach it
            # r_t^d[k] = sum_j c_{t+d}[j] c_t[(j - k) mod 12]: every lag and interval in one
            # batched product of (lags, 12) by (12, 12) per frame
            past_end = F.pad(chroma, (0, 0, 0, max(self.lags)))  # frames past the end: silence
            at = torch.arange(frames, device=cqt.device)[:, None] + self.lag_frames[None, :]
            later = past_end[:, at]  # (B, T, lags, 12): c_{t+d}
            backwards = (-torch.arange(PITCH_CLASSES, device=cqt.device)) % PITCH_CLASSES
            rolled = chroma[..., self.intervals[:, backwards]]  # (B, T, 12 j, 12 k)
            lagged = (later @ rolled).flatten(2)  # (B, T, lags * 12), lag-major
            return (20.0 * torch.log10(lagged.clamp(min=1e-4))).clamp(min=FLOOR_DB)


def pool_frames(
    x: torch.Tensor, lengths: torch.Tensor, factor: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Average every ``factor`` frames of (B,T,F), real frames only; lengths round up.

    Example:
        >>> x = torch.tensor([[[1.0], [3.0], [5.0], [0.0]]])
        >>> pooled, lengths = pool_frames(x, torch.tensor([3]), 2)
        >>> pooled[0, :, 0].tolist(), lengths.tolist()
        ([2.0, 5.0], [2])
    """
    if factor == 1:
        return x, lengths
    real = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]).to(x.dtype)
    x = x.masked_fill(real[..., None] == 0, 0.0)
    sums = F.avg_pool1d(x.transpose(1, 2), factor, factor, ceil_mode=True)
    counts = F.avg_pool1d(real[:, None, :], factor, factor, ceil_mode=True)
    pooled = (sums / counts.clamp(min=1.0 / factor)).transpose(1, 2)
    return pooled, (lengths + factor - 1) // factor
