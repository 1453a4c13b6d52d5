"""`indexing` after a tiny default run: the gallery table, the faiss index, and incremental updates."""

import numpy as np
import pandas as pd
import pytest
from kedro.io.core import Version, generate_timestamp
from project_helpers import run_session
from trained_project import TINY_MODEL, inside, trained_params, trained_project_copy

from coverhunter.data.chunking import chunk_starts
from coverhunter.datasets import CoverHunterModelDataset, FaissIndexDataset
from coverhunter.retrieval.fingerprint import model_fingerprint
from coverhunter.retrieval.index import search_tracks

FRAME_RATE = 25.0  # the CQT settings of conf/base: 16 kHz, hop 640


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return trained_project_copy(tmp_path_factory, "indexing")


def _read(project, layer, name):
    return pd.read_parquet(project / "data" / layer / "default" / f"{name}.parquet")


def _fine_model(project):
    """The latest version of the fine model (as the catalog loads it)."""
    folder = project / "data/06_models/default/fine_model"
    return CoverHunterModelDataset(filepath=str(folder), version=Version(None, None))


def test_gallery_holds_every_test_performance_cut_into_45_s_chunks(project):
    manifest = _read(project, "02_intermediate", "manifest")
    n_frames = (
        pd.read_parquet(project / "data/04_feature/default/cqt_store/index.parquet")
        .set_index("perf_id")
        .n_frames
    )
    chunks = _read(project, "07_model_output", "gallery_chunks")
    tracks = _read(project, "07_model_output", "gallery_embeddings")

    test = manifest[manifest.split == "test"]
    assert sorted(tracks.perf_id) == sorted(test.perf_id)
    assert (
        tracks.set_index("perf_id").work_id.to_dict() == test.set_index("perf_id").work_id.to_dict()
    )
    for perf_id, rows in chunks.groupby("perf_id"):
        starts = chunk_starts(int(n_frames[perf_id]), 1125, 1125, True, 250) / FRAME_RATE
        assert rows.start_s.tolist() == starts.tolist()
        assert rows.chunk_idx.tolist() == list(range(len(starts)))
    vectors = np.stack(chunks.embedding)
    assert vectors.shape == (len(chunks), TINY_MODEL["embedding_dim"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert tracks.n_chunks.sum() == len(chunks)
    np.testing.assert_allclose(np.linalg.norm(np.stack(tracks.embedding), axis=1), 1.0, atol=1e-5)


def test_index_round_trip_finds_each_chunk_itself_and_names_its_model(project):
    chunks = _read(project, "07_model_output", "gallery_chunks")
    folder = project / "data" / "06_models" / "default" / "gallery_index"
    index = FaissIndexDataset(filepath=str(folder / "gallery.faiss")).load()
    info = pd.read_json(folder / "info.json", typ="series")

    assert index.n_chunks == len(chunks) == info["n_chunks"]
    assert index.chunk_perf_ids.tolist() == chunks.perf_id.tolist()
    assert index.chunk_starts_s.tolist() == chunks.start_s.tolist()
    vectors = np.stack(chunks.embedding)
    hits = search_tracks(index, vectors, 1, 4, np.arange(len(vectors)))
    assert [h.perf_ids[0] for h in hits] == chunks.perf_id.tolist()
    np.testing.assert_allclose([h.distances[0] for h in hits], 0.0, atol=1e-5)

    model = _fine_model(project).load()["model"]
    assert info["model_fingerprint"] == model_fingerprint(model, model.config.to_dict())
    assert (info["chunk_s"], info["min_tail_s"], info["index_type"]) == (45.0, 10.0, "flat")


def test_added_performances_are_embedded_and_stored_ones_are_not(project):
    chunks_path = project / "data/07_model_output/default/gallery_chunks.parquet"
    before = pd.read_parquet(chunks_path)
    # A marker no model produces: if the old performance were embedded again, it would vanish.
    marked = before.perf_id.iloc[0]
    marker = np.zeros(TINY_MODEL["embedding_dim"], dtype=np.float32)
    marker[0] = 1.0
    stored = before.copy()
    stored["embedding"] = [
        marker if p == marked else e for p, e in zip(stored.perf_id, stored.embedding, strict=True)
    ]
    stored.to_parquet(chunks_path)

    with inside(project):
        run_session(project, ["indexing"], trained_params(gallery_splits=["val", "test"]))
    after = pd.read_parquet(chunks_path)
    manifest = _read(project, "02_intermediate", "manifest")
    assert set(after.perf_id) == set(manifest.perf_id[manifest.split.isin(["val", "test"])])
    assert set(after.perf_id) > set(before.perf_id)
    np.testing.assert_array_equal(np.stack(after.embedding[after.perf_id == marked]), [marker])
    index = FaissIndexDataset(
        filepath=str(project / "data/06_models/default/gallery_index/gallery.faiss")
    ).load()
    assert index.n_chunks == len(after)

    # A new fine model makes every stored embedding stale.
    model = _fine_model(project).load()
    # Negating the last affine map before the retrieval embedding negates every embedding, which
    # tells a re-embedded row from a stored one exactly: the BN-neck's scale and shift when the
    # neck is retrieved (conf/base), the bottleneck's weights otherwise.
    network = model["model"]
    if network.config.retrieval_embedding == "neck":
        network.neck.weight.data.mul_(-1.0)
        network.neck.bias.data.mul_(-1.0)
    else:
        network.bottleneck.weight.data.mul_(-1.0)
    CoverHunterModelDataset(
        filepath=str(project / "data/06_models/default/fine_model"),
        version=Version(None, generate_timestamp()),
    ).save(model)
    with inside(project):
        run_session(project, ["indexing"], trained_params(gallery_splits=["val", "test"]))
    again = pd.read_parquet(chunks_path)
    assert set(again.perf_id) == set(after.perf_id)
    assert not np.array_equal(np.stack(again.embedding[again.perf_id == marked]), [marker])
    flipped = np.stack(
        again.set_index(["perf_id", "chunk_idx"])
        .loc[after.set_index(["perf_id", "chunk_idx"]).index]
        .embedding
    )
    unmarked = (after.perf_id != marked).to_numpy()
    np.testing.assert_allclose(flipped[unmarked], -np.stack(after.embedding)[unmarked], atol=1e-5)
