import numpy as np
import pytest

from coverhunter.alignment.threshold import impostor_threshold


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_the_threshold_is_the_quantile_of_similarities_across_works_only():
    rng = np.random.default_rng(0)
    work_ids = np.repeat([f"w{i}" for i in range(20)], 5)
    # chunks of one work lie close together, so same-work similarities are near 1
    centres = rng.normal(size=(20, 16))
    vectors = _unit(np.repeat(centres, 5, axis=0) + 0.1 * rng.normal(size=(100, 16)))
    similarity = vectors @ vectors.T
    across = work_ids[:, None] != work_ids[None, :]
    for quantile in (0.5, 0.99):
        exact = np.quantile(similarity[across], quantile)
        assert impostor_threshold(work_ids, vectors, quantile) == pytest.approx(exact, abs=0.02)
    assert impostor_threshold(work_ids, vectors, 0.99) < np.quantile(similarity[~across], 0.1)


def test_the_same_seed_gives_the_same_threshold():
    rng = np.random.default_rng(1)
    work_ids = np.repeat(["a", "b", "c"], 4)
    vectors = _unit(rng.normal(size=(12, 8)))
    first = impostor_threshold(work_ids, vectors, 0.9, max_pairs=500, seed=3)
    assert first == impostor_threshold(work_ids, vectors, 0.9, max_pairs=500, seed=3)


@pytest.mark.parametrize(
    ("work_ids", "quantile", "match"),
    [
        (["a", "a"], 0.9, "at least two works"),
        (["a", "b"], 1.0, "quantile"),
        (["a"], 0.5, "1 work ids for 2"),
    ],
)
def test_bad_input_is_named(work_ids, quantile, match):
    with pytest.raises(ValueError, match=match):
        impostor_threshold(np.array(work_ids), np.eye(2, dtype=np.float32), quantile)
