"""Figures for the evaluation report: embedding map (paper Fig. 3), distance and offset histograms.

Figures are built with matplotlib's object API (`matplotlib.figure.Figure`), never `pyplot`, so
no GUI backend or global figure state is involved; `fig.savefig` renders them with Agg.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.markers import MarkerStyle
from matplotlib.path import Path

logger = logging.getLogger(__name__)

EMBEDDING_METHODS = ("auto", "tsne", "pca")
# Filled markers, cycled once the 20 colours of tab20 run out: work i gets colour i % 20 and
# marker i // 20, so up to 160 works keep a look of their own.
_WORK_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _pca_2d(x: np.ndarray) -> np.ndarray:
    """`(N, D)` -> `(N, 2)` projection on the two leading principal axes (zeros if D < 2)."""
    centred = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = np.zeros((x.shape[0], 2))
    proj = centred @ vt[:2].T
    out[:, : proj.shape[1]] = proj
    return out


def _tsne_2d(x: np.ndarray, seed: int, perplexity: float) -> np.ndarray:
    from sklearn.manifold import TSNE  # optional dependency, only for this plot

    # t-SNE needs perplexity < n_samples; tiny sets get a proportionally small one.
    perplexity = min(perplexity, max(1.0, (x.shape[0] - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        x
    )


def _project(x: np.ndarray, method: str, seed: int, perplexity: float) -> tuple[np.ndarray, str]:
    if method not in EMBEDDING_METHODS:
        raise ValueError(f"method must be one of {EMBEDDING_METHODS}, got {method!r}")
    if method in ("auto", "tsne") and x.shape[0] > 2:
        try:
            return _tsne_2d(x, seed, perplexity), "t-SNE"
        except ImportError:
            if method == "tsne":
                raise
            logger.info("scikit-learn is not installed; the embedding map uses PCA")
    return _pca_2d(x), "PCA"


def embedding_map(
    embeddings: torch.Tensor | np.ndarray,
    work_ids: Sequence[str],
    seed: int,
    method: str = "auto",
    perplexity: float = 30.0,
) -> Figure:
    """Scatter of `embeddings (N, D)` in 2-D, one colour and marker per work (paper Fig. 3).

    `method`: `"tsne"` (scikit-learn), `"pca"`, or `"auto"` (t-SNE when scikit-learn imports).
    `seed` fixes t-SNE's initialisation, so the same input gives the same picture.
    """
    x = torch.as_tensor(embeddings).detach().cpu().double().numpy()
    assert x.ndim == 2, f"embeddings must be (N, D), got {x.shape}"
    if len(work_ids) != x.shape[0]:
        raise ValueError(f"{len(work_ids)} work_ids for {x.shape[0]} embeddings")
    xy, used = _project(x, method, seed, perplexity)
    works, codes = np.unique(np.asarray(work_ids).astype(str), return_inverse=True)
    cmap = colormaps["tab20"]
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    points = ax.scatter(xy[:, 0], xy[:, 1], c=[cmap(c % cmap.N) for c in codes], s=18)
    points.set_paths(
        [_marker_path(_WORK_MARKERS[(c // cmap.N) % len(_WORK_MARKERS)]) for c in codes]
    )
    ax.set_title(
        f"{used} of {x.shape[0]} embeddings, {len(works)} works\n(one colour and marker per work)"
    )
    # The projection's axes have no unit, so no ticks; the labels say which projection it is.
    ax.set_xlabel(f"{used} 1")
    ax.set_ylabel(f"{used} 2")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _marker_path(marker: str) -> Path:
    """The path of `marker` in points, as one scatter call draws it for each of its points."""
    style = MarkerStyle(marker)
    return style.get_path().transformed(style.get_transform())


def distance_histograms(
    distances: torch.Tensor | np.ndarray,
    same_work_mask: torch.Tensor | np.ndarray,
    bins: int = 50,
) -> Figure:
    """Histograms of the finite `distances (Q, R)` for same-work and different-work pairs.

    Both share one set of `bins` edges, so the overlap of the two is read directly. Non-finite
    entries (the `+inf` of a query against itself) are left out.
    """
    d = torch.as_tensor(distances).detach().cpu().double().numpy()
    same = torch.as_tensor(same_work_mask).detach().cpu().numpy().astype(bool)
    if d.shape != same.shape:
        raise ValueError(f"distances {d.shape} and same_work_mask {same.shape} differ in shape")
    finite = np.isfinite(d)
    values = d[finite]
    lo, hi = (values.min(), values.max()) if values.size else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for mask, name in ((~same, "different work"), (same, "same work")):
        values = d[finite & mask]
        ax.hist(values, bins=edges, alpha=0.6, density=True, label=f"{name} ({values.size} pairs)")
    ax.set_xlabel("cosine distance (query to reference)")
    ax.set_ylabel("density (area of each histogram: 1)")
    ax.legend()
    return fig


def offset_histogram(offsets_s: Sequence[float] | np.ndarray) -> Figure:
    """One bar per distinct alignment offset (seconds), its height the number of pairs."""
    offsets = np.asarray(offsets_s, dtype=np.float64).reshape(-1)
    values, counts = np.unique(offsets, return_counts=True)
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    width = np.diff(values).min() * 0.8 if len(values) > 1 else 1.0
    ax.bar(values, counts, width=width)
    ax.set_xlabel("offset b - a (s)")
    ax.set_ylabel("aligned pairs")
    return fig
