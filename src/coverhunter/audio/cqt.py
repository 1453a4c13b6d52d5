"""Log-magnitude constant-Q transform with nnAudio, batched, on whatever device it is given.

The paper's front end: 16 kHz mono, peak-normalised audio; hop 640 samples (25 frames per second);
96 bins from 32 Hz at 12 bins per octave; `20*log10(|X| + 1e-9)` minus the track's maximum, so the
loudest cell of every track is 0 dB and the features do not depend on the recording's level.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from nnAudio.features import CQT1992v2, CQT2010v2

from coverhunter.audio.fast_cqt import MultirateCQT

_KERNELS = {"1992v2": CQT1992v2, "2010v2": CQT2010v2, "multirate": MultirateCQT}


@dataclass(frozen=True)
class CQTConfig:
    sample_rate: int = 16000
    hop_length: int = 640
    fmin: float = 32.0
    n_bins: int = 96
    bins_per_octave: int = 12
    method: str = (
        "1992v2"  # nnAudio kernel: "1992v2" (one long convolution) or "2010v2" (octave-wise)
    )
    amin: float = 1e-9  # added to |X| before the log

    def __post_init__(self):
        if self.method not in _KERNELS:
            raise ValueError(f"cqt method {self.method!r} is not one of {sorted(_KERNELS)}")
        if self.hop_length <= 0 or self.sample_rate <= 0:
            raise ValueError(f"hop_length and sample_rate must be positive, got {self}")

    @property
    def frame_rate(self) -> float:
        """Frames per second (25 for the paper's settings)."""
        return self.sample_rate / self.hop_length

    def n_frames(self, n_samples: int) -> int:
        """Frames a centred transform gives for `n_samples` samples."""
        return n_samples // self.hop_length + 1

    def to_dict(self) -> dict:
        return asdict(self)


class CQTExtractor(torch.nn.Module):
    """Audio `(B, S)` -> log-CQT `(B, T, F)` in dB relative to each row's maximum over its valid frames."""

    def __init__(self, config: CQTConfig):
        super().__init__()
        self.config = config
        with warnings.catch_warnings():
            # nnAudio warns that the top filters of 96 bins from 32 Hz reach past Nyquist at 16 kHz;
            # that is the paper's setting and the top bins simply carry little energy.
            warnings.simplefilter("ignore")
            self.kernel = _KERNELS[config.method](
                sr=config.sample_rate,
                hop_length=config.hop_length,
                fmin=config.fmin,
                n_bins=config.n_bins,
                bins_per_octave=config.bins_per_octave,
                output_format="Magnitude",
                verbose=False,
            )

    @torch.inference_mode()
    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """audio `(B, S)` float32, lengths `(B,)` valid samples -> `(B, T, F)` log-CQT (padded frames 0)."""
        assert audio.ndim == 2, audio.shape
        magnitude = self.kernel(audio).transpose(1, 2)  # (B, T, F)
        log_cqt = 20.0 * torch.log10(magnitude + self.config.amin)
        n_frames = log_cqt.shape[1]
        if lengths is None:
            valid = torch.ones(log_cqt.shape[:2], dtype=torch.bool, device=log_cqt.device)
        else:
            frames = lengths.to(log_cqt.device) // self.config.hop_length + 1
            valid = torch.arange(n_frames, device=log_cqt.device)[None, :] < frames[:, None]
        masked = log_cqt.masked_fill(~valid[:, :, None], float("-inf"))
        peak = masked.amax(dim=(1, 2), keepdim=True)
        return (log_cqt - peak).masked_fill(~valid[:, :, None], 0.0)


def log_cqt_batch(
    signals: Sequence[np.ndarray], extractor: CQTExtractor, device: torch.device | str = "cpu"
) -> list[np.ndarray]:
    """Log-CQT of several `(S_i,)` signals in one padded batch -> list of `(T_i, F)` float32 arrays."""
    if not signals:
        return []
    lengths = torch.tensor([len(s) for s in signals])
    batch = torch.zeros(len(signals), int(lengths.max()))
    for row, signal in enumerate(signals):
        assert signal.ndim == 1, signal.shape
        batch[row, : len(signal)] = torch.from_numpy(np.asarray(signal, dtype=np.float32))
    log_cqt = extractor(batch.to(device), lengths).float().cpu().numpy()
    config = extractor.config
    return [log_cqt[row, : config.n_frames(len(s))].copy() for row, s in enumerate(signals)]


def log_cqt(signal: np.ndarray, extractor: CQTExtractor) -> np.ndarray:
    """Log-CQT `(T, F)` of one `(S,)` signal."""
    return log_cqt_batch([signal], extractor)[0]
