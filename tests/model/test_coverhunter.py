import pytest
import torch

from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.losses import CoverHunterLoss, LossConfig

N_BINS = 96


def _tiny(**overrides) -> CoverHunter:
    settings = dict(d_model=16, n_heads=2, ffn_dim=32, n_blocks=1, kernel_size=5, embedding_dim=8)
    settings.update(overrides)
    return CoverHunter(CoverHunterConfig(**settings), generator=torch.Generator().manual_seed(0))


def _cqt(batch: int, frames: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, frames, N_BINS, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("pooling", ["attentive", "gem", "mean"])
def test_shapes_and_unit_norm_for_each_pooling(pooling):
    model = _tiny(pooling=pooling, n_classes=5).eval()
    cqt, lengths = _cqt(3, 40), torch.tensor([40, 31, 7])
    output = model(cqt, lengths)
    assert output.embedding.shape == (3, 8) and output.neck.shape == (3, 8)
    assert output.logits.shape == (3, 5)
    with torch.inference_mode():
        embedding = model.embed(cqt, lengths)
    assert embedding.shape == (3, 8)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(3), atol=1e-5)


def test_no_classifier_without_classes():
    assert _tiny().eval()(_cqt(2, 20), torch.tensor([20, 20])).logits is None


@pytest.mark.parametrize("retrieval_embedding", ["pre_neck", "neck"])
def test_padding_leaves_embedding_unchanged(retrieval_embedding):
    model = _tiny(retrieval_embedding=retrieval_embedding).eval()
    short = _cqt(1, 23, seed=1)
    batch = torch.zeros(2, 60, N_BINS)
    batch[0] = _cqt(1, 60, seed=2)[0]
    batch[1, :23] = short[0]
    batch[1, 23:] = 1e3  # garbage where the short chunk is padded
    with torch.inference_mode():
        alone = model.embed(short, torch.tensor([23]))
        together = model.embed(batch, torch.tensor([60, 23]))
    assert torch.allclose(alone[0], together[1], atol=1e-5)


def test_retrieval_embedding_selects_pre_neck_or_neck():
    model = _tiny().eval()
    cqt, lengths = _cqt(2, 30), torch.tensor([30, 25])
    with torch.inference_mode():
        output = model(cqt, lengths)
        assert torch.allclose(
            model.embed(cqt, lengths), output.embedding / output.embedding.norm(dim=1, keepdim=True)
        )
        model.config.retrieval_embedding = "neck"
        assert torch.allclose(
            model.embed(cqt, lengths), output.neck / output.neck.norm(dim=1, keepdim=True)
        )


def test_paper_config_runs_45_second_chunks():
    config = CoverHunterConfig(n_classes=10)
    assert (config.n_blocks, config.d_model, config.embedding_dim) == (6, 256, 128)
    model = CoverHunter(config, generator=torch.Generator().manual_seed(0)).eval()
    with torch.inference_mode():
        output = model(_cqt(2, 1125), torch.tensor([1125, 1000]))
    assert output.embedding.shape == (2, 128) and output.logits.shape == (2, 10)
    assert torch.isfinite(output.embedding).all()


def test_short_chunk_is_rejected_by_length():
    model = _tiny()
    assert model.min_frames == 7
    with pytest.raises(ValueError, match="chunk length 6 frames"):
        model(_cqt(1, 10), torch.tensor([6]))
    with pytest.raises(ValueError, match=r"expected \(B,T,96\)"):
        model(torch.zeros(1, 10, 84), torch.tensor([10]))


def _training_batch():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    cqt = _cqt(6, 32, seed=3) + 2.0 * labels.view(-1, 1, 1) * torch.linspace(-1, 1, N_BINS)
    return cqt, torch.tensor([32, 30, 32, 28, 32, 26]), labels


def test_gradients_reach_every_parameter():
    model = _tiny(n_classes=3).train()
    loss_fn = CoverHunterLoss(LossConfig(), 3, 8, torch.tensor([2, 2, 2]))
    cqt, lengths, labels = _training_batch()
    total, _ = loss_fn(model(cqt, lengths), labels)
    total.backward()
    named = list(model.named_parameters()) + list(loss_fn.named_parameters())
    trainable = [(name, p) for name, p in named if p.requires_grad]
    assert any(name == "center.centers" for name, _ in trainable)
    assert any(name.startswith("classifier") for name, _ in trainable)
    missing = [name for name, p in trainable if p.grad is None or not p.grad.any()]
    assert missing == []


def test_a_few_adam_steps_lower_the_loss():
    model = _tiny(n_classes=3, dropout=0.0, pool_mask_prob=0.0).train()
    loss_fn = CoverHunterLoss(LossConfig(), 3, 8, torch.tensor([2, 2, 2]))
    optimizer = torch.optim.Adam([*model.parameters(), *loss_fn.parameters()], lr=1e-2)
    cqt, lengths, labels = _training_batch()
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        total, _ = loss_fn(model(cqt, lengths), labels)
        total.backward()
        optimizer.step()
        losses.append(total.item())
    assert losses[-1] < 0.5 * losses[0]


def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(TypeError):
        CoverHunterConfig(**{"n_block": 6})
    with pytest.raises(ValueError, match="d_model=30"):
        CoverHunterConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="pooling='max'"):
        CoverHunterConfig(pooling="max")
    with pytest.raises(ValueError, match="subsampling=3"):
        CoverHunterConfig(subsampling=3)
    assert CoverHunterConfig(**CoverHunterConfig(d_model=32).to_dict()).d_model == 32


def test_num_parameters_counts_trainable_tensors():
    model = _tiny()
    frozen = model.neck.bias.numel()
    everything = sum(p.numel() for p in model.parameters())
    assert model.num_parameters() == everything - frozen
    assert model.num_parameters(trainable_only=False) == everything
