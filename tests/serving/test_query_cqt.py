"""The query's CQT front end: made once per process, its kernels kept between processes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt
from coverhunter.serving import query
from coverhunter.serving.query import cqt_extractor, kernel_file

CONFIG = CQTConfig()


@pytest.fixture
def fresh_process_state(monkeypatch):
    """No front end made earlier in this process: as a new `coverhunter identify` starts."""
    monkeypatch.setattr(query, "_EXTRACTORS", {})


def _tone(seconds: float = 2.0, freq: float = 330.0) -> np.ndarray:
    t = np.arange(int(seconds * CONFIG.sample_rate)) / CONFIG.sample_rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_a_front_end_is_made_once_per_settings_and_device(fresh_process_state):
    first = cqt_extractor(CONFIG, "cpu")
    assert cqt_extractor(CONFIG, "cpu") is first
    assert cqt_extractor(CQTConfig(method="multirate"), "cpu") is not first


def test_kernels_are_kept_in_the_cache_folder_and_read_back(fresh_process_state, tmp_path):
    made = cqt_extractor(CONFIG, "cpu", tmp_path)
    path = kernel_file(CONFIG, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    query._EXTRACTORS.clear()  # a new process: the file is read, not made again
    written = path.stat().st_mtime_ns
    read = cqt_extractor(CONFIG, "cpu", tmp_path)
    assert read is not made and path.stat().st_mtime_ns == written
    np.testing.assert_array_equal(log_cqt(_tone(), read), log_cqt(_tone(), CQTExtractor(CONFIG)))


def test_other_settings_have_their_own_kernel_file(tmp_path):
    assert kernel_file(CONFIG, tmp_path) != kernel_file(CQTConfig(fmin=40.0), tmp_path)
    assert kernel_file(CONFIG, tmp_path) == kernel_file(CQTConfig(), tmp_path)


def test_a_damaged_kernel_file_is_made_again(fresh_process_state, tmp_path):
    path = kernel_file(CONFIG, tmp_path)
    path.write_bytes(b"not a tensor file")
    extractor = cqt_extractor(CONFIG, "cpu", tmp_path)
    np.testing.assert_array_equal(
        log_cqt(_tone(), extractor), log_cqt(_tone(), CQTExtractor(CONFIG))
    )
    assert path.stat().st_size > 1_000_000  # rewritten whole


def test_a_new_process_with_kept_kernels_imports_no_nnaudio(fresh_process_state, tmp_path):
    cqt_extractor(CONFIG, "cpu", tmp_path)  # kept by this process (or an earlier one)
    script = (
        "import json, sys\n"
        "from coverhunter.audio.cqt import CQTConfig\n"
        "from coverhunter.serving.query import cqt_extractor\n"
        f"cqt_extractor(CQTConfig(), 'cpu', {str(tmp_path)!r})\n"
        "print(json.dumps([m for m in ('nnAudio', 'scipy.signal') if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == []
