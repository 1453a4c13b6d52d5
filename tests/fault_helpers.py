"""What the fault-injection tests share: real audio files, listings, MLflow runs, file trees."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

KEDRO = str(Path(sys.executable).parent / "kedro")


def write_tone(path: Path, seconds: float, freq: float = 330.0, rate: int = 16000) -> Path:
    """A harmonic tone (three partials) at -6 dBFS: music as far as every check is concerned."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * rate))) / rate
    tone = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3))
    sf.write(path, (0.5 * tone / np.max(np.abs(tone))).astype(np.float32), rate)
    return path


def user_listing(root: Path, rows: list[tuple[str, str, str]], seconds: float = 6.0) -> Path:
    """A CSV listing (perf_id, work_id, path) whose paths are tones written under `root/audio`."""
    for index, (_, _, name) in enumerate(rows):
        audio = root / "audio" / name
        if not audio.exists():
            write_tone(audio, seconds, freq=220.0 * 2 ** (index / 12))
    listing = root / "listing.csv"
    table = pd.DataFrame(
        [(p, w, f"audio/{name}") for p, w, name in rows], columns=["perf_id", "work_id", "path"]
    )
    table.to_csv(listing, index=False)
    return listing


def csv_params(listing: Path, **ingest) -> dict:
    return {"ingest": {"source": "csv", "path": str(listing), "min_duration_s": 5.0, **ingest}}


def mlflow_runs(project: Path) -> list:
    """Every run of the project's `coverhunter` experiment, newest first."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("coverhunter")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time (what "nothing written"
    compares)."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file() or path.is_symlink()
    }


def kedro_env() -> dict[str, str]:
    """The environment of a `kedro` subprocess: no telemetry, wide log lines."""
    return {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "COLUMNS": "250"}
