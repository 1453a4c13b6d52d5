"""Evaluation figures, read as a reader reads them: what the axes say, one legend entry per
series, and every point, bar and count where the data puts it (the Figure objects, not files)."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from coverhunter.evaluation.plots import distance_histograms, embedding_map, offset_histogram

INF = float("inf")


def _embeddings(n: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.nn.functional.normalize(torch.randn(n, 8, generator=gen), dim=1)


def _legend(ax) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None, "the axes have no legend"
    return [text.get_text() for text in legend.get_texts()]


@pytest.mark.parametrize(("method", "name"), [("pca", "PCA"), ("tsne", "t-SNE")])
def test_embedding_map_plots_one_point_per_embedding_and_names_its_projection(method, name):
    if method == "tsne":
        pytest.importorskip("sklearn")
    work_ids = ["a", "a", "b", "b", "c", "c", "c", "d", "d", "e", "e", "e"]
    fig = embedding_map(_embeddings(12), work_ids, seed=0, method=method)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    (points,) = ax.collections
    assert points.get_offsets().shape == (12, 2)
    assert (ax.get_xlabel(), ax.get_ylabel()) == (f"{name} 1", f"{name} 2")
    assert ax.get_title().startswith(f"{name} of 12 embeddings, 5 works")
    colours = points.get_facecolors()
    assert np.allclose(colours[0], colours[1]) and not np.allclose(colours[0], colours[2])


def test_embedding_map_keeps_works_apart_past_the_twenty_colours():
    # Work i gets colour i % 20 and marker i // 20: works 0 and 20 share a colour, not a marker.
    work_ids = [f"w{i:02d}" for i in range(25)]
    fig = embedding_map(_embeddings(25), work_ids, seed=0, method="pca")
    (points,) = fig.axes[0].collections
    colours, paths = points.get_facecolors(), points.get_paths()
    assert np.allclose(colours[0], colours[20])
    assert not np.array_equal(paths[0].vertices, paths[20].vertices)
    looks = {
        (tuple(np.round(c, 6)), p.vertices.tobytes()) for c, p in zip(colours, paths, strict=True)
    }
    assert len(looks) == 25


def test_embedding_map_pca_is_deterministic():
    x = _embeddings(6)
    first = embedding_map(x, list("aabbcc"), seed=0, method="pca").axes[0].collections[0]
    second = embedding_map(x, list("aabbcc"), seed=1, method="pca").axes[0].collections[0]
    np.testing.assert_allclose(first.get_offsets(), second.get_offsets())


def test_distance_histograms_label_both_axes_and_count_the_pairs_of_each_series():
    # 3 finite same-work distances, 4 different-work ones; the infs (self-matches) are left out
    dist = torch.tensor(
        [[INF, 0.1, 0.8, 0.7], [0.2, INF, 0.9, 0.6], [0.5, 0.95, INF, 0.3]], dtype=torch.float64
    )
    same = torch.tensor(
        [[True, True, False, False], [True, True, False, False], [False, False, True, True]]
    )
    fig = distance_histograms(dist, same, bins=5)
    (ax,) = fig.axes
    assert "cosine distance" in ax.get_xlabel() and "density" in ax.get_ylabel()
    assert _legend(ax) == ["different work (6 pairs)", "same work (3 pairs)"]
    different, same_work = ax.containers
    edges = np.linspace(0.1, 0.95, 6)
    for bars, values in (
        (different, [0.8, 0.7, 0.9, 0.6, 0.5, 0.95]),
        (same_work, [0.1, 0.2, 0.3]),
    ):
        assert len(bars.patches) == 5  # one bar per bin, the same bins for both
        np.testing.assert_allclose([p.get_x() for p in bars.patches], edges[:-1])
        heights = np.array([p.get_height() for p in bars.patches])
        counts, _ = np.histogram(values, bins=edges)
        np.testing.assert_allclose(heights, counts / (len(values) * np.diff(edges)))
        assert (heights * np.diff(edges)).sum() == pytest.approx(1.0)  # area 1: a density
    with pytest.raises(ValueError, match="shape"):
        distance_histograms(dist, same[:, :2])


def test_offset_histogram_has_one_bar_per_distinct_offset_at_that_offset():
    fig = offset_histogram([0.0, 7.5, 7.5, -7.5])
    (ax,) = fig.axes
    assert "offset" in ax.get_xlabel() and "(s)" in ax.get_xlabel()
    assert ax.get_ylabel() == "aligned pairs"
    bars = ax.patches
    assert [b.get_x() + b.get_width() / 2 for b in bars] == pytest.approx([-7.5, 0.0, 7.5])
    assert [b.get_height() for b in bars] == [1, 1, 2]
    assert max(b.get_width() for b in bars) < 7.5  # neighbours do not overlap
