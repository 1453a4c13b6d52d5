"""Log-magnitude constant-Q transform with nnAudio, batched, on whatever device it is given.

The paper's front end: 16 kHz mono, peak-normalised audio; hop 640 samples (25 frames per second);
96 bins from 32 Hz at 12 bins per octave; `20*log10(|X| + 1e-9)` minus the track's maximum, so the
loudest cell of every track is 0 dB and the features do not depend on the recording's level.

Frames are centred (frame `t` is centred on sample `t * hop`) and a signal's frames depend on
that signal alone, whatever it is batched with: `CQTExtractor` reflect-pads every row on its own
(`reflect_pad`, by half the longest kernel window each side) and runs the kernels uncentred on the
padded rows, so the zeros that fill a short row up to the batch's width lie beyond every window
of that row. nnAudio's own centring pads the whole batch instead, so a short row's last frames
would see zeros where, alone, they see its reflection; it also fails on a signal shorter than the
padding, which `reflect_pad` handles by reflecting repeatedly (as `np.pad(mode="reflect")`).

nnAudio is imported only to build kernels (it imports `scipy.signal`, over a second of a cold
start). The 1992v2 transform runs on its kernels in `_KernelCQT`, so an extractor made from
stored kernels (`CQTExtractor(config, kernels=...)`, `kernels()` gives them) never imports it:
that is how `coverhunter identify` starts without it (`serving/query.py`, `cqt_extractor`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["CQTConfig", "CQTExtractor", "log_cqt", "log_cqt_batch", "reflect_pad"]

_METHODS = ("1992v2", "2010v2", "multirate")


@dataclass(frozen=True)
class CQTConfig:
    sample_rate: int = 16000
    hop_length: int = 640
    fmin: float = 32.0
    n_bins: int = 96
    bins_per_octave: int = 12
    # nnAudio kernel: "1992v2" (one long convolution), "2010v2" (octave-wise) or "multirate"
    # (1992v2's kernels at lower sample rates, `fast_cqt.py`)
    method: str = "1992v2"
    amin: float = 1e-9  # added to |X| before the log

    def __post_init__(self):
        if self.method not in _METHODS:
            raise ValueError(f"cqt method {self.method!r} is not one of {sorted(_METHODS)}")
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


def reflect_pad(signal: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """`(S,)` -> `(left + S + right,)` mirrored about its end samples, as `np.pad(mode="reflect")`.

    A pad longer than `S - 1` reflects again off the far end (period `2 (S - 1)`), so any signal of
    at least one sample can be padded; one sample is repeated.
    """
    assert signal.ndim == 1, signal.shape
    n = signal.shape[0]
    if n == 0:
        raise ValueError("cannot reflect-pad an empty signal")
    if max(left, right) < n:
        return F.pad(signal[None, None, :], (left, right), mode="reflect")[0, 0]
    if n == 1:
        return signal.expand(left + 1 + right).clone()
    period = 2 * (n - 1)
    position = torch.arange(-left, n + right, device=signal.device).remainder(period)
    return signal[torch.where(position < n, position, period - position)]


def _downsampled(x: torch.Tensor, lowpass: torch.Tensor, factor: int) -> torch.Tensor:
    """`(B, 1, N)` -> `(B, 1, ~(N + L) / factor)`: nnAudio's low-pass and decimation, row by row.

    Each row is followed by the filter's length `L` of zeros first, so its downsampled tail is
    whole: nnAudio drops the outputs that reach past the input's end, which a short row in a batch
    has (its row goes on in zeros) and alone would not. Rows go one at a time because a
    one-channel `conv1d` sums in a different order for different batch sizes.
    """
    from nnAudio.utils import downsampling_by_n

    tail = lowpass.shape[-1]
    return torch.cat(
        [downsampling_by_n(F.pad(row, (0, tail)), lowpass, factor) for row in x.split(1)]
    )


class _CQT2010Uncentred(torch.nn.Module):
    """nnAudio `CQT2010v2` on rows the caller has padded by `pad` each side: `(B, S)` -> `(B, F, T)`.

    nnAudio reflect-pads the signal of every octave after downsampling it; here the full-rate signal
    comes padded by the lowest octave's half window (`pad` samples), and each octave skips what it
    does not need, so frame `t` is centred on the same sample as nnAudio's centred frame `t`.
    """

    def __init__(self, **kwargs):
        from nnAudio.features import CQT2010v2

        super().__init__()
        self.cqt = CQT2010v2(**kwargs)
        self.cqt.padding = torch.nn.Identity()
        self.half_window = self.cqt.n_fft // 2  # per octave, at that octave's rate
        self.n_octaves = self.cqt.n_octaves
        factor = int(self.cqt.downsample_factor)  # early downsampling, 1 when there is none
        self.pad = self.half_window * factor * 2 ** (self.n_octaves - 1)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        from nnAudio.utils import get_cqt_complex

        assert audio.ndim == 2, audio.shape
        cqt = self.cqt
        x = audio[:, None, :]
        if cqt.earlydownsample:
            x = _downsampled(x, cqt.early_downsample_filter, int(cqt.downsample_factor))
        hop = cqt.hop_length
        octaves = []
        for octave in range(self.n_octaves):  # top octave first
            if octave:
                hop //= 2
                x = _downsampled(x, cqt.lowpass_filter, 2)
            # the padding at this rate is half_window * 2**(n_octaves - 1 - octave) samples
            skip = self.half_window * (2 ** (self.n_octaves - 1 - octave) - 1)
            octaves.append(
                get_cqt_complex(
                    x[:, :, skip:], cqt.cqt_kernels_real, cqt.cqt_kernels_imag, hop, cqt.padding
                )
            )
        n_frames = min(o.shape[2] for o in octaves)
        complex_cqt = torch.cat([o[:, :, :n_frames] for o in reversed(octaves)], dim=1)
        complex_cqt = complex_cqt[:, -cqt.n_bins :] * cqt.downsample_factor
        complex_cqt = complex_cqt * torch.sqrt(cqt.lenghts.view(-1, 1, 1))  # librosa's scaling
        return torch.sqrt(complex_cqt.pow(2).sum(-1))


class _KernelCQT(torch.nn.Module):
    """nnAudio `CQT1992v2`'s magnitude transform on its kernels, uncentred: `(B, S)` -> `(B, F, T)`.

    The same operations as `CQT1992v2.forward` (two strided correlations, librosa's `sqrt(length)`
    scaling, the magnitude), on kernels `real`, `imag` `(F, 1, L)` and `lengths` `(F,)`; frame `t`
    starts at sample `t * hop`, `pad` is half the kernel width.
    """

    def __init__(self, real: torch.Tensor, imag: torch.Tensor, lengths: torch.Tensor, hop: int):
        super().__init__()
        assert real.ndim == 3 and real.shape == imag.shape, (real.shape, imag.shape)
        assert lengths.shape == real.shape[:1], (lengths.shape, real.shape)
        self.register_buffer("real", real)
        self.register_buffer("imag", imag)
        self.register_buffer("lengths", lengths)
        self.hop = hop
        self.pad = real.shape[2] // 2

    @classmethod
    def built(cls, settings: dict) -> _KernelCQT:
        """The kernels nnAudio's `CQT1992v2` builds for `settings` (its keyword arguments)."""
        from nnAudio.features import CQT1992v2

        built = CQT1992v2(**settings, center=False)
        return cls(built.cqt_kernels_real, built.cqt_kernels_imag, built.lenghts, built.hop_length)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        assert audio.ndim == 2, audio.shape
        x = audio[:, None, :]
        real = F.conv1d(x, self.real, stride=self.hop)
        imag = -F.conv1d(x, self.imag, stride=self.hop)
        scale = torch.sqrt(self.lengths.view(-1, 1))
        return torch.sqrt((real * scale).pow(2) + (imag * scale).pow(2))


def _uncentred_kernel(
    config: CQTConfig, kernels: dict[str, torch.Tensor] | None = None
) -> torch.nn.Module:
    """The config's magnitude kernel, uncentred (frame t starts at sample t * hop); has `pad`.

    `kernels` (1992v2 only): `_KernelCQT`'s tensors, used instead of building them.
    """
    if kernels is not None:
        if config.method != "1992v2":
            raise ValueError(f"stored kernels are for method 1992v2, not {config.method!r}")
        return _KernelCQT(kernels["real"], kernels["imag"], kernels["lengths"], config.hop_length)
    settings = {
        "sr": config.sample_rate,
        "hop_length": config.hop_length,
        "fmin": config.fmin,
        "n_bins": config.n_bins,
        "bins_per_octave": config.bins_per_octave,
        "output_format": "Magnitude",
        "verbose": False,
    }
    with warnings.catch_warnings():
        # nnAudio warns that the top filters of 96 bins from 32 Hz reach past Nyquist at 16 kHz;
        # that is the paper's setting and the top bins simply carry little energy.
        warnings.simplefilter("ignore")
        if config.method == "2010v2":
            return _CQT2010Uncentred(**settings)
        if config.method == "multirate":
            from coverhunter.audio.fast_cqt import MultirateCQT

            return MultirateCQT(**settings, center=False)
        return _KernelCQT.built(settings)


class CQTExtractor(torch.nn.Module):
    """Audio `(B, S)` -> log-CQT `(B, T, F)` in dB relative to each row's maximum over its valid frames.

    Row `b` is transformed as its first `lengths[b]` samples alone (see the module docstring).
    """

    def __init__(self, config: CQTConfig, kernels: dict[str, torch.Tensor] | None = None):
        super().__init__()
        self.config = config
        self.kernel = _uncentred_kernel(config, kernels)
        self.pad = int(self.kernel.pad)  # reflected samples on each side of every row

    def kernels(self) -> dict[str, torch.Tensor] | None:
        """The 1992v2 kernels (CPU tensors) that rebuild this extractor without nnAudio; None
        for the other methods."""
        if not isinstance(self.kernel, _KernelCQT):
            return None
        return {name: getattr(self.kernel, name).cpu() for name in ("real", "imag", "lengths")}

    def _padded(self, audio: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """`(B, S)` -> `(B, S + 2 pad)`: row b's first lengths[b] samples reflect-padded, then 0."""
        padded = audio.new_zeros(audio.shape[0], audio.shape[1] + 2 * self.pad)
        for row, length in enumerate(lengths.tolist()):
            padded[row, : length + 2 * self.pad] = reflect_pad(
                audio[row, :length], self.pad, self.pad
            )
        return padded

    @torch.inference_mode()
    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """audio `(B, S)` float32, lengths `(B,)` valid samples -> `(B, T, F)` log-CQT (padded frames 0).

        `T = S // hop + 1`; row b has `lengths[b] // hop + 1` valid frames.
        """
        assert audio.ndim == 2, audio.shape
        if lengths is None:
            lengths = torch.full((audio.shape[0],), audio.shape[1])
        assert lengths.shape == (audio.shape[0],), (lengths.shape, audio.shape)
        n_frames = self.config.n_frames(audio.shape[1])
        magnitude = self.kernel(self._padded(audio.float(), lengths.cpu()))  # (B, F, T')
        assert magnitude.shape[2] >= n_frames, (magnitude.shape, n_frames)
        log_cqt = 20.0 * torch.log10(magnitude[:, :, :n_frames].transpose(1, 2) + self.config.amin)
        frames = lengths.to(log_cqt.device) // self.config.hop_length + 1
        valid = torch.arange(n_frames, device=log_cqt.device)[None, :] < frames[:, None]
        masked = log_cqt.masked_fill(~valid[:, :, None], float("-inf"))
        peak = masked.amax(dim=(1, 2), keepdim=True)
        return (log_cqt - peak).masked_fill(~valid[:, :, None], 0.0)


def log_cqt_batch(
    signals: Sequence[np.ndarray], extractor: CQTExtractor, device: torch.device | str = "cpu"
) -> list[np.ndarray]:
    """Log-CQT of several `(S_i,)` signals in one padded batch -> list of `(T_i, F)` float32 arrays.

    Each array is what the signal gives alone: batching changes only the speed.
    """
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
