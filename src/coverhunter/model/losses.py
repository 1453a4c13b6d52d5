"""CoverHunter's joint loss (paper Section II-C, eqs. 1-4).

L_total = w_focal * focal(logits) + w_center * center(neck or embedding) + w_tri * triplet(embedding)

- Focal loss on the classifier logits, which are computed from the post-bottleneck (BN-neck)
  feature; alpha per class inversely proportional to the class's sample count.
- Center loss on the post-bottleneck feature (paper); ``center_on="embedding"`` uses the
  pre-neck embedding as the authors' code does (their configs also set its weight to 0).
- Batch-hard triplet loss on the pre-bottleneck embedding.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from coverhunter.model.checks import check_at_least, check_choice
from coverhunter.model.coverhunter import CoverHunterOutput

__all__ = [
    "CenterLoss",
    "CoverHunterLoss",
    "FocalLoss",
    "LossConfig",
    "TripletLoss",
    "pairwise_distances",
]

DISTANCES = ("euclidean", "cosine")
CENTER_INPUTS = ("neck", "embedding")

# Floor under squared distances before the square root: sqrt has an infinite slope at 0.
_SQUARED_DISTANCE_FLOOR = 1e-12


def pairwise_distances(x: torch.Tensor, distance: str) -> torch.Tensor:
    """All pairwise distances of a batch; (B,D) -> (B,B).

    ``"euclidean"``: L2 distance. ``"cosine"``: 1 - cosine similarity.
    """
    assert x.ndim == 2, x.shape
    if distance == "euclidean":
        squared = (x.unsqueeze(1) - x.unsqueeze(0)).pow(2).sum(dim=-1)
        return squared.clamp(min=_SQUARED_DISTANCE_FLOOR).sqrt()
    if distance == "cosine":
        unit = F.normalize(x, dim=-1)
        return 1.0 - unit @ unit.T
    raise ValueError(f"distance={distance!r}; expected one of {DISTANCES}")


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): ``-alpha_y (1 - p_y)^gamma log p_y``.

    The per-sample alpha weights are normalised over the batch (weighted mean, as the authors'
    code does), so uniform alpha gives a plain mean and gamma 0 gives cross-entropy.

    Args:
        class_counts: (C,) samples per class; alpha_c is proportional to 1 / count_c (a count
            of 0 is treated as 1). None gives uniform alpha.
        gamma: focusing parameter.
    """

    def __init__(self, class_counts: torch.Tensor | None = None, gamma: float = 2.0):
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma={gamma} must be >= 0")
        self.gamma = gamma
        if class_counts is None:
            self.alpha: torch.Tensor | None = None
        else:
            if class_counts.ndim != 1 or bool((class_counts < 0).any()):
                raise ValueError(f"class_counts must be a 1-D non-negative tensor: {class_counts}")
            alpha = 1.0 / class_counts.float().clamp(min=1.0)
            self.register_buffer("alpha", alpha / alpha.sum())

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """logits: (B,C), labels: (B,) long -> 0-dim loss."""
        assert logits.ndim == 2 and labels.ndim == 1, (logits.shape, labels.shape)
        log_p = F.log_softmax(logits.float(), dim=-1).gather(1, labels.unsqueeze(1)).squeeze(1)
        losses = -((1.0 - log_p.exp()).pow(self.gamma)) * log_p  # (B,)
        if self.alpha is None:
            return losses.mean()
        weights = self.alpha[labels]
        return (weights * losses).sum() / weights.sum()


class CenterLoss(nn.Module):
    """Center loss (Wen et al. 2016): mean over the batch of ``0.5 * ||x_i - c_{y_i}||^2``.

    The centers are learnable parameters, initialised from N(0, 1) as the authors do.
    """

    def __init__(self, n_classes: int, dim: int, generator: torch.Generator | None = None):
        super().__init__()
        self.centers = nn.Parameter(torch.randn(n_classes, dim, generator=generator))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """x: (B,D), labels: (B,) long -> 0-dim loss."""
        assert x.ndim == 2 and labels.ndim == 1, (x.shape, labels.shape)
        return 0.5 * (x.float() - self.centers[labels]).pow(2).sum(dim=-1).mean()


class TripletLoss(nn.Module):
    """Batch-hard triplet loss (Hermans et al. 2017): per anchor, the farthest positive and the
    nearest negative in the batch, ``relu(d_p - d_n + margin)``, averaged over anchors that
    have both a positive and a negative (0 when none has).
    """

    def __init__(self, margin: float = 0.3, distance: str = "euclidean"):
        super().__init__()
        if distance not in DISTANCES:
            raise ValueError(f"distance={distance!r}; expected one of {DISTANCES}")
        if margin < 0:
            raise ValueError(f"margin={margin} must be >= 0")
        self.margin = margin
        self.distance = distance

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """x: (B,D), labels: (B,) long -> 0-dim loss."""
        assert x.ndim == 2 and labels.ndim == 1, (x.shape, labels.shape)
        distances = pairwise_distances(x.float(), self.distance)  # (B,B)
        same = labels.unsqueeze(0) == labels.unsqueeze(1)
        positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        hardest_positive = distances.masked_fill(~positive, float("-inf")).amax(dim=1)
        hardest_negative = distances.masked_fill(same, float("inf")).amin(dim=1)
        valid = positive.any(dim=1) & (~same).any(dim=1)  # (B,)
        # Masking with where (not indexing) keeps the graph and avoids a device sync.
        gaps = F.relu(hardest_positive - hardest_negative + self.margin)
        gaps = torch.where(valid, gaps, torch.zeros_like(gaps))
        return gaps.sum() / valid.sum().clamp(min=1)


@dataclass
class LossConfig:
    """Weights and settings of the joint loss; paper values are the defaults."""

    focal_weight: float = 1.0
    center_weight: float = 0.01
    triplet_weight: float = 0.1
    focal_gamma: float = 2.0
    # Alpha by inverse class frequency (paper); False gives uniform alpha.
    focal_alpha: bool = True
    triplet_margin: float = 0.3
    triplet_distance: str = "euclidean"
    center_on: str = "neck"

    def __post_init__(self) -> None:
        weights = ("focal_weight", "center_weight", "triplet_weight")
        check_at_least(self, (*weights, "focal_gamma", "triplet_margin"), 0)
        check_choice(self, "triplet_distance", DISTANCES)
        check_choice(self, "center_on", CENTER_INPUTS)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class CoverHunterLoss(nn.Module):
    """The weighted sum of focal, center and triplet losses.

    A term with weight 0 is not computed (and the center loss then has no parameters). The
    returned parts are detached 0-dim tensors named as the MLflow metrics: ``loss/focal``,
    ``loss/center``, ``loss/triplet`` (a skipped term reports 0).

    Args:
        config: loss weights and settings.
        n_classes: classifier size; must match the model's.
        embedding_dim: D of the model's embedding (center dimension).
        class_counts: (n_classes,) training samples per class, for the focal alpha.
        generator: RNG for the center initialisation.
    """

    def __init__(
        self,
        config: LossConfig,
        n_classes: int,
        embedding_dim: int,
        class_counts: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if n_classes < 1:
            raise ValueError(f"n_classes={n_classes} must be >= 1 to train with the focal loss")
        if class_counts is not None and class_counts.shape != (n_classes,):
            raise ValueError(
                f"class_counts shape {tuple(class_counts.shape)}; expected ({n_classes},)"
            )
        self.config = config
        self.n_classes = n_classes
        self.focal = FocalLoss(class_counts if config.focal_alpha else None, config.focal_gamma)
        self.center = (
            CenterLoss(n_classes, embedding_dim, generator) if config.center_weight > 0 else None
        )
        self.triplet = TripletLoss(config.triplet_margin, config.triplet_distance)

    def forward(
        self, output: CoverHunterOutput, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """output: a CoverHunter forward pass over B chunks, labels: (B,) long.

        Returns:
            (total 0-dim tensor, parts dict of detached 0-dim tensors).
        """
        if output.logits is None:
            raise ValueError("the model has no classifier (n_classes=0); the focal loss needs one")
        if output.logits.shape[-1] != self.n_classes:
            raise ValueError(
                f"model has {output.logits.shape[-1]} classes, loss has {self.n_classes}"
            )
        cfg = self.config
        zero = output.embedding.new_zeros(())
        focal = self.focal(output.logits, labels)
        if self.center is not None:
            center_input = output.neck if cfg.center_on == "neck" else output.embedding
            center = self.center(center_input, labels)
        else:
            center = zero
        triplet = self.triplet(output.embedding, labels) if cfg.triplet_weight > 0 else zero
        total = cfg.focal_weight * focal + cfg.center_weight * center + cfg.triplet_weight * triplet
        parts = {
            "loss/focal": focal.detach(),
            "loss/center": center.detach(),
            "loss/triplet": triplet.detach(),
        }
        return total, parts
