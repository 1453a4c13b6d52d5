"""Evaluation figures: right kind of object, right number of points and bars."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from coverhunter.evaluation.plots import distance_histograms, embedding_map, offset_histogram


def _embeddings(n: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.nn.functional.normalize(torch.randn(n, 8, generator=gen), dim=1)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embedding_map_plots_one_point_per_embedding(method):
    if method == "tsne":
        pytest.importorskip("sklearn")
    work_ids = ["a", "a", "b", "b", "c", "c", "c", "d", "d", "e", "e", "e"]
    fig = embedding_map(_embeddings(12), work_ids, seed=0, method=method)
    assert isinstance(fig, Figure)
    (points,) = fig.axes[0].collections
    assert points.get_offsets().shape == (12, 2)
    colours = points.get_facecolors()
    assert np.allclose(colours[0], colours[1]) and not np.allclose(colours[0], colours[2])


def test_embedding_map_pca_is_deterministic():
    x = _embeddings(6)
    first = embedding_map(x, list("aabbcc"), seed=0, method="pca").axes[0].collections[0]
    second = embedding_map(x, list("aabbcc"), seed=1, method="pca").axes[0].collections[0]
    np.testing.assert_allclose(first.get_offsets(), second.get_offsets())


def test_distance_histograms_have_two_histograms_of_the_given_bins():
    dist = torch.tensor([[float("inf"), 0.1, 0.8], [0.2, float("inf"), 0.9]])
    same = torch.tensor([[True, True, False], [True, True, False]])
    fig = distance_histograms(dist, same, bins=5)
    ax = fig.axes[0]
    assert len(ax.patches) == 10
    with pytest.raises(ValueError, match="shape"):
        distance_histograms(dist, same[:, :2])


def test_offset_histogram_has_one_bar_per_distinct_offset():
    fig = offset_histogram([0.0, 7.5, 7.5, -7.5])
    bars = fig.axes[0].patches
    assert [b.get_height() for b in bars] == [1, 1, 2]
