"""nnAudio's `CQT1992v2` computed several times faster on the CPU: same kernels, lower sample rates.

`CQT1992v2` correlates the padded signal with 96 complex kernels, all as long as the longest
(16384 samples at 16 kHz for 32 Hz), at every hop: about 19 GMAC for a 4-minute track. Yet a bin
at 32 Hz needs nothing above a few hundred Hz, and a bin at 7 kHz needs only its own 37 samples.
`MultirateCQT` keeps nnAudio's kernels (built by nnAudio's own `create_cqt_kernels`, with the
same `sqrt(length)` "librosa" scaling) and applies each bin's kernel, trimmed to its support,
at the lowest sample rate its spectrum allows:

- Decimation: a cascade of identical half-band FIR stages (Kaiser window), each halving the rate.
  A stage passes `[0, rate/8]` of its input flat and suppresses everything that would fold into
  it by `attenuation_db`, so at every rate `r` the band `[0, r/4]` is clean.
- Rates: bin `k` runs at `sr / D_k`, the largest power-of-two decimation dividing the hop whose
  clean band holds all of the kernel's spectrum above `-attenuation_db` (its reach). Sampling a
  band-limited kernel and a band-limited signal together keeps their inner product, so the bin
  equals `D_k * sum_m x_D[t * hop / D_k + m] * K_k[m * D_k]`.
- Frames: the bins of one rate and one octave share one frame matrix (the union of their kernel
  supports) and one GEMM; magnitudes of the groups are concatenated in bin order.

What differs from `CQT1992v2` is only what the attenuation bounds: out-of-band content leaking
through decimation and through the kernels' far sidelobes, both `attenuation_db` below the
content that causes it. At the default 100 dB the log-CQT (`20*log10(|X| + 1e-9)` minus the
track max) agrees within a few hundredths of a dB on cells above -60 dB (tests/audio).

The call contract is nnAudio's (`CQTConfig(method="multirate")` in `CQTExtractor`): audio
`(B, S)` -> magnitude `(B, F, T)`. With `center=True` (nnAudio's default) frames are centred,
`T = S // hop + 1`, and the batch is reflect-padded by `pad` (half the longest kernel window) each
side, so, like nnAudio, a signal must be longer than `pad`. With `center=False` frame `t` starts
at sample `t * hop`: `CQTExtractor` uses that on rows it has padded one by one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from nnAudio.utils import create_cqt_kernels
from scipy import signal as sps

__all__ = ["MultirateCQT", "decimation_factors", "halfband_filter", "kernel_reach_hz"]


def halfband_filter(attenuation_db: float) -> np.ndarray:
    """Symmetric low-pass FIR `(L,)` (odd L) for decimation by 2, cutoff at half the Nyquist.

    Passband `[0, rate/8]` within `10**(-attenuation_db/20)` of 1, stopband `[3 rate/8, rate/2]`
    below it: the shortest Kaiser-window design found to meet both.
    """
    if attenuation_db <= 21:
        raise ValueError(
            f"attenuation_db must exceed 21 dB (a Kaiser design), got {attenuation_db}"
        )
    tolerance = 10 ** (-attenuation_db / 20)
    # Kaiser's formula only estimates length and shape; ask for a little more until it holds.
    for margin_db in np.arange(0.0, 20.0, 0.5):
        # Transition width 1/4 of the rate = 1/2 of the Nyquist band in scipy's units.
        numtaps, beta = sps.kaiserord(attenuation_db + margin_db, 0.5)
        numtaps += 1 - numtaps % 2  # odd: a whole-sample delay, so the filter can be centred
        taps = sps.firwin(numtaps, 0.5, window=("kaiser", beta))
        # Every second tap of a half-band filter is a zero of the sinc; make it exactly 0 so
        # the filter can skip it, and the symmetry exact so paired taps can share a multiply.
        offsets = np.abs(np.arange(numtaps) - numtaps // 2)
        taps[(offsets % 2 == 0) & (offsets > 0)] = 0.0
        taps = 0.5 * (taps + taps[::-1])
        freqs, response = sps.freqz(taps, worN=4096, fs=1.0)
        ripple = np.abs(np.abs(response[freqs <= 1 / 8]) - 1.0).max()
        leak = np.abs(response[freqs >= 3 / 8]).max()
        if max(ripple, leak) <= tolerance:
            return taps
    raise ValueError(f"no half-band design reaches attenuation_db={attenuation_db}")


def kernel_reach_hz(kernels: np.ndarray, sample_rate: float, attenuation_db: float) -> np.ndarray:
    """Highest frequency `(F,)` where each kernel's spectrum is above `-attenuation_db` of its peak.

    `kernels` is `(F, L)` complex, time domain, as `create_cqt_kernels` returns them.
    """
    assert kernels.ndim == 2, kernels.shape
    spectrum = np.abs(np.fft.fft(kernels, axis=1))  # (F, L)
    freqs = np.abs(np.fft.fftfreq(kernels.shape[1], d=1.0 / sample_rate))
    above = spectrum > spectrum.max(axis=1, keepdims=True) * 10 ** (-attenuation_db / 20)
    return np.where(above, freqs[None, :], 0.0).max(axis=1)


def decimation_factors(reach_hz: np.ndarray, sample_rate: float, hop_length: int) -> np.ndarray:
    """Per bin `(F,)`, the largest power of two `D` dividing `hop_length` with reach <= sr/(4 D).

    Bins whose reach passes a quarter of the full rate stay at `D = 1` (exact there).
    """
    assert reach_hz.ndim == 1, reach_hz.shape
    factors = np.ones(len(reach_hz), dtype=np.int64)
    d = 2
    while hop_length % d == 0:
        factors[reach_hz <= sample_rate / (4 * d)] = d
        d *= 2
    return factors


@dataclass(frozen=True)
class _Group:
    """Bins `[lo, hi)` computed at decimation `factor` from samples `[start, start + width)`."""

    factor: int
    lo: int
    hi: int
    start: int  # first kernel sample, at the decimated rate, relative to a frame's origin
    width: int


class MultirateCQT(torch.nn.Module):
    """Magnitude CQT, audio `(B, S)` -> `(B, F, T)`, equal to nnAudio `CQT1992v2` (see module doc).

    Args:
        sr, hop_length, fmin, n_bins, bins_per_octave, filter_scale, norm, window: as nnAudio's
            `CQT1992v2` (whose kernels are used).
        output_format: only "Magnitude" (what `CQTExtractor` asks for).
        verbose: accepted for nnAudio's signature; this module prints nothing.
        center: True (nnAudio's default): reflect-pad the batch by `pad` each side, frames
            centred on `t * hop`; False: no padding, frame t starts at sample `t * hop`.
        attenuation_db: how far below the content causing them the approximation errors lie
            (decimation stopband and kernel reach); higher is closer to `CQT1992v2` and slower.
    """

    def __init__(  # nnAudio's signature, so CQTExtractor can dispatch to it
        self,
        sr: int = 16000,
        hop_length: int = 640,
        fmin: float = 32.0,
        n_bins: int = 96,
        bins_per_octave: int = 12,
        filter_scale: float = 1.0,
        norm: int = 1,
        window: str = "hann",
        output_format: str = "Magnitude",
        verbose: bool = False,
        center: bool = True,
        attenuation_db: float = 100.0,
    ):
        super().__init__()
        del verbose
        if output_format != "Magnitude":
            raise ValueError(
                f"output_format {output_format!r}: MultirateCQT gives 'Magnitude' only"
            )
        if hop_length <= 0 or sr <= 0:
            raise ValueError(f"hop_length {hop_length} and sr {sr} must be positive")
        q = float(filter_scale) / (2 ** (1 / bins_per_octave) - 1)
        with warnings.catch_warnings():
            # nnAudio warns when the top filters pass Nyquist (the paper's 96 bins at 16 kHz).
            warnings.simplefilter("ignore")
            kernels, width, lengths, _ = create_cqt_kernels(
                q, sr, fmin, n_bins, bins_per_octave, norm, window, None
            )
        kernels = kernels.astype(np.complex128) * np.sqrt(lengths.numpy())[:, None]  # (F, L)
        self.hop_length = hop_length
        self.center = center
        self.pad = width // 2  # nnAudio's centring: reflect-pad half the kernel width each side
        self.n_bins = n_bins
        factors = decimation_factors(kernel_reach_hz(kernels, sr, attenuation_db), sr, hop_length)
        self.groups: list[_Group] = []
        for index, (group, matrix) in enumerate(_groups(kernels, factors, bins_per_octave)):
            self.groups.append(group)
            self.register_buffer(f"kernel_{index}", matrix, persistent=False)
        self.halfband = halfband_filter(attenuation_db)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio `(B, S)` float32 -> magnitude `(B, F, T)`.

        `T = S // hop + 1` when centred, else `(S - 2 pad) // hop + 1` (S includes the padding).
        """
        assert audio.ndim == 2, audio.shape
        if self.center:
            if audio.shape[1] <= self.pad:
                raise ValueError(
                    f"audio of {audio.shape[1]} samples is too short: reflect padding needs more "
                    f"than {self.pad} (half the longest kernel)"
                )
            # (B, 1, S + 2 pad): frame t's kernel window starts at sample t * hop of this signal.
            signal = F.pad(audio[:, None, :].float(), (self.pad, self.pad), mode="reflect")
        else:
            if audio.shape[1] < 2 * self.pad:
                raise ValueError(
                    f"audio of {audio.shape[1]} samples is shorter than one kernel window "
                    f"({2 * self.pad}); uncentred input must come padded"
                )
            signal = audio[:, None, :].float()
        n_frames = (signal.shape[2] - 2 * self.pad) // self.hop_length + 1
        by_factor = {1: signal}
        for factor in sorted({g.factor for g in self.groups}):
            rate = max(by_factor)
            while rate < factor:
                by_factor[2 * rate] = self._halve(by_factor[rate])
                rate *= 2
        parts = []
        for index, group in enumerate(self.groups):
            kernel = getattr(self, f"kernel_{index}")  # (width, 2 n) re/im interleaved
            frames = self._frames(by_factor[group.factor][:, 0], group, n_frames)  # (B,T,width)
            values = (frames @ kernel).view(audio.shape[0], n_frames, group.hi - group.lo, 2)
            parts.append(torch.view_as_complex(values).abs())  # (B, T, n)
        return torch.cat(parts, dim=2).transpose(1, 2)

    def _halve(self, signal: torch.Tensor) -> torch.Tensor:
        """`(B, 1, N)` -> `(B, 1, ceil(N / 2))`; output `i` = sum_k h[k] x[2 i + k - c] (centred).

        Written as shifted adds on the two polyphase components, pairing the filter's symmetric
        taps and skipping its zeros: a one-channel `conv1d` is several times slower on the CPU.
        """
        taps = len(self.halfband)
        centre = taps // 2
        n_out = (signal.shape[-1] + 1) // 2
        padded = F.pad(signal[:, 0], (centre, centre + 1))  # zeros: the ends are never read
        phases = (padded[:, 0::2].contiguous(), padded[:, 1::2].contiguous())

        def shifted(k: int) -> torch.Tensor:  # x[2 i + k - c] for every output i
            return phases[k % 2][:, k // 2 : k // 2 + n_out]

        out = shifted(centre) * float(self.halfband[centre])
        for k in range(centre):
            if self.halfband[k] != 0.0:
                out.add_(shifted(k) + shifted(taps - 1 - k), alpha=float(self.halfband[k]))
        return out[:, None, :]

    def _frames(self, signal: torch.Tensor, group: _Group, n_frames: int) -> torch.Tensor:
        """`(B, T, width)`: for frame t, samples `t * hop / D + start + [0, width)` of `signal`."""
        step = self.hop_length // group.factor
        needed = (n_frames - 1) * step + group.start + group.width
        if signal.shape[1] < needed:  # the tail a cut-off decimation may miss: kernel zeros
            signal = F.pad(signal, (0, needed - signal.shape[1]))
        return signal[:, group.start : needed].unfold(1, group.width, step)


def _groups(
    kernels: np.ndarray, factors: np.ndarray, bins_per_octave: int
) -> list[tuple[_Group, torch.Tensor]]:
    """Bins split by decimation factor and octave, each with its `(width, 2 n)` float32 matrix."""
    groups = []
    lo = 0
    n_bins = kernels.shape[0]
    while lo < n_bins:
        hi = lo + 1
        while hi < n_bins and factors[hi] == factors[lo] and hi - lo < bins_per_octave:
            hi += 1
        factor = int(factors[lo])
        # Kernel samples at multiples of the factor, scaled by it (see the module docstring).
        sampled = factor * kernels[lo:hi, ::factor]  # (n, L / D)
        support = np.flatnonzero(np.abs(sampled).max(axis=0) > 0)
        start, stop = int(support[0]), int(support[-1]) + 1
        window = sampled[:, start:stop].T  # (width, n)
        matrix = np.stack([window.real, window.imag], axis=2).reshape(stop - start, -1)
        groups.append(
            (
                _Group(factor, lo, hi, start, stop - start),
                torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32)),
            )
        )
        lo = hi
    return groups
