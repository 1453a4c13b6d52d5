"""The fine model registered in MLflow loads in a fresh process without the Kedro project."""

import json
import os
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from trained_project import TINY_MODEL, trained_project_copy

# Runs in a new interpreter, outside the project: load by registry URI, embed one file.
PREDICT = """
import json, sys
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
out = model.predict(pd.DataFrame({"path": [sys.argv[3]]}))
print(json.dumps(out.tolist()))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return trained_project_copy(tmp_path_factory, "registry")


def test_default_run_registers_the_fine_model_as_champion(project):
    registered = json.loads(
        (project / "data/08_reporting/default/registered_model.json").read_text()
    )
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    champion = client.get_model_version_by_alias("coverhunter", "champion")
    assert registered["registered"] and registered["name"] == "coverhunter"
    assert str(champion.version) == registered["version"]
    metrics = json.loads(
        (project / "data/08_reporting/default/evaluation_metrics.json").read_text()
    )
    assert float(champion.tags["eval_mAP"]) == pytest.approx(metrics["fine"]["mAP"])


def test_registered_model_embeds_a_wav_file_in_a_fresh_process(project, tmp_path):
    registered = json.loads(
        (project / "data/08_reporting/default/registered_model.json").read_text()
    )
    manifest = pd.read_parquet(project / "data/02_intermediate/default/manifest.parquet")
    known = manifest[manifest.split == "test"].iloc[0]
    audio, rate = sf.read(known.path, dtype="float32")
    wav = tmp_path / "query.wav"
    sf.write(wav, audio, rate)  # the test's own file, with a gallery performance's content

    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            PREDICT,
            f"sqlite:///{project / 'mlflow.db'}",
            f"models:/coverhunter/{registered['version']}",
            str(wav),
        ],
        cwd=tmp_path,  # no Kedro project here
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    embedding = np.asarray(json.loads(result.stdout.strip().splitlines()[-1]))
    assert embedding.shape == (1, TINY_MODEL["embedding_dim"])
    assert np.linalg.norm(embedding[0]) == pytest.approx(1.0, abs=1e-5)
    # The same content as in the gallery: its track embedding, up to CQT batch padding.
    tracks = pd.read_parquet(project / "data/07_model_output/default/gallery_embeddings.parquet")
    gallery = tracks.set_index("perf_id").embedding[known.perf_id]
    assert float(embedding[0] @ gallery) > 0.99
