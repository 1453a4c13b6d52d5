"""A warm start's new head imprinted from the works' embeddings (training/imprint.py)."""

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from coverhunter.data.batches import CoarseBatchSource, SamplerConfig
from coverhunter.data.chunking import chunk_starts
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.losses import CoverHunterLoss, LossConfig
from coverhunter.training.config import TrainingConfig
from coverhunter.training.imprint import (
    imprint_head,
    middle_chunks,
    stage_head_init,
    start_row_norm,
    work_means,
)
from coverhunter.training.stage import train_stage

N_BINS = 24
SMALL = {"d_model": 16, "n_heads": 2, "ffn_dim": 32, "n_blocks": 1, "kernel_size": 5}
# perf_id -> (work_id, frames); 1 frame a second, chunks 10, hop 5
PERFS = {"p0": ("w0", 40), "p1": ("w0", 25), "p2": ("w1", 30), "p3": ("w1", 12), "p4": ("w2", 50)}
PERFS |= {"p5": ("w2", 33), "p6": ("w3", 20), "p7": ("w3", 44)}


def _features(distinct: bool) -> dict[str, np.ndarray]:
    """Each work's recordings share a spectral profile (its own when `distinct`), plus noise;
    with `distinct` False, frame t of perf i holds 1000 i + t in every bin (where it was cut)."""
    rng = np.random.default_rng(0)
    profiles = {work: rng.normal(0, 2, N_BINS) for work in {w for w, _ in PERFS.values()}}
    features = {}
    for index, (perf, (work, n_frames)) in enumerate(PERFS.items()):
        if distinct:
            frames = profiles[work] + rng.normal(0, 0.5, (n_frames, N_BINS))
        else:
            frames = np.repeat((1000.0 * index + np.arange(n_frames))[:, None], N_BINS, axis=1)
        # float16 as the feature store keeps them; positions need float32's whole numbers
        features[perf] = frames.astype(np.float16 if distinct else np.float32)
    return features


def _source(distinct: bool = True) -> CoarseBatchSource:
    items = pd.DataFrame({"perf_id": list(PERFS), "work_id": [w for w, _ in PERFS.values()]})
    config = SamplerConfig(p_works=2, k_items=2, frame_rate=1.0, chunk_s=10, chunk_hop_s=5)
    return CoarseBatchSource(_features(distinct), items, config, None, seed=0)


def _model(seed: int, n_classes: int) -> CoverHunter:
    config = CoverHunterConfig(
        **SMALL, n_bins=N_BINS, subsampling=2, embedding_dim=8, n_classes=n_classes
    )
    return CoverHunter(config, generator=torch.Generator().manual_seed(seed)).eval()


def test_each_recording_gives_the_middle_chunk_of_its_grid():
    source = _source(distinct=False)
    for label in range(source.n_classes):
        chunks = middle_chunks(source, label)
        assert len(chunks) == len(source.chunks_of[label])
        for chunk, (perf, _) in zip(chunks, source.chunks_of[label], strict=True):
            starts = chunk_starts(PERFS[perf][1], 10, 5)
            start = int(starts[len(starts) // 2])
            first = 1000 * list(PERFS).index(perf) + start
            assert chunk.dtype == torch.float32
            assert torch.equal(chunk[:, 0], first + torch.arange(len(chunk), dtype=torch.float32))


def test_rows_point_at_each_works_mean_neck_and_centers_sit_on_it():
    source, model = _source(), _model(1, 4)
    loss_fn = CoverHunterLoss(LossConfig(), 4, 8, source.class_counts)
    means = work_means(model, source, torch.device("cpu"), batch_size=3)
    for label in range(4):  # the mean restated: one forward of the work's chunks alone
        chunks = middle_chunks(source, label)
        lengths = torch.tensor([len(c) for c in chunks])
        padded = torch.nn.utils.rnn.pad_sequence(chunks, batch_first=True)
        with torch.no_grad():
            output = model(padded, lengths)
        torch.testing.assert_close(means.neck[label], output.neck.mean(0), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(means.embedding[label], output.embedding.mean(0))
    imprint_head(model, loss_fn, means, row_norm=2.5)
    weight = model.classifier.weight.detach()
    torch.testing.assert_close(weight.norm(dim=1), torch.full((4,), 2.5))
    torch.testing.assert_close(F.normalize(weight, dim=1), F.normalize(means.neck, dim=1))
    assert torch.equal(loss_fn.center.centers.detach(), means.neck)
    on_embedding = CoverHunterLoss(LossConfig(center_on="embedding"), 4, 8, source.class_counts)
    imprint_head(model, on_embedding, means, row_norm=1.0)
    assert torch.equal(on_embedding.center.centers.detach(), means.embedding)


def test_an_imprinted_head_knows_the_works_a_random_one_does_not():
    """From the same encoder, the imprinted head classifies the works' chunks and its loss is
    below the random head's, whose loss sits near ln(works)."""
    source = _source()
    start = _model(1, 4)
    random_head, imprinted = _model(1, 4), _model(1, 4)
    random_head.classifier.weight.data.normal_(0, 1, generator=torch.Generator().manual_seed(2))
    loss_fn = CoverHunterLoss(LossConfig(), 4, 8, source.class_counts)
    imprint_head(imprinted, loss_fn, work_means(start, source, torch.device("cpu")), 1.0)
    rows = [(c, label) for label in range(4) for c in middle_chunks(source, label)]
    cqt = torch.nn.utils.rnn.pad_sequence([c for c, _ in rows], batch_first=True)
    lengths = torch.tensor([len(c) for c, _ in rows])
    labels = torch.tensor([label for _, label in rows])
    with torch.no_grad():
        guessed = imprinted(cqt, lengths).logits.argmax(1)
        focal = {
            name: CoverHunterLoss(LossConfig(), 4, 8).focal(model(cqt, lengths).logits, labels)
            for name, model in (("random", random_head), ("imprinted", imprinted))
        }
    assert (guessed == labels).float().mean() >= 0.75
    assert focal["imprinted"] < focal["random"]


def test_the_start_models_row_length_is_kept_and_imprint_needs_a_start(tmp_path):
    start = _model(1, 3)
    start.classifier.weight.data.fill_(0.5)  # rows of length 0.5 * sqrt(8)
    assert start_row_norm(start) == pytest.approx(0.5 * 8**0.5)
    assert start_row_norm(_model(1, 0), fallback=3.0) == 3.0
    with pytest.raises(ValueError, match="head_init: imprint needs a model to start from"):
        train_stage(
            "coarse",
            _source(),
            {**SMALL, "n_bins": N_BINS, "embedding_dim": 8},
            {},
            TrainingConfig(max_steps=1),
            checkpoint_dir=tmp_path,
            validate=None,
            head_init="imprint",
        )
    with pytest.raises(ValueError, match="head_init='copy' is not one of"):
        train_stage(
            "coarse",
            _source(),
            {},
            {},
            TrainingConfig(max_steps=1),
            checkpoint_dir=tmp_path,
            validate=None,
            head_init="copy",
        )


def test_a_classifier_carried_over_is_kept_and_only_the_centers_are_imprinted():
    source, model = _source(), _model(1, 4)
    carried = model.classifier.weight.detach().clone()
    loss_fn = CoverHunterLoss(LossConfig(), 4, 8, source.class_counts)
    means = work_means(model, source, torch.device("cpu"))
    imprint_head(model, loss_fn, means, row_norm=1.0, classifier=False)
    assert torch.equal(model.classifier.weight.detach(), carried)
    assert torch.equal(loss_fn.center.centers.detach(), means.neck)


def test_a_stage_imprints_only_from_a_start():
    assert stage_head_init("imprint", has_start=True) == "imprint"
    assert stage_head_init("random", has_start=True) == "random"
    assert stage_head_init("imprint", has_start=False) == "random"
