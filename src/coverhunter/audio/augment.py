"""The paper's training augmentations (volume, noise, speed, pitch, masks), in the log-CQT domain.

The paper augments audio before its CQT. Our training reads precomputed log-CQT features (the CQT
of a long track is the costly part of a step), so every augmentation here acts on a log-CQT chunk
`(T, F)` in dB instead:

- volume: a gain in dB added to the chunk (the whole log-CQT moves by it). With noise drawn too,
  the noise level is set by the SNR against the chunk before the gain, so the gain also lowers
  the signal against the noise: the effective SNR is `snr_db + gain_db`.
- noise: power-domain sum `|X|^2 + g |N|^2` with a noise log-CQT segment, `g` set so the mean
  power ratio over the chunk is the drawn SNR; the result is shifted so its peak is the chunk's
  peak plus the volume gain.
  Phases are unknown in the CQT domain, so this is the incoherent (expected-power) sum.
- speed with the pitch kept: linear interpolation along time only; the frequency axis, hence the
  pitch, is untouched.
- pitch: a roll along the frequency axis by whole semitones, wrapping like the authors' code or
  filling the vacated bins with the chunk's floor.
- masks: SpecAugment-style time and frequency stripes set to the chunk's minimum.

Every random draw comes from the `torch.Generator` passed in (torchaudio's masking functions use
the global RNG, hence the short versions here). Values are dB of magnitude: power = 10^(x/10).
The operations take `(T, F)` or `(B, T, F)`; a batch gets the same parameters on every row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import torch

_DB_TO_LN = math.log(10.0) / 10.0  # natural-log power per dB: power = exp(x * _DB_TO_LN)
_PITCH_FILLS = ("wrap", "floor")


def _check_chunk(x: torch.Tensor) -> None:
    assert x.ndim in (2, 3), f"log-CQT must be (T, F) or (B, T, F), got {tuple(x.shape)}"


def change_volume(log_cqt: torch.Tensor, gain_db: float) -> torch.Tensor:
    """Log-CQT `(..., T, F)` shifted by `gain_db` (a gain on the magnitude)."""
    _check_chunk(log_cqt)
    return log_cqt + gain_db


def mean_power_db(log_cqt: torch.Tensor) -> torch.Tensor:
    """Mean power over frames and bins, in dB: `(T, F) -> ()`, `(B, T, F) -> (B, 1, 1)`."""
    _check_chunk(log_cqt)
    n_cells = log_cqt.shape[-1] * log_cqt.shape[-2]
    # logsumexp keeps chunks far below 0 dB (floors near -180 dB) out of float32 underflow.
    total = torch.logsumexp(log_cqt * _DB_TO_LN, dim=(-2, -1), keepdim=log_cqt.ndim == 3)
    return (total - math.log(n_cells)) / _DB_TO_LN


def noise_gain_db(signal: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """Gain in dB on `noise` putting the signal-to-noise power ratio over the chunk at `snr_db`."""
    return mean_power_db(signal) - snr_db - mean_power_db(noise)


def power_sum_db(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`10 log10(10^(a/10) + 10^(b/10))`: the incoherent sum of two log-CQTs of one shape."""
    return torch.logaddexp(a * _DB_TO_LN, b * _DB_TO_LN) / _DB_TO_LN


def mix_noise(
    log_cqt: torch.Tensor, noise: torch.Tensor, snr_db: float, gain_db: float = 0.0
) -> torch.Tensor:
    """Mix a noise log-CQT into `log_cqt (..., T, F)` at `snr_db`; its level moves by `gain_db`.

    `noise` has the chunk's shape (or `(T, F)` for a batch). The noise level is set against the
    chunk as given; the chunk is then shifted by `gain_db` (the volume augmentation), so the
    effective SNR is `snr_db + gain_db`. The mix is shifted so its peak is the input's plus
    `gain_db`: with or without noise, the volume gain moves the chunk's level by the same amount.
    """
    _check_chunk(log_cqt)
    if noise.shape[-2:] != log_cqt.shape[-2:]:
        raise ValueError(
            f"noise shape {tuple(noise.shape)} does not match chunk {tuple(log_cqt.shape)}"
        )
    scaled_noise = noise + noise_gain_db(log_cqt, noise, snr_db)
    mixed = power_sum_db(log_cqt + gain_db, scaled_noise)
    peak = log_cqt.amax(dim=(-2, -1), keepdim=True) + gain_db
    return mixed - mixed.amax(dim=(-2, -1), keepdim=True) + peak


def noise_segment(noise: torch.Tensor, n_frames: int, generator: torch.Generator) -> torch.Tensor:
    """A random `(n_frames, F)` stretch of a noise log-CQT `(T_n, F)`, looped when it is shorter."""
    assert noise.ndim == 2, f"noise must be (T, F), got {tuple(noise.shape)}"
    start = int(torch.randint(noise.shape[0], (1,), generator=generator))
    index = (start + torch.arange(n_frames)) % noise.shape[0]
    return noise[index]


def time_stretch(log_cqt: torch.Tensor, rate: float) -> torch.Tensor:
    """Play `log_cqt (..., T, F)` `rate` times faster: `round(T / rate)` frames, frequencies kept.

    Output frame `j` is the input at time `j * rate` (linear interpolation between frames; past
    the last frame the last frame is held). Rate 0.5 doubles the frames, 2 halves them.
    """
    _check_chunk(log_cqt)
    if rate <= 0:
        raise ValueError(f"speed rate must be positive, got {rate}")
    n_frames = log_cqt.shape[-2]
    n_out = max(1, round(n_frames / rate))
    position = (torch.arange(n_out, dtype=torch.float64) * rate).clamp(max=n_frames - 1)
    left = position.floor().long()
    right = (left + 1).clamp(max=n_frames - 1)
    weight = (position - left).to(log_cqt.dtype).unsqueeze(-1)  # (T', 1)
    return log_cqt[..., left, :] * (1 - weight) + log_cqt[..., right, :] * weight


def roll_pitch(log_cqt: torch.Tensor, shift_bins: int, fill: str = "wrap") -> torch.Tensor:
    """Move every frame of `log_cqt (..., T, F)` up by `shift_bins` bins (down when negative).

    `fill="wrap"` rolls the bins pushed off one end back in at the other (the authors' choice);
    `fill="floor"` sets the vacated bins to the chunk's minimum instead.
    """
    _check_chunk(log_cqt)
    if fill not in _PITCH_FILLS:
        raise ValueError(f"pitch fill {fill!r} is not one of {_PITCH_FILLS}")
    rolled = torch.roll(log_cqt, shifts=shift_bins, dims=-1)
    if fill == "floor" and shift_bins != 0:
        floor = log_cqt.amin(dim=(-2, -1), keepdim=True)
        vacated = torch.zeros(log_cqt.shape[-1], dtype=torch.bool)
        if shift_bins > 0:
            vacated[:shift_bins] = True
        else:
            vacated[shift_bins:] = True
        rolled = torch.where(vacated, floor, rolled)
    return rolled


def mask_stripes(
    log_cqt: torch.Tensor,
    axis: int,
    n_stripes: int,
    max_width: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Set `n_stripes` random stripes along `axis` (-2 time, -1 frequency) to the chunk's minimum.

    Each stripe's width is uniform in `[0, max_width]` (cut to the axis) and its start uniform
    over the positions where it fits; stripes may overlap.
    """
    _check_chunk(log_cqt)
    if axis not in (-2, -1):
        raise ValueError(f"mask axis must be -2 (time) or -1 (frequency), got {axis}")
    size = log_cqt.shape[axis]
    floor = log_cqt.amin(dim=(-2, -1), keepdim=True)
    masked = torch.zeros(size, dtype=torch.bool)
    for _ in range(n_stripes):
        width = int(torch.randint(min(max_width, size) + 1, (1,), generator=generator))
        start = int(torch.randint(size - width + 1, (1,), generator=generator))
        masked[start : start + width] = True
    if axis == -2:
        masked = masked.unsqueeze(-1)  # (T, 1) broadcasts over bins
    return torch.where(masked, floor, log_cqt)


@dataclass
class AugmentConfig:
    """Probability and range of each augmentation; a probability of 0 switches one off.

    Ranges are `(low, high)`. Defaults follow the paper (volume -6..0 dB, SNR -10..30 dB) and the
    authors' configuration (pitch and erase probability 0.5); speed, stripe counts and widths are
    ours. Stripe widths are fractions of the chunk's frames / bins, so they hold at any frame rate.
    """

    volume_prob: float = 0.5
    volume_db: tuple[float, float] = (-6.0, 0.0)
    noise_prob: float = 0.5
    snr_db: tuple[float, float] = (-10.0, 30.0)
    speed_prob: float = 0.5
    speed_rate: tuple[float, float] = (0.8, 1.25)  # drawn log-uniformly: 0.8 as likely as 1.25
    pitch_prob: float = 0.5
    pitch_semitones: tuple[int, int] = (-12, 12)  # whole semitones, both ends included
    bins_per_octave: int = 12
    pitch_fill: str = "wrap"
    mask_prob: float = 0.5
    time_masks: int = 2
    time_mask_max_fraction: float = 0.1
    freq_masks: int = 2
    freq_mask_max_fraction: float = 0.1

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name.endswith("_prob") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{field.name} must lie in [0, 1], got {value}")
            if isinstance(value, list | tuple):
                if len(value) != 2 or value[0] > value[1]:
                    raise ValueError(f"{field.name} must be a (low, high) pair, got {value}")
                setattr(self, field.name, tuple(value))
        if self.speed_rate[0] <= 0:
            raise ValueError(f"speed_rate must be positive, got {self.speed_rate}")
        if self.bins_per_octave <= 0 or self.bins_per_octave % 12:
            raise ValueError(
                f"bins_per_octave must be a multiple of 12, got {self.bins_per_octave}"
            )
        if self.pitch_fill not in _PITCH_FILLS:
            raise ValueError(f"pitch_fill {self.pitch_fill!r} is not one of {_PITCH_FILLS}")
        if self.time_masks < 0 or self.freq_masks < 0:
            raise ValueError(f"mask counts must be >= 0, got {self.time_masks}, {self.freq_masks}")
        for name in ("time_mask_max_fraction", "freq_mask_max_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")

    @classmethod
    def disabled(cls) -> AugmentConfig:
        """Every augmentation off: the augmenter returns its input."""
        return cls(volume_prob=0.0, noise_prob=0.0, speed_prob=0.0, pitch_prob=0.0, mask_prob=0.0)


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


class Augmenter:
    """Draws and applies the augmentations of an `AugmentConfig` to one log-CQT chunk `(T, F)`.

    Order: speed (changes T), pitch, volume and noise, masks (last, so a stripe holds the final
    chunk's minimum). `noise_bank` holds noise log-CQTs `(T_n, F)`; it is needed when
    `noise_prob > 0`. Volume moves the chunk's level, with or without noise (module docstring).

    >>> augmenter = Augmenter(AugmentConfig(noise_prob=0.0))
    >>> out = augmenter(torch.zeros(375, 96), torch.Generator().manual_seed(0))
    """

    def __init__(self, config: AugmentConfig, noise_bank: list[np.ndarray] | None = None):
        if config.noise_prob > 0 and not noise_bank:
            raise ValueError(f"noise_prob {config.noise_prob} > 0 needs a non-empty noise bank")
        self.config = config
        self.noise_bank = [
            torch.as_tensor(noise, dtype=torch.float32) for noise in noise_bank or []
        ]
        for index, noise in enumerate(self.noise_bank):
            if noise.ndim != 2 or noise.shape[0] == 0:
                raise ValueError(
                    f"noise bank item {index} must be (T, F), got {tuple(noise.shape)}"
                )

    def _happens(self, prob: float, generator: torch.Generator) -> bool:
        return prob > 0 and float(torch.rand((), generator=generator)) < prob

    def __call__(
        self, log_cqt: np.ndarray | torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """Augmented copy `(T', F)` float32 of `log_cqt (T, F)`; T' differs from T after speed."""
        config = self.config
        x = torch.as_tensor(log_cqt, dtype=torch.float32)
        assert x.ndim == 2, f"Augmenter takes one chunk (T, F), got {tuple(x.shape)}"
        if self._happens(config.speed_prob, generator):
            low, high = np.log(config.speed_rate)
            x = time_stretch(x, math.exp(_uniform(low, high, generator)))
        if self._happens(config.pitch_prob, generator):
            low, high = config.pitch_semitones
            semitones = int(torch.randint(low, high + 1, (1,), generator=generator))
            x = roll_pitch(x, semitones * config.bins_per_octave // 12, config.pitch_fill)
        gain_db = 0.0
        if self._happens(config.volume_prob, generator):
            gain_db = _uniform(*config.volume_db, generator)
        if self._happens(config.noise_prob, generator):
            noise = self.noise_bank[
                int(torch.randint(len(self.noise_bank), (1,), generator=generator))
            ]
            if noise.shape[1] != x.shape[1]:
                raise ValueError(f"noise has {noise.shape[1]} bins, the chunk {x.shape[1]}")
            snr_db = _uniform(*config.snr_db, generator)
            x = mix_noise(x, noise_segment(noise, x.shape[0], generator), snr_db, gain_db)
        elif gain_db:
            x = change_volume(x, gain_db)
        if self._happens(config.mask_prob, generator):
            time_width = int(config.time_mask_max_fraction * x.shape[0])
            x = mask_stripes(x, -2, config.time_masks, time_width, generator)
            freq_width = int(config.freq_mask_max_fraction * x.shape[1])
            x = mask_stripes(x, -1, config.freq_masks, freq_width, generator)
        return x
