"""The pitch stage's chroma of a recording (serving/chroma.py), from the CQT and from the audio."""

import sys

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt
from coverhunter.retrieval.pitch_rerank import PitchSettings, chroma_sequence
from coverhunter.serving.chroma import performance_chromas, recording_chroma

RATE = 16000


def _tone(f0: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 4))).astype(np.float32)


def test_the_cqt_source_is_the_chroma_of_the_stored_cqt():
    audio = _tone(261.6, 3.0)
    cqt = log_cqt(audio, CQTExtractor(CQTConfig()))
    settings = PitchSettings(chroma={"octaves": [2, 7], "peaks": True}, average_frames=5)
    torch.testing.assert_close(
        recording_chroma(cqt, None, RATE, settings), chroma_sequence(cqt, settings)
    )


def test_the_hpcp_source_reads_the_audio_and_averages_its_frames(tmp_path):
    # A4 (440 Hz): HPCP's bin 0 is A
    audio = _tone(440.0, 3.0)
    path = tmp_path / "a4.wav"
    sf.write(path, audio, RATE)
    settings = PitchSettings(source="hpcp", average_frames=2)
    (chroma,) = performance_chromas(
        ["a4"], lambda _: np.zeros((1, 96)), pd.Series({"a4": str(path)}), RATE, None, settings
    )
    frames = (len(audio) // 2048) // 2  # hop 2048 from the start, frames averaged 2 to 1
    assert abs(chroma.shape[0] - frames) <= 1 and chroma.shape[1] == 12
    assert np.bincount(chroma.argmax(1).numpy()).argmax() == 0


def test_the_hpcp_source_needs_no_essentia(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "essentia", None)  # what `import essentia` meets without it
    monkeypatch.setitem(sys.modules, "essentia.standard", None)
    settings = PitchSettings(source="hpcp", average_frames=1)
    chroma = recording_chroma(np.zeros((1, 96)), _tone(440.0, 2.0), RATE, settings)
    assert chroma.shape[1] == 12 and np.bincount(chroma.argmax(1).numpy()).argmax() == 0
