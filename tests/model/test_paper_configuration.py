"""conf/paper builds the paper's model, says every choice the paper makes, and runs end to end
on a dummy batch."""

from pathlib import Path

import pytest
import torch
import yaml
from kedro.config import OmegaConfigLoader

from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.losses import CoverHunterLoss, LossConfig

CONF = Path(__file__).resolve().parents[2] / "conf"


def _parameters(env: str) -> dict:
    from coverhunter.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(str(CONF), **{**CONFIG_LOADER_ARGS, "default_run_env": env})
    return loader["parameters"]


def test_paper_configuration_shapes_end_to_end():
    params = _parameters("paper")["coarse_training"]
    assert params["sampler"]["p_works"] * params["sampler"]["k_items"] == 256  # batch 256
    n_classes = 10
    model = CoverHunter(CoverHunterConfig(**params["model"], n_classes=n_classes))
    assert (model.config.n_blocks, model.config.d_model, model.config.embedding_dim) == (
        6,
        256,
        128,
    )
    loss = CoverHunterLoss(LossConfig(**params["loss"]), n_classes, model.config.embedding_dim)
    cqt = torch.randn(2, 375, 96)  # two 15 s chunks
    lengths = torch.tensor([375, 300])
    labels = torch.tensor([0, 1])
    output = model(cqt, lengths)
    assert output.embedding.shape == (2, 128) and output.neck.shape == (2, 128)
    assert output.logits.shape == (2, n_classes)
    total, parts = loss(output, labels)
    total.backward()
    assert set(parts) == {"loss/focal", "loss/center", "loss/triplet"}
    model.eval()
    with torch.inference_mode():
        embedding = model.embed(cqt, lengths)
    torch.testing.assert_close(embedding.norm(dim=1), torch.ones(2))


def _own_file(env: str, name: str) -> dict:
    """One parameters file of an env as written (no merge with conf/base)."""
    return yaml.safe_load((CONF / env / f"parameters_{name}.yml").read_text())


# Read only by the chroma_lags front end, which the paper does not use.
NOT_A_PAPER_CHOICE = {"chroma_lags", "chroma_octaves"}


@pytest.mark.parametrize("stage", ["coarse_training", "fine_training"])
@pytest.mark.parametrize("section", ["model", "loss", "augment"])
def test_paper_sets_every_model_loss_and_augment_setting_itself(stage, section):
    """A setting left to conf/base would follow the CPU default (it once inherited
    `retrieval_embedding: neck`): conf/paper writes each one of them."""
    base = _own_file("base", stage)[stage][section]
    paper = _own_file("paper", stage)[stage][section]
    assert set(base) - NOT_A_PAPER_CHOICE <= set(paper), sorted(set(base) - set(paper))


def test_the_paper_values():
    params = _parameters("paper")
    coarse, fine = params["coarse_training"], params["fine_training"]
    assert fine["model"] == coarse["model"] and fine["loss"] == coarse["loss"]  # same network
    model = CoverHunterConfig(**coarse["model"])
    assert model.front_end == "cqt" and model.input_pool == 1  # the CQT itself, every frame
    assert model.retrieval_embedding == "pre_neck"  # II-C: the embedding before the bottleneck
    assert (model.d_model, model.n_blocks, model.embedding_dim) == (256, 6, 128)
    assert model.subsampling_channels == 0 and model.pooling == "attentive"
    loss = LossConfig(**coarse["loss"])
    weights = (loss.focal_weight, loss.center_weight, loss.triplet_weight)
    assert weights == (1.0, 0.01, 0.1) and (loss.focal_gamma, loss.triplet_margin) == (2.0, 0.3)
    for stage in (coarse, fine):
        training = stage["training"]
        assert (training["lr"], training["lr_decay"], training["lr_decay_every"]) == (
            1e-3,
            0.95,
            1000,
        )
        assert stage["sampler"]["p_works"] * stage["sampler"]["k_items"] == 256
        assert stage["augment"]["pitch_prob"] > 0 and stage["augment"]["volume_db"] == [-6.0, 0.0]
        assert stage["augment"]["snr_db"] == [-10.0, 30.0]
    assert (coarse["sampler"]["chunk_s"], coarse["sampler"]["chunk_hop_s"]) == (15.0, 7.5)
    assert fine["init"] == "scratch" and fine["sampler"]["multi_length"]
    assert (fine["sampler"]["fine_min_s"], fine["sampler"]["fine_max_s"]) == (15.0, 45.0)
    alignment = params["alignment"]
    assert (alignment["threshold"], alignment["min_matches"]) == (0.9, 1)
    assert (alignment["chunk_s"], alignment["chunk_hop_s"]) == (15.0, 7.5)
    assert params["indexing"]["chunk_s"] == 45.0


def test_base_configuration_is_the_small_cpu_model():
    params = _parameters("local")["coarse_training"]["model"]
    assert params["d_model"] < 256 and params["n_blocks"] < 6
