"""Every kind of bad input in one run: each reject named with its reason, the rest go on."""

import numpy as np
import pandas as pd
import soundfile as sf

from coverhunter.data.validation import ValidationConfig, validate_recordings

CONFIG = ValidationConfig(min_duration_s=5.0, max_duration_s=12.0, n_jobs=2)


def _write(path, seconds, rate=16000, channels=1, amplitude=0.5, freq=330.0):
    t = np.arange(int(seconds * rate)) / rate
    mono = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    sf.write(path, mono if channels == 1 else np.stack([mono] * channels, axis=1), rate)
    return str(path)


def test_every_bad_case_is_rejected_with_its_reason_and_the_rest_kept(tmp_path):
    (tmp_path / "empty.flac").write_bytes(b"")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    rows = [
        ("a1", "A", _write(tmp_path / "a1.wav", 6.0)),
        ("a2", "A", _write(tmp_path / "a2.flac", 15.0, rate=44100, channels=2)),  # long, stereo
        ("b1", "B", _write(tmp_path / "b1.wav", 7.0, rate=8000)),
        ("b2", "B", str(tmp_path / "missing.wav")),
        ("b3", "B", str(tmp_path / "empty.flac")),
        ("b4", "B", str(tmp_path / "corrupt.wav")),
        ("b5", "B", _write(tmp_path / "silent.wav", 6.0, amplitude=0.0)),
        ("b6", "B", _write(tmp_path / "short.wav", 2.0)),
        ("a1", "A", _write(tmp_path / "a1_again.wav", 6.0)),  # duplicate perf_id
        ("c1", "C", _write(tmp_path / "c1.ogg", 6.0)),  # a work with one version
        ("", "C", _write(tmp_path / "noid.wav", 6.0)),
    ]
    listing = pd.DataFrame(rows, columns=["perf_id", "work_id", "path"])

    usable, rejects = validate_recordings(listing, CONFIG)

    assert list(usable.perf_id) == ["a1", "a2", "b1", "c1"]
    reasons = dict(zip(rejects.path.map(lambda p: p.split("/")[-1]), rejects.reason, strict=True))
    assert reasons["missing.wav"] == "file not found"
    assert reasons["empty.flac"] == "zero-length file"
    assert reasons["corrupt.wav"].startswith("unreadable or corrupt audio")
    assert reasons["silent.wav"].startswith("silent")
    assert reasons["short.wav"] == "too short (2.00 s < 5 s)"
    assert reasons["a1_again.wav"] == f"duplicate perf_id (first listed at {tmp_path}/a1.wav)"
    assert reasons["noid.wav"] == "empty perf_id"
    assert list(rejects.columns) == ["path", "perf_id", "reason"]

    facts = usable.set_index("perf_id")
    assert facts.loc["a2", "truncated"] and facts.loc["a2", "duration_s"] == 12.0
    assert facts.loc["a2", "channels"] == 2 and facts.loc["a2", "sample_rate"] == 44100
    assert facts.loc["b1", "sample_rate"] == 8000 and not facts.loc["b1", "truncated"]
    assert abs(facts.loc["a1", "duration_s"] - 6.0) < 1e-6


def test_nothing_in_the_audio_folder_is_written(tmp_path):
    paths = [_write(tmp_path / f"{i}.wav", 6.0) for i in range(3)]
    before = {p: (tmp_path / p).stat().st_mtime_ns for p in paths}
    listing = pd.DataFrame({"perf_id": ["x", "y", "z"], "work_id": ["W"] * 3, "path": paths})
    validate_recordings(listing, CONFIG)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.wav", "1.wav", "2.wav"]
    assert before == {p: (tmp_path / p).stat().st_mtime_ns for p in paths}
