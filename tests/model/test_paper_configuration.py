"""conf/paper builds the paper's model, and it runs end to end on a dummy batch."""

from pathlib import Path

import torch
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


def test_base_configuration_is_the_small_cpu_model():
    params = _parameters("local")["coarse_training"]["model"]
    assert params["d_model"] < 256 and params["n_blocks"] < 6
