"""Synth voices: clearly distinct timbres that render one note each, band-limited and vectorised.

Harmonic voices read a one-period wavetable built with an inverse FFT from the harmonic
amplitudes (only harmonics below the Nyquist limit, so high notes do not alias); voices whose
spectrum changes during the note cross-fade a bright and a dull table. The bell is FM.
Every note is peak-normalised so that timbre, not level, is what tells the voices apart.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

VOICES = ("flute", "clarinet", "brass", "strings", "organ", "pluck", "bell")

_TABLE_SIZE = 2048
_MAX_HARMONICS = 48
# Harmonics stop short of Nyquist so the linear wavetable interpolation does not fold them back.
_NYQUIST_MARGIN = 0.45


def midi_to_hz(midi: float) -> float:
    """Equal-tempered frequency of a MIDI note number (69 = A4 = 440 Hz)."""
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def _n_harmonics(freq: float, sample_rate: int) -> int:
    return int(max(1, min(_MAX_HARMONICS, (_NYQUIST_MARGIN * sample_rate) // freq)))


def _wavetable(amplitudes: np.ndarray) -> np.ndarray:
    """One period of sum_k a_k sin(2 pi k x), sampled at _TABLE_SIZE points plus a wrap point."""
    spectrum = np.zeros(_TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spectrum[1 : len(amplitudes) + 1] = -0.5j * _TABLE_SIZE * np.asarray(amplitudes)
    table = np.fft.irfft(spectrum, _TABLE_SIZE)
    table /= max(np.max(np.abs(table)), 1e-12)
    return np.append(table, table[0])


def _read_table(table: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """Linear-interpolated wavetable lookup at phases given in cycles `(n,)`."""
    position = (cycles % 1.0) * _TABLE_SIZE
    index = position.astype(np.int64)
    frac = position - index
    return table[index] + frac * (table[index + 1] - table[index])


def _phase(freq: float, n: int, sample_rate: int, vibrato_hz=0.0, vibrato_depth=0.0, delay_s=0.0):
    """Running phase in cycles `(n,)`, with an optional vibrato that fades in after `delay_s`."""
    t = np.arange(n) / sample_rate
    if vibrato_depth == 0.0:
        return freq * t
    depth = vibrato_depth * np.clip((t - delay_s) / 0.2, 0.0, 1.0)
    inst = freq * (1.0 + depth * np.sin(2 * np.pi * vibrato_hz * t))
    return np.cumsum(inst) / sample_rate


def _adsr(n_on: int, n_total: int, attack: int, decay: int, sustain: float) -> np.ndarray:
    """Attack-decay-sustain while held (`n_on` samples), then a linear release to zero."""
    env = np.full(n_total, sustain)
    a = min(attack, n_on)
    env[:a] = np.linspace(0.0, 1.0, a, endpoint=False) if a else env[:a]
    d = min(decay, max(n_on - a, 0))
    env[a : a + d] = 1.0 + (sustain - 1.0) * np.linspace(0.0, 1.0, d, endpoint=False)
    level = env[n_on - 1] if n_on > 0 else 0.0
    n_release = n_total - n_on
    env[n_on:] = level * np.linspace(1.0, 0.0, n_release, endpoint=False)
    return env


def _sawtooth(k: np.ndarray) -> np.ndarray:
    return 1.0 / k


def _lowpass(k: np.ndarray, freq: float, cutoff_hz: float) -> np.ndarray:
    return 1.0 / np.sqrt(1.0 + (k * freq / cutoff_hz) ** 4)


def _flute(freq, n_on, sample_rate):
    n = n_on + int(0.08 * sample_rate)
    table = _wavetable(np.array([1.0, 0.22, 0.08, 0.03])[: _n_harmonics(freq, sample_rate)])
    wave = _read_table(table, _phase(freq, n, sample_rate, 5.0, 0.006, 0.15))
    return wave * _adsr(n_on, n, int(0.05 * sample_rate), int(0.1 * sample_rate), 0.8)


def _clarinet(freq, n_on, sample_rate):
    n = n_on + int(0.05 * sample_rate)
    k = np.arange(1, _n_harmonics(freq, sample_rate) + 1)
    amplitudes = np.where(k % 2 == 1, 1.0 / k, 0.03 / k) * _lowpass(k, freq, 2500.0)
    wave = _read_table(_wavetable(amplitudes), _phase(freq, n, sample_rate))
    return wave * _adsr(n_on, n, int(0.03 * sample_rate), int(0.05 * sample_rate), 0.9)


def _brass(freq, n_on, sample_rate):
    n = n_on + int(0.1 * sample_rate)
    k = np.arange(1, _n_harmonics(freq, sample_rate) + 1)
    cycles = _phase(freq, n, sample_rate)
    bright = _read_table(_wavetable(_sawtooth(k) * _lowpass(k, freq, 3000.0)), cycles)
    dull = _read_table(_wavetable(_sawtooth(k) * _lowpass(k, freq, 700.0)), cycles)
    # The filter opens with the attack and closes as the note settles, like a brass swell.
    t = np.arange(n) / sample_rate
    brightness = np.clip(t / 0.06, 0.0, 1.0) * (0.4 + 0.6 * np.exp(-t / 0.25))
    wave = brightness * bright + (1.0 - brightness) * dull
    return wave * _adsr(n_on, n, int(0.04 * sample_rate), int(0.2 * sample_rate), 0.75)


def _strings(freq, n_on, sample_rate):
    n = n_on + int(0.25 * sample_rate)
    k = np.arange(1, _n_harmonics(freq, sample_rate) + 1)
    table = _wavetable(_sawtooth(k) * _lowpass(k, freq, 2200.0))
    # Two slightly detuned saws beat against each other: the ensemble sound.
    wave = 0.5 * _read_table(table, _phase(freq * 1.004, n, sample_rate, 5.5, 0.004, 0.2))
    wave += 0.5 * _read_table(table, _phase(freq * 0.996, n, sample_rate, 5.0, 0.004, 0.25))
    return wave * _adsr(n_on, n, int(0.12 * sample_rate), int(0.1 * sample_rate), 0.85)


def _organ(freq, n_on, sample_rate):
    n = n_on + int(0.03 * sample_rate)
    drawbars = {1: 1.0, 2: 0.7, 3: 0.45, 4: 0.35, 6: 0.2, 8: 0.15}
    amplitudes = np.zeros(_n_harmonics(freq, sample_rate))
    for harmonic, level in drawbars.items():
        if harmonic <= len(amplitudes):
            amplitudes[harmonic - 1] = level
    wave = _read_table(_wavetable(amplitudes), _phase(freq, n, sample_rate))
    tremolo = 1.0 - 0.08 * (1 + np.sin(2 * np.pi * 6.0 * np.arange(n) / sample_rate))
    return wave * tremolo * _adsr(n_on, n, int(0.01 * sample_rate), 0, 1.0)


def _pluck(freq, n_on, sample_rate):
    n = n_on + int(0.3 * sample_rate)
    k = np.arange(1, _n_harmonics(freq, sample_rate) + 1)
    cycles = _phase(freq, n, sample_rate)
    bright = _read_table(_wavetable(_sawtooth(k) ** 0.8), cycles)
    dull = _read_table(_wavetable(np.array([1.0, 0.3, 0.1])[: len(k)]), cycles)
    t = np.arange(n) / sample_rate
    # High partials die first (as in a Karplus-Strong string); low notes ring longer.
    brightness = np.exp(-t / 0.05)
    decay = np.exp(-t / (0.7 * (261.6 / freq) ** 0.3))
    wave = (brightness * bright + (1.0 - brightness) * dull) * decay
    return wave * _adsr(n_on, n, int(0.003 * sample_rate), 0, 1.0)


def _bell(freq, n_on, sample_rate):
    n = n_on + int(0.6 * sample_rate)
    t = np.arange(n) / sample_rate
    # FM with a non-integer ratio gives the inharmonic partials of a bell; the index decays so
    # the strike is bright and the tail nearly pure. The peak index keeps the significant
    # sidebands (about index + 1 of them) below Nyquist for high notes.
    ratio = 1.4
    peak_index = np.clip((_NYQUIST_MARGIN * sample_rate - freq) / (ratio * freq) - 1.0, 0.0, 3.0)
    index = peak_index * np.exp(-t / 0.4)
    wave = np.sin(2 * np.pi * freq * t + index * np.sin(2 * np.pi * ratio * freq * t))
    return wave * np.exp(-t / 1.2) * _adsr(n_on, n, int(0.002 * sample_rate), 0, 1.0)


_RENDERERS: dict[str, Callable[[float, int, int], np.ndarray]] = {
    "flute": _flute,
    "clarinet": _clarinet,
    "brass": _brass,
    "strings": _strings,
    "organ": _organ,
    "pluck": _pluck,
    "bell": _bell,
}


def render_note(voice: str, midi: int, n_on: int, sample_rate: int) -> np.ndarray:
    """One note `(n_on + release,)` float32, peak 1: held for `n_on` samples, then released."""
    if voice not in _RENDERERS:
        raise ValueError(f"unknown voice {voice!r}; choose one of {VOICES}")
    if n_on < 1:
        raise ValueError(f"a note must last at least one sample, got n_on={n_on}")
    wave = _RENDERERS[voice](midi_to_hz(midi), n_on, sample_rate)
    return (wave / max(float(np.max(np.abs(wave))), 1e-12)).astype(np.float32)
