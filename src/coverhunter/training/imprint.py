"""A warm start's new classifier and centers set from the works' own embeddings (imprinting).

When a trained model starts a stage over other works (the pretraining's 9,696 after the 1,000
it learned), its classifier and the center loss's centers are new. Drawn at random, they pull
every embedding toward a random point: from the shipped model on the 10,000-work corpus the
validation mAP fell from 0.133 at step 0 to 0.033 at step 1,000, the focal loss flat at
ln(9,696) and the triplet loss at its margin (the embeddings collapsed) — with 8 works a batch a
work's row of the classifier is seen once in ~1,200 steps, so the encoder is wrecked before the
head has learned anything. Imprinted (Qi et al., "Low-shot learning with imprinted weights",
2018), the head starts where the encoder already puts each work: a work's row of the classifier
is the direction of the mean BN-neck vector of its recordings, as long as the start model's rows,
and its center is that mean (of the vector the center loss sees). The fine stage keeps the coarse
stage's classifier (the same works) but its centers are new: those alone are imprinted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from coverhunter.data.batches import collate_batch
from coverhunter.model.coverhunter import CoverHunter
from coverhunter.model.losses import CoverHunterLoss

HEAD_INITS = ("random", "imprint")


def stage_head_init(requested: str, has_start: bool) -> str:
    """The head_init a stage's parameters ask for, or "random" from scratch: a model built afresh
    has no embeddings to imprint from, and the stage's `head_init` is documented as ignored."""
    return requested if has_start else "random"


@dataclass(frozen=True)
class WorkMeans:
    neck: torch.Tensor  # (C, D) mean BN-neck vector of each work's chunks
    embedding: torch.Tensor  # (C, D) mean pre-neck embedding


def middle_chunks(batches, label: int) -> list[torch.Tensor]:
    """One unaugmented chunk of each of a work's recordings: the middle one of its coarse grid
    (`batches`: a `data.batches` source; `chunks_of`, `features`, `config`)."""
    n_frames = batches.config.frames(batches.config.chunk_s)
    chunks = []
    for perf, starts in batches.chunks_of[label]:
        start = int(starts[len(starts) // 2])
        frames = np.asarray(batches.features[perf][start : start + n_frames], dtype=np.float32)
        chunks.append(torch.from_numpy(frames))
    return chunks


@torch.no_grad()
def work_means(
    model: CoverHunter, batches, device: torch.device, batch_size: int = 64
) -> WorkMeans:
    """Each of `batches.n_classes` works' mean neck and embedding over `middle_chunks`, by
    `model` in eval mode (its mode is restored)."""
    was_training = model.training
    model.eval().to(device)
    dim = model.config.embedding_dim
    neck = torch.zeros(batches.n_classes, dim)
    embedding = torch.zeros(batches.n_classes, dim)
    counts = torch.zeros(batches.n_classes)
    rows = [
        (chunk, label)
        for label in range(batches.n_classes)
        for chunk in middle_chunks(batches, label)
    ]
    for first in range(0, len(rows), batch_size):
        batch = collate_batch(rows[first : first + batch_size])
        output = model(batch.cqt.to(device), batch.lengths.to(device))
        neck.index_add_(0, batch.labels, output.neck.float().cpu())
        embedding.index_add_(0, batch.labels, output.embedding.float().cpu())
        counts.index_add_(0, batch.labels, torch.ones(len(batch.labels)))
    model.train(was_training)
    counts = counts.clamp(min=1)[:, None]
    return WorkMeans(neck=neck / counts, embedding=embedding / counts)


@torch.no_grad()
def imprint_head(
    model: CoverHunter,
    loss_fn: CoverHunterLoss,
    means: WorkMeans,
    row_norm: float,
    classifier: bool = True,
) -> None:
    """Set the classifier's rows to the works' mean neck directions scaled to `row_norm` (unless
    `classifier` is False: a classifier the start model carried over for the same works), and
    the center loss's centers (when it has any) to the means of the vector it pulls (a model
    carries no centers, so they are always new)."""
    if classifier and model.classifier is not None:
        weight = model.classifier.weight
        weight.copy_(F.normalize(means.neck, dim=1).to(weight) * row_norm)
    if loss_fn.center is not None:
        centered = means.neck if loss_fn.config.center_on == "neck" else means.embedding
        loss_fn.center.centers.copy_(centered.to(loss_fn.center.centers))


def start_row_norm(start: CoverHunter, fallback: float = 1.0) -> float:
    """The mean length of the start model's classifier rows (the scale its logits were learned
    at), or `fallback` when it has no classifier."""
    if start.classifier is None:
        return fallback
    return float(start.classifier.weight.detach().norm(dim=1).mean())
