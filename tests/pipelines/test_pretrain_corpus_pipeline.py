"""`kedro run --env pretrain --pipelines pretrain_corpus`: the pretraining corpus lands under the
collection `pretrain` without `--params collection=...`, and `--params collection=X` still wins."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from project_helpers import run_session

from coverhunter.data.feature_store import FeatureStore
from coverhunter.pipeline_registry import register_pipelines
from coverhunter.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[2] / "conf"

# Two works of 2 short versions; the default collection replayed with 2 works only.
TINY = {
    "pretrain_corpus": {
        "n_works": 2,
        "min_versions": 2,
        "max_versions": 2,
        "min_duration_s": 10.0,
        "max_duration_s": 12.0,
        "min_val_works": 1,
        "n_jobs": 1,
        "n_fillers": 4,
    },
    "ingest": {
        "rendered_corpus": {
            "n_works": 2,
            "min_excerpt_s": 5.0,
            "max_excerpt_s": 10.0,
            "max_prelude_s": 3.0,
            "max_outro_s": 2.0,
            "n_fillers": 4,
        }
    },
}


@pytest.mark.pipeline
def test_pretrain_env_writes_the_corpus_under_its_own_collection(
    kedro_project, fluidsynth_soundfont
):
    run_session(kedro_project, ["pretrain_corpus"], TINY, env="pretrain")

    manifest = pd.read_parquet(
        kedro_project / "data" / "02_intermediate" / "pretrain" / "manifest.parquet"
    )
    assert list(manifest.columns[:6]) == [
        "perf_id", "work_id", "path", "duration_s", "sample_rate", "split",
    ]  # fmt: skip
    assert len(manifest) == 4 and manifest.work_id.nunique() == 2
    assert sorted(manifest.split.unique()) == ["train", "val"]
    assert {"true_offset_s", "var_structure", "var_melody", "var_harmony", "var_texture"} <= set(
        manifest.columns
    )
    store = FeatureStore(kedro_project / "data" / "04_feature" / "pretrain" / "cqt_store")
    assert set(store) == set(manifest.perf_id)
    rejects = kedro_project / "data" / "02_intermediate" / "pretrain" / "ingest_rejects.parquet"
    assert pd.read_parquet(rejects).empty
    assert not list((kedro_project / "data").glob("*/default"))  # nothing of the default collection


def _paths(env: str | None, runtime_params: dict) -> tuple[str, str, str]:
    loader = OmegaConfigLoader(
        str(CONF), **CONFIG_LOADER_ARGS, env=env, runtime_params=runtime_params
    )
    catalog, parameters = loader["catalog"], loader["parameters"]
    return (
        parameters["collection"],
        catalog["manifest"]["filepath"],
        parameters["coarse_training"]["checkpoint_dir"],
    )


def test_the_collection_comes_from_globals_and_the_command_line_wins():
    assert _paths(None, {}) == (
        "default",
        "data/02_intermediate/default/manifest.parquet",
        "data/06_models/default/checkpoints/coarse",
    )
    assert _paths("pretrain", {}) == (
        "pretrain",
        "data/02_intermediate/pretrain/manifest.parquet",
        "data/06_models/pretrain/checkpoints/coarse",
    )
    assert _paths("pretrain", {"collection": "mine"})[:2] == (
        "mine",
        "data/02_intermediate/mine/manifest.parquet",
    )
    assert _paths("paper", {})[0] == "default"


def test_pretrain_pipelines_are_registered_outside_the_default_run():
    pipelines = register_pipelines()
    corpus = {n.name for n in pipelines["pretrain_corpus"].nodes}
    assert corpus == {"build_pretrain_corpus_node"}
    training = {
        n.name
        for name in ("coarse_training", "alignment", "fine_training")
        for n in pipelines[name].nodes
    }
    assert {n.name for n in pipelines["pretrain"].nodes} == corpus | training
    assert not corpus & {n.name for n in pipelines["__default__"].nodes}
