"""Harmonic pitch class profiles (HPCP) as Essentia computes them, vectorised over frames.

`evaluation/qmax.py` runs Essentia frame by frame (`FrameGenerator(startFromZero=True)` ->
`Windowing` -> `Spectrum` -> `SpectralPeaks` -> `HPCP`); `hpcp` repeats each step on
`(frames, bins)` tensors, blocks of a few hundred frames at a time, with no Essentia, from its
C++ source (MTG/essentia):

- frames (`framecutter.cpp`): frame k starts at `k * hop`; the first frame that reaches the end
  of the audio is the last one, zero-padded;
- window (`windowing.cpp`): symmetric, scaled to sum to 2 (a full-scale sinusoid peaks near 1);
  its zero-phase rotation changes only the phase, so the magnitude spectrum here skips it;
- peaks (`peakdetection.cpp`): local maxima above 1e-5 of the magnitude spectrum (`N / 2 + 1`
  bins) between the minimum and maximum frequency, a plateau peak at its middle, a single-bin
  peak refined by a parabola through the linear magnitudes of it and its two neighbours; the
  `max_peaks` loudest;
- profile (`hpcp.cpp`): every peak, and the fundamentals it may be harmonic 2..`harmonics` + 1
  of (Essentia counts `harmonics` past the first), adds `squared magnitude * harmonic weight^2 *
  cos^2(pi * distance)` to the semitone nearest to it (a window one semitone wide); below and above 500 Hz separately, each scaled to a maximum
  of 1, summed, and scaled to a maximum of 1 again (`unitMax`). Bin 0 is A (440 Hz), bin k is k
  semitones above A.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

__all__ = ["hpcp", "hpcp_frame_count"]

PITCH_CLASSES = 12
REFERENCE_FREQUENCY = 440.0  # bin 0: A
BAND_SPLIT_FREQUENCY = 500.0  # Essentia's band preset: low and high bands scaled separately
MAGNITUDE_THRESHOLD = 1e-5  # SpectralPeaks' magnitudeThreshold in evaluation/qmax.py
_MERGE_PRECISION = 1e-5  # HPCP::precision: harmonics this close (semitones) share one entry

# bins past the maximum frequency searched for a peak that shows Essentia's scan ended there
_LOOKAHEAD = 32
# frames transformed together: blocks small enough for the CPU's caches run twice as fast as
# all frames at once (measured: 4 minutes at 16 kHz, one thread)
_BLOCK_FRAMES = 256

# Essentia's Blackman-Harris coefficients (a0, a1, a2, a3), windowing.cpp
_BLACKMAN_HARRIS = {
    "blackmanharris62": (0.44959, 0.49364, 0.05677, 0.0),
    "blackmanharris70": (0.42323, 0.49755, 0.07922, 0.0),
    "blackmanharris74": (0.40217, 0.49703, 0.09892, 0.00188),
    "blackmanharris92": (0.35875, 0.48829, 0.14128, 0.01168),
}
_COSINE_SUMS = {**_BLACKMAN_HARRIS, "hann": (0.5, 0.5, 0.0, 0.0), "hamming": (0.53836, 0.46164)}


def hpcp_frame_count(n_samples: int, frame_size: int, hop_size: int) -> int:
    """Frames Essentia's `FrameGenerator(startFromZero=True)` cuts from `n_samples`: one every
    `hop_size` until a frame reaches the end (that one zero-padded), none starting past it."""
    reaching_end = 1 + max(0, -(-(n_samples - frame_size) // hop_size))
    starting_inside = -(-n_samples // hop_size)
    return min(reaching_end, starting_inside)


def _frame_blocks(audio: torch.Tensor, frame_size: int, hop_size: int) -> list[torch.Tensor]:
    """`(S,)` -> `(n, frame_size)` blocks of at most `_BLOCK_FRAMES` frames, all
    `hpcp_frame_count` of them in order: strided views of the audio, then of a zero-padded
    copy of its tail for the frames that run past its end (no copy of the whole audio)."""
    n_inside = max(0, (len(audio) - frame_size) // hop_size + 1)
    n_past = hpcp_frame_count(len(audio), frame_size, hop_size) - n_inside
    blocks = list(audio.unfold(0, frame_size, hop_size).split(_BLOCK_FRAMES)) if n_inside else []
    if n_past:
        tail = audio[n_inside * hop_size :]
        padding = (n_past - 1) * hop_size + frame_size - len(tail)
        blocks.append(torch.nn.functional.pad(tail, (0, padding)).unfold(0, frame_size, hop_size))
    return blocks


def _window(name: str, size: int) -> torch.Tensor:
    """`(size,)` float32: Essentia's symmetric window `name`, scaled so that it sums to 2."""
    coefficients = _COSINE_SUMS[name]
    phase = 2.0 * np.pi * np.arange(size) / (size - 1)
    terms = [(-1) ** k * a * np.cos(k * phase) for k, a in enumerate(coefficients)]
    window = np.sum(terms, axis=0).astype(np.float32)
    return torch.from_numpy(window * np.float32(2.0 / np.abs(window).sum(dtype=np.float32)))


def _spectrum(frames: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """`(F, N)` frames -> `(F, N // 2 + 1)` complex spectrum of the windowed frames."""
    return torch.fft.rfft(frames * window)


def _magnitude(spectrum: torch.Tensor) -> torch.Tensor:
    """Complex `(F, B)` -> `(F, B)` magnitudes as Essentia's Magnitude computes them,
    sqrt(re^2 + im^2) (`Tensor.abs` rounds otherwise, and takes twice as long)."""
    parts = torch.view_as_real(spectrum)
    real, imaginary = parts[..., 0], parts[..., 1]
    return torch.sqrt(real * real + imaginary * imaginary)


def _runs(x: torch.Tensor) -> torch.Tensor:
    """`(F, B)` -> `(F, B)` int64: for every bin, the first bin of its run of equal values."""
    index = torch.arange(x.shape[1]).expand_as(x)
    starts = torch.ones_like(x, dtype=torch.bool)
    starts[:, 1:] = x[:, 1:] != x[:, :-1]
    return torch.cummax(torch.where(starts, index, 0), dim=1).values


def _mask(compare: Callable, a: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    """`compare(a, b)` (`torch.gt`, `torch.le`, ...) as 1.0 / 0.0 of `a`'s dtype, for masking
    by multiplication: several times faster on the CPU than a bool tensor and `torch.where`."""
    return compare(a, b, out=torch.empty_like(a))


def _peak_candidates(
    x: torch.Tensor, first_bin: int, max_bin: float, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Essentia's PeakDetection on magnitudes `x (F, S)`, scanning from `first_bin`; `max_bin`
    is the maximum position in (fractional) bins, `threshold` > 0.

    Returns `(loudness, position)`, each `(F, S - first_bin)`: at the last bin of each peak's
    run its magnitude and its position in fractional bins, zeros elsewhere.
    """
    size = x.shape[1]
    x = x[:, first_bin:]
    last = size - 1 - first_bin  # the spectrum's last bin, in these coordinates
    index = torch.arange(x.shape[1]).expand_as(x)
    start = _runs(x)
    # neighbours; the zeros padded past the ends never count (see `rises` and `in_scan`)
    below = torch.nn.functional.pad(x[:, :-1], (1, 0))
    above = torch.nn.functional.pad(x[:, 1:], (0, 1))
    # a run is a peak when the bin before it is lower and the bin after it is lower; the scan
    # only climbs from `first_bin`, so a run touching it is never one
    rises = torch.gather(below < x, 1, start) & (start > 0)
    falls = above < x
    single = start == index
    # the scan stops one bin short of the last: a plateau there is never a peak, a single bin is
    in_scan = (index <= last - 2) | ((index == last - 1) & single)
    is_peak = rises & falls & in_scan & (x > threshold)

    # parabola through the linear magnitudes (PeakDetection::interpolate), or a plateau's middle
    slope = below - above
    delta = torch.where(single & is_peak, 0.5 * slope / (below - 2 * x + above), 0.0)
    value = x - 0.25 * slope * delta  # a plateau's delta is 0: its value
    position = torch.where(single, index + delta, (start + index) * 0.5) + first_bin

    # the first peak past `max_bin` ends the scan; the bin before the last is checked after it,
    # regardless of `max_bin`, only when no peak ended the scan
    past = position > max_bin
    ended = (is_peak & past & (index <= last - 2)).any(dim=1, keepdim=True)
    before_last = index == last - 1
    is_peak &= torch.where(before_last, ~ended, ~past)

    # the two ends, unrefined: the first bin when it falls, the last when `max_bin` is within
    # the last bin and it rises
    is_peak[:, 0] = (x[:, 0] > x[:, 1]) & (x[:, 0] > threshold)
    if size - 2 < max_bin <= size - 1:
        is_peak[:, last] = (x[:, last] > x[:, last - 1]) & (x[:, last] > threshold)
    return torch.where(is_peak, value, 0.0), torch.where(is_peak, position, 0.0)


def _single_bin_peaks(
    x: torch.Tensor, first_bin: int, max_bin: float, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """`_peak_candidates` where no two neighbours above `threshold` are equal and the spectrum
    ends well past `max_bin`: `x (F, B)` holds bins `first_bin..`, B >= 3, enough to cover
    every peak up to `max_bin` (the common case, in a fraction of the time)."""
    left, middle, right = x[:, :-2], x[:, 1:-1], x[:, 2:]
    rise, fall = middle - left, middle - right
    is_peak = _mask(torch.gt, torch.minimum(torch.minimum(rise, fall), middle - threshold), 0.0)
    # PeakDetection::interpolate; rise + fall > 0 at a peak, kept from 0 elsewhere
    delta = 0.5 * (rise - fall) / torch.clamp(rise + fall, min=1e-30) * is_peak
    position = torch.arange(first_bin + 1, first_bin + x.shape[1] - 1) + delta
    is_peak = is_peak * _mask(torch.le, position, max_bin)
    # the first bin, unrefined, when it falls
    first = (x[:, :1] > x[:, 1:2]) & (x[:, :1] > threshold)
    return (
        torch.cat([x[:, :1] * first, (middle + 0.25 * (rise - fall) * delta) * is_peak], dim=1),
        torch.cat([first_bin * first.to(x.dtype), position * is_peak], dim=1),
    )


def _has_single_bin_peak(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """`(F, B)` -> `(F,)` bool: whether one of bins 1..B-2 is above `threshold` and both
    neighbours."""
    middle = x[:, 1:-1]
    lowest = torch.minimum(torch.minimum(middle - x[:, :-2], middle - x[:, 2:]), middle - threshold)
    return lowest.amax(dim=1) > 0


def _peaks(
    spectrum: torch.Tensor, first_bin: int, max_bin: float, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """`_peak_candidates` of `|spectrum|` (`(F, S)` complex): from the bins up to just past
    `max_bin` when they decide all, else from all of them.

    They decide all when no two neighbours above `threshold` are equal there (no plateau) and
    no frame may end with Essentia's late check of the bin before Nyquist: that one has no
    peak there, or a single-bin peak within `_LOOKAHEAD` bins past `max_bin` ended its scan.
    """
    size = spectrum.shape[1]
    stop = math.floor(max_bin) + 3  # a single-bin peak at stop - 1 or later is past max_bin
    if stop + _LOOKAHEAD > size - 2:
        return _peak_candidates(_magnitude(spectrum), first_bin, max_bin, threshold)
    x = _magnitude(spectrum[:, first_bin : stop + _LOOKAHEAD])
    below_stop = x[:, : stop - first_bin]
    equal = _mask(torch.eq, below_stop[:, 1:], below_stop[:, :-1])
    plateau = (equal * below_stop[:, 1:]).amax() > threshold
    ended = _has_single_bin_peak(x[:, stop - first_bin - 2 :], threshold)
    at_nyquist = _has_single_bin_peak(_magnitude(spectrum[:, -3:]), threshold)
    if plateau or (at_nyquist & ~ended).any():
        return _peak_candidates(_magnitude(spectrum), first_bin, max_bin, threshold)
    return _single_bin_peaks(below_stop, first_bin, max_bin, threshold)


def _fold_pairs(x: torch.Tensor) -> torch.Tensor:
    """`(F, B)` -> `(F, ceil(B / 2))`: the sums of bins 0 and 1, 2 and 3, ..."""
    x = torch.nn.functional.pad(x, (0, x.shape[1] % 2))
    return x[:, 0::2] + x[:, 1::2]  # a strided add: far faster than a sum over a new axis


def _spectral_peaks(
    spectrum: torch.Tensor,
    bin_hz: float,
    min_frequency: float,
    max_frequency: float,
    max_peaks: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(F, S)` complex spectrum -> `(frequencies, magnitudes)`, each `(F, P)`: the
    `P <= max_peaks` loudest peaks of each frame, in no order; empty slots hold zeros."""
    # Essentia works in float32: the first bin is ceil(min / bin width) in that precision
    first_bin = max(0, math.ceil(np.float32(min_frequency) / np.float32(bin_hz)))
    max_bin = float(np.float32(max_frequency) / np.float32(bin_hz))
    loudness, position = _peaks(spectrum, first_bin, max_bin, MAGNITUDE_THRESHOLD)
    # no two neighbouring bins are both peaks: a sum folds each pair of bins into one slot
    # (the peak's, or zeros), halving the search for the loudest
    loudness, position = _fold_pairs(loudness), _fold_pairs(position)
    top, slot = torch.topk(loudness, min(max_peaks, loudness.shape[1]), dim=1, sorted=False)
    return torch.gather(position, 1, slot) * bin_hz, top


def _harmonic_table(harmonics: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`(semitones (H,), weights (H,))`: where harmonics 1..`harmonics`+1 lie above their
    fundamental (semitones modulo 12) and the weight each credits it, those at the same
    pitch class summed (HPCP::initHarmonicContributionTable); weight 1 up to two octaves up,
    less above."""
    table: list[list[float]] = []
    for h in range(1, harmonics + 2):
        semitone = 12.0 * math.log2(h)
        weight = 1.0 / max(1.0, semitone / 24.0)
        while semitone >= 12.0 - _MERGE_PRECISION:
            semitone -= 12.0
        same = [row for row in table if abs(row[0] - semitone) < _MERGE_PRECISION]
        if same:
            same[0][1] += weight
        else:
            table.append([semitone, weight])
    semitones, weights = zip(*table, strict=True)
    return torch.tensor(semitones), torch.tensor(weights)


def _unit_max(x: torch.Tensor) -> torch.Tensor:
    """Scale the last axis to a maximum of 1; all-zero rows stay zero."""
    peak = x.amax(dim=-1, keepdim=True)
    return torch.where(peak > 0, x / torch.where(peak > 0, peak, 1.0), x)


def _profile(
    frequencies: torch.Tensor,
    magnitudes: torch.Tensor,
    harmonics: int,
    min_frequency: float,
    max_frequency: float,
) -> torch.Tensor:
    """Peaks `(F, P)` -> HPCP `(F, 12)`, each frame scaled to a maximum of 1 (zero if none)."""
    semitones, weights = _harmonic_table(harmonics)
    # empty slots (frequency 0) and peaks out of range add nothing; the clamp keeps log2 finite
    above_min = _mask(torch.ge, frequencies, min_frequency)
    energy = magnitudes * magnitudes * above_min * _mask(torch.le, frequencies, max_frequency)
    # (F, P, H): the fractional semitone of each hypothetical fundamental, from A
    safe = torch.clamp(frequencies, min=1.0)
    pitch = (PITCH_CLASSES * torch.log2(safe / REFERENCE_FREQUENCY))[..., None] - semitones
    nearest = torch.floor(pitch + 0.5)
    closeness = torch.cos(math.pi * (pitch - nearest)) ** 2
    amount = closeness * (energy[..., None] * weights**2)
    # one 24-bin row per frame: the low band's 12 bins, then the high band's; the wrap into
    # 0..11 by floor division (torch.remainder is slower)
    pitch_class = nearest - PITCH_CLASSES * torch.floor(nearest / PITCH_CLASSES)
    high = _mask(torch.ge, frequencies, BAND_SPLIT_FREQUENCY)[..., None]
    target = (pitch_class + PITCH_CLASSES * high).long()
    bands = torch.zeros(len(frequencies), 2 * PITCH_CLASSES, dtype=amount.dtype)
    bands.scatter_add_(1, target.flatten(1), amount.flatten(1))
    per_band = _unit_max(bands.view(-1, 2, PITCH_CLASSES))
    return _unit_max(per_band.sum(dim=1))


def hpcp(
    audio: np.ndarray,
    sample_rate: int,
    frame_size: int = 4096,
    hop_size: int = 2048,
    min_frequency: float = 100.0,
    max_frequency: float = 4000.0,
    max_peaks: int = 100,
    harmonics: int = 8,
    window: str = "blackmanharris62",
) -> np.ndarray:
    """`audio (S,)` mono at `sample_rate` -> HPCP `(frames, 12)` float32, Essentia's
    (`evaluation/qmax.py`'s `hpcp_features`) without Essentia.

    `frames = hpcp_frame_count(S, frame_size, hop_size)`: frame k covers samples
    `[k * hop_size, k * hop_size + frame_size)`, the last zero-padded. Column 0 is A (440 Hz),
    column k is k semitones above A (3: C, 7: E, 10: G). Each frame's maximum is 1; a frame
    with no spectral peak between `min_frequency` and `max_frequency` Hz is all zeros.
    """
    assert audio.ndim == 1, f"audio must be (S,), got {audio.shape}"
    assert window in _COSINE_SUMS, f"window must be one of {sorted(_COSINE_SUMS)}, got {window!r}"
    # Essentia's FFT takes even sizes only
    assert frame_size >= 4 and frame_size % 2 == 0, f"frame_size={frame_size} must be even, >= 4"
    assert hop_size >= 1 and max_peaks >= 1 and harmonics >= 0
    # HPCP's own checks (hpcp.cpp): each band at least 200 Hz wide
    assert min_frequency + 200 <= BAND_SPLIT_FREQUENCY <= max_frequency - 200, (
        f"HPCP needs min_frequency + 200 <= {BAND_SPLIT_FREQUENCY} <= max_frequency - 200 Hz, "
        f"got {min_frequency}, {max_frequency}"
    )
    assert max_frequency <= sample_rate / 2, f"max_frequency={max_frequency} is above Nyquist"
    signal = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if len(signal) == 0:
        return np.zeros((0, PITCH_CLASSES), dtype=np.float32)
    taper = _window(window, frame_size)
    # PeakDetection's scale: the spectrum's N/2 + 1 bins span 0..Nyquist
    bin_hz = float(np.float32(sample_rate / 2.0) / np.float32(frame_size // 2))
    profiles = []
    # blocks of frames, not all at once: the temporaries stay small and in cache
    for frames in _frame_blocks(signal, frame_size, hop_size):
        peaks = _spectral_peaks(
            _spectrum(frames, taper), bin_hz, min_frequency, max_frequency, max_peaks
        )
        profiles.append(_profile(*peaks, harmonics, min_frequency, max_frequency))
    return torch.cat(profiles).numpy().astype(np.float32)
