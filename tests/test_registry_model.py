"""The fine model registered in MLflow: it loads in a fresh process without the Kedro project,
states what it needs installed, and the champion alias moves only to a better model."""

import ast
import json
import os
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from kedro.io.core import Version
from project_helpers import run_session
from trained_project import TINY_MODEL, inside, trained_project_copy

from coverhunter.datasets import CoverHunterModelDataset
from coverhunter.persistence.model_folder import save_model_folder
from coverhunter.serving.pyfunc import REQUIREMENTS
from coverhunter.serving.ship import ship

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
    assert champion.tags["eval_collection"] == "default"
    assert len(champion.tags["eval_queries_fingerprint"]) == 32
    assert registered["promoted"] and registered["reason"] == "there was no champion"
    run = client.get_run(registered["run_id"])
    assert run.data.tags["champion.promoted"] == "true"
    assert run.data.tags["champion.reason"] == "there was no champion"


def _third_party_imports_of_the_serving_path() -> set[str]:
    """Top-level names that the package's modules loaded by `coverhunter.serving.pyfunc` import
    (anywhere in the file, lazily too), found in a fresh interpreter."""
    code = (
        "import json, sys\n"
        "import coverhunter.serving.pyfunc\n"
        "print(json.dumps([m.__file__ for n, m in list(sys.modules.items())"
        " if n.startswith('coverhunter') and getattr(m, '__file__', None)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    names = set()
    for path in json.loads(out.stdout.strip().splitlines()[-1]):
        for node in ast.walk(ast.parse(Path(path).read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names}


def test_the_pyfunc_requirements_cover_what_its_serving_path_imports():
    distributions = packages_distributions()
    required = {name.lower() for name in REQUIREMENTS} | {"mlflow"}  # mlflow adds itself
    missing = {
        name: distributions.get(name, [name])
        for name in _third_party_imports_of_the_serving_path()
        if not {d.lower() for d in distributions.get(name, [name])} & required
    }
    assert not missing, f"imported by the pyfunc but not in its requirements: {missing}"
    assert {"coverhunter", "scipy"} <= required


def test_the_registered_model_pins_the_package_and_scipy(project):
    registered = json.loads(
        (project / "data/08_reporting/default/registered_model.json").read_text()
    )
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    path = mlflow.pyfunc.get_model_dependencies(registered["model_uri"])
    pinned = {line.split("==")[0] for line in Path(path).read_text().split() if "==" in line}
    assert {"coverhunter", "scipy", "torch", "nnAudio", "faiss-cpu", "mlflow"} <= pinned


def test_registered_model_embeds_a_wav_file_in_a_fresh_process(project, tmp_path):
    registered = json.loads(
        (project / "data/08_reporting/default/registered_model.json").read_text()
    )
    manifest = pd.read_parquet(project / "data/02_intermediate/default/manifest.parquet")
    known = manifest[manifest.split == "test"].iloc[0]
    audio, rate = sf.read(project / known.path, dtype="float32")  # relative to the project
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


def _register_again(project) -> dict:
    """Run the registration node alone, on what the catalog holds; its registered_model."""
    with inside(project):
        run_session(project, ["evaluation"], node_names=["register_fine_model_node"])
    return json.loads((project / "data/08_reporting/default/registered_model.json").read_text())


def test_the_champion_moves_only_to_a_better_model_on_the_same_queries(tmp_path_factory):
    project = trained_project_copy(tmp_path_factory, "registry_champion")
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    metrics_file = project / "data/08_reporting/default/evaluation_metrics.json"
    metrics = json.loads(metrics_file.read_text())

    def champion() -> str:
        return str(client.get_model_version_by_alias("coverhunter", "champion").version)

    first = champion()
    same = _register_again(project)  # the same model and scores: not better
    assert same["version"] != first and champion() == first
    assert not same["promoted"] and "does not beat" in same["reason"]
    tags = client.get_run(same["run_id"]).data.tags
    assert tags["champion.promoted"] == "false" and tags["champion.reason"] == same["reason"]

    metrics["fine"]["mAP"] += 0.1  # a better score on the same queries
    metrics_file.write_text(json.dumps(metrics))
    better = _register_again(project)
    assert better["promoted"] and champion() == better["version"] == better["champion_version"]
    assert "beats" in better["reason"]

    gallery_file = project / "data/07_model_output/default/gallery_embeddings.parquet"
    pd.read_parquet(gallery_file).iloc[1:].to_parquet(gallery_file)  # one query fewer
    metrics["fine"]["mAP"] += 0.1
    metrics_file.write_text(json.dumps(metrics))
    elsewhere = _register_again(project)
    assert not elsewhere["promoted"] and champion() == better["version"]
    assert "other queries" in elsewhere["reason"]


def _register_shipped(project) -> dict:
    with inside(project):
        run_session(project, ["evaluation"], node_names=["register_shipped_model_node"])
    folder = project / "data/08_reporting/default"
    return json.loads((folder / "registered_shipped_model.json").read_text())


def test_the_shipped_model_is_registered_once_per_weights(tmp_path_factory, tmp_path):
    project = trained_project_copy(tmp_path_factory, "registry_shipped")
    shipped = project / "src/coverhunter/pretrained/base"  # the catalog's `pretrained_model`
    assert _register_shipped(project) == {"registered": False, "reason": "no model is shipped"}

    fine = CoverHunterModelDataset(
        filepath=str(project / "data/06_models/default/fine_model"), version=Version(None, None)
    ).load()
    save_model_folder(tmp_path / "trained", fine["model"], {"stage": "fine"})
    sha = ship(tmp_path / "trained", shipped)
    metrics_file = project / "data/08_reporting/default/evaluation_metrics.json"
    metrics = json.loads(metrics_file.read_text())
    metrics["pretrained"] = {**metrics["fine"], "mAP": 0.123}  # its zero-shot row
    metrics_file.write_text(json.dumps(metrics))

    first = _register_shipped(project)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    version = client.get_model_version("coverhunter-pretrained", first["version"])
    assert first["registered"] and version.tags["weights_sha256"] == sha
    assert float(version.tags["eval_mAP"]) == pytest.approx(0.123)
    assert first["alias"] is None and not version.aliases  # the champion is the fine model's

    again = _register_shipped(project)
    assert again == {
        "registered": False,
        "reason": "already registered",
        "name": "coverhunter-pretrained",
        "version": first["version"],
    }
    assert len(client.search_model_versions("name = 'coverhunter-pretrained'")) == 1
