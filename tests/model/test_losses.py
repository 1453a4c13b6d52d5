import math

import pytest
import torch
import torch.nn.functional as F

from coverhunter.model.coverhunter import CoverHunterOutput
from coverhunter.model.losses import (
    CenterLoss,
    CoverHunterLoss,
    FocalLoss,
    LossConfig,
    TripletLoss,
)


def test_focal_with_gamma_0_and_uniform_alpha_is_cross_entropy():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 5, generator=generator)
    labels = torch.tensor([0, 1, 2, 3, 4, 4])
    expected = F.cross_entropy(logits, labels)
    assert torch.allclose(FocalLoss(None, gamma=0.0)(logits, labels), expected)
    equal_counts = torch.full((5,), 7)
    assert torch.allclose(FocalLoss(equal_counts, gamma=0.0)(logits, labels), expected)


def test_focal_by_hand_with_inverse_frequency_alpha():
    # Sample A: class 0, logits (0, 0) -> p = 1/2.  Sample B: class 1, logits (0, ln 3) -> p = 3/4.
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]])
    labels = torch.tensor([0, 1])
    focal_a = (1 - 0.5) ** 2 * -math.log(0.5)
    focal_b = (1 - 0.75) ** 2 * -math.log(0.75)
    # Counts 1 and 3 -> alpha proportional to 1 and 1/3; weighted mean over the batch.
    expected = (1.0 * focal_a + (1 / 3) * focal_b) / (1.0 + 1 / 3)
    loss = FocalLoss(torch.tensor([1, 3]), gamma=2.0)(logits, labels)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert FocalLoss(None, gamma=2.0)(logits, labels).item() == pytest.approx(
        (focal_a + focal_b) / 2, rel=1e-5
    )


def test_center_loss_by_hand():
    center = CenterLoss(2, 2)
    with torch.no_grad():
        center.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    # 0.5 * |(1,2)-(1,0)|^2 = 2 ; 0.5 * |(3,4)-(0,0)|^2 = 12.5 ; mean 7.25.
    assert center(x, torch.tensor([1, 0])).item() == pytest.approx(7.25)


def test_triplet_euclidean_on_four_points():
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [2.0, 0.0], [2.0, 3.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # Anchors a0, a1: d_p = 1, d_n = 2 and sqrt(5): both inside the margin -> 0.
    # b0: d_p = 3, d_n = min(2, sqrt 5) = 2 -> 1.3.  b1: d_p = 3, d_n = min(sqrt 13, sqrt 8).
    expected = (0 + 0 + 1.3 + (3 - math.sqrt(8) + 0.3)) / 4
    loss = TripletLoss(margin=0.3, distance="euclidean")(x, labels)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_triplet_cosine_on_four_points():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    s = 1 / math.sqrt(2)
    # a0: d_p = 1, d_n = 1 - s.  a1: same.  b0: d_p = 1 + s, d_n = 1 - s.  b1: d_p = 1 + s, d_n = 1.
    expected = ((s + 0.3) + (s + 0.3) + (2 * s + 0.3) + (s + 0.3)) / 4
    loss = TripletLoss(margin=0.3, distance="cosine")(x, labels)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_triplet_skips_anchors_without_positive():
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [2.0, 0.0]], requires_grad=True)
    # Only anchors 0 and 1 have a positive; both are satisfied (d_p 1, d_n 2 and sqrt 5)
    # except for margin: 1 - 2 + 1.5 = 0.5 and 1 - sqrt 5 + 1.5.
    loss = TripletLoss(margin=1.5)(x, torch.tensor([0, 0, 1]))
    assert loss.item() == pytest.approx((0.5 + 2.5 - math.sqrt(5)) / 2, rel=1e-5)
    alone = TripletLoss()(x, torch.tensor([0, 1, 2]))
    assert alone.item() == 0.0
    alone.backward()
    assert torch.isfinite(x.grad).all()


def _output(embedding, neck, logits):
    return CoverHunterOutput(embedding=embedding, neck=neck, logits=logits)


@pytest.mark.parametrize("center_on", ["neck", "embedding"])
def test_joint_loss_by_hand(center_on):
    loss_fn = CoverHunterLoss(LossConfig(center_on=center_on), n_classes=2, embedding_dim=2)
    with torch.no_grad():
        loss_fn.center.centers.zero_()
    embedding = torch.tensor([[1.0, 2.0], [3.0, 4.0], [3.0, 3.5]])
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)], [math.log(3.0), 0.0]])
    labels = torch.tensor([0, 1, 0])
    total, parts = loss_fn(_output(embedding, torch.zeros(3, 2), logits), labels)

    assert set(parts) == {"loss/focal", "loss/center", "loss/triplet"}
    assert all(not p.requires_grad and p.ndim == 0 for p in parts.values())
    # p_y = 1/2, 3/4, 3/4 (uniform alpha: no class_counts given).
    focal = (0.25 * math.log(2) + 2 * 0.0625 * -math.log(0.75)) / 3
    # Zero centers: 0.5 * mean |x|^2 over (1,2), (3,4), (3,3.5) for the embedding; 0 for the neck.
    center = 0.5 * (5 + 25 + 21.25) / 3 if center_on == "embedding" else 0.0
    # Anchor 0: d_p 2.5, d_n sqrt 8 -> 0. Anchor 2: d_p 2.5, d_n 0.5 -> 2.3. Anchor 1: no positive.
    triplet = (0.0 + 2.3) / 2
    assert parts["loss/focal"].item() == pytest.approx(focal, rel=1e-5)
    assert parts["loss/center"].item() == pytest.approx(center, rel=1e-5)
    assert parts["loss/triplet"].item() == pytest.approx(triplet, rel=1e-5)
    assert total.item() == pytest.approx(focal + 0.01 * center + 0.1 * triplet, rel=1e-5)


def test_zero_weight_terms_are_skipped():
    config = LossConfig(center_weight=0.0, triplet_weight=0.0)
    loss_fn = CoverHunterLoss(config, n_classes=2, embedding_dim=2)
    assert loss_fn.center is None and not list(loss_fn.parameters())
    logits = torch.tensor([[2.0, 0.0]])
    total, parts = loss_fn(_output(torch.ones(1, 2), torch.ones(1, 2), logits), torch.tensor([0]))
    assert parts["loss/center"].item() == 0.0 and parts["loss/triplet"].item() == 0.0
    assert total.item() == pytest.approx(parts["loss/focal"].item())


def test_bad_loss_settings_are_named():
    with pytest.raises(ValueError, match="triplet_distance='manhattan'"):
        LossConfig(triplet_distance="manhattan")
    with pytest.raises(ValueError, match="center_on='logits'"):
        LossConfig(center_on="logits")
    with pytest.raises(TypeError):
        LossConfig(**{"focal_wieght": 1.0})
    with pytest.raises(ValueError, match="class_counts shape"):
        CoverHunterLoss(LossConfig(), 3, 2, class_counts=torch.ones(2))
    with pytest.raises(ValueError, match="no classifier"):
        CoverHunterLoss(LossConfig(), 2, 2)(
            _output(torch.ones(1, 2), torch.ones(1, 2), None), torch.tensor([0])
        )
