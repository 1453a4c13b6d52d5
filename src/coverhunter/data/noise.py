"""The noise bank the augmenter mixes into training chunks: MUSAN-style files, or coloured noise.

Given a folder, every audio file under it (recursively: MUSAN keeps `noise/free-sound/*.wav` and
`noise/sound-bible/*.wav`) is decoded at the training sample rate and turned into a log-CQT by the
`extract` callable the caller passes (the same front end as the training features). Files that do
not decode are skipped with a warning naming them. Without a folder, or when it holds no usable
file, white, pink and brown noise are generated instead, so noise mixing always has material.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from coverhunter.audio.augment import AugmentConfig, Augmenter
from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt
from coverhunter.audio.io import AUDIO_EXTENSIONS, AudioDecodeError, load_audio, peak_normalise

logger = logging.getLogger(__name__)

# Spectral slope of each colour: power density proportional to 1 / f^exponent.
NOISE_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def coloured_noise(n_samples: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """`(n_samples,)` float32 noise whose power density falls as `1 / f^exponent`, peak 1.

    Shapes the spectrum of white Gaussian noise: exponent 0 white, 1 pink, 2 brown.
    """
    if n_samples < 2:
        raise ValueError(f"coloured noise needs at least 2 samples, got {n_samples}")
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs = np.fft.rfftfreq(n_samples)
    freqs[0] = freqs[1]  # the DC bin would divide by zero; give it the lowest band's weight
    samples = np.fft.irfft(spectrum / freqs ** (exponent / 2.0), n=n_samples)
    return (samples / np.max(np.abs(samples))).astype(np.float32)


def generate_noise_audio(
    n_items: int, n_samples: int, rng: np.random.Generator
) -> list[tuple[str, np.ndarray]]:
    """`n_items` clips of `(n_samples,)` audio cycling through white, pink and brown noise."""
    colours = list(NOISE_COLOURS.items())
    clips = []
    for index in range(n_items):
        name, exponent = colours[index % len(colours)]
        clips.append((f"{name}-{index}", coloured_noise(n_samples, exponent, rng)))
    return clips


def find_audio_files(folder: Path) -> list[Path]:
    """Every audio file under `folder`, recursively, in a stable (sorted) order."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS
    )


def _checked(log_cqt: np.ndarray, source: Path | str) -> np.ndarray:
    log_cqt = np.asarray(log_cqt, dtype=np.float32)
    if log_cqt.ndim != 2 or log_cqt.shape[0] == 0:
        raise ValueError(f"extract gave shape {log_cqt.shape} for noise {source}, expected (T, F)")
    return log_cqt


def load_noise_bank(
    noise_dir: Path | str | None,
    extract: Callable[[np.ndarray], np.ndarray],
    sample_rate: int,
    rng: np.random.Generator,
    *,
    n_generated: int = 16,
    duration_s: float = 30.0,
) -> list[np.ndarray]:
    """Noise log-CQTs `[(T_i, F)]`: from the audio files under `noise_dir`, else generated.

    `extract` maps audio `(S,)` float32 at `sample_rate` to a log-CQT `(T, F)`. Generated noise
    is `n_generated` clips of `duration_s` seconds drawn from `rng`, used only when `noise_dir`
    is None: a folder that was named but holds no usable audio is a ValueError naming it (the
    run would otherwise train on other noise than the one asked for).
    """
    bank: list[np.ndarray] = []
    if noise_dir is not None:
        noise_dir = Path(noise_dir)
        if not noise_dir.is_dir():
            raise ValueError(f"noise_dir {noise_dir} is not a folder")
        skipped: list[str] = []
        for path in find_audio_files(noise_dir):
            try:
                audio = load_audio(path, sample_rate)
            except AudioDecodeError as error:
                logger.warning("Skipping noise file %s: %s", path, error.reason)
                skipped.append(f"{path.name}: {error.reason}")
                continue
            if audio.size == 0:
                logger.warning("Skipping noise file %s: no samples", path)
                skipped.append(f"{path.name}: no samples")
                continue
            bank.append(_checked(extract(audio), path))
        if bank:
            logger.info("Noise bank: %d files from %s", len(bank), noise_dir)
            return bank
        found = f"{len(skipped)} unusable, e.g. {skipped[0]}" if skipped else "no audio files"
        raise ValueError(
            f"noise_dir {noise_dir} holds no usable audio ({found}); add noise recordings "
            "there, or set noise_dir: null to train with generated noise"
        )
    if n_generated < 1:
        raise ValueError(
            f"n_generated must be at least 1 when no noise file is usable, got {n_generated}"
        )
    n_samples = int(round(duration_s * sample_rate))
    for name, audio in generate_noise_audio(n_generated, n_samples, rng):
        bank.append(_checked(extract(audio), name))
    logger.info("Noise bank: %d generated clips of %.1f s", len(bank), duration_s)
    return bank


def make_augmenter(
    augment: Mapping[str, Any],
    noise_dir: str | Path | None,
    cqt: CQTConfig,
    seed: int,
) -> Augmenter:
    """The paper's on-the-fly augmentations, with noise log-CQTs from `noise_dir` (or generated)."""
    config = AugmentConfig(**dict(augment))
    bank = None
    if config.noise_prob > 0:
        extractor = CQTExtractor(cqt)
        bank = load_noise_bank(
            Path(noise_dir) if noise_dir else None,
            lambda audio: log_cqt(peak_normalise(audio), extractor),
            cqt.sample_rate,
            np.random.default_rng(seed),
        )
    return Augmenter(config, bank)
