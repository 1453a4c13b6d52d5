"""The training DataLoader: workers cut the planned items, and change nothing about the batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from coverhunter.audio.augment import AugmentConfig, Augmenter
from coverhunter.data.batches import CoarseBatchSource, FineBatchSource, SamplerConfig
from coverhunter.data.feature_store import FeatureStoreWriter
from coverhunter.data.loader import LoaderConfig, batch_loader

N_BINS = 24
WORKS = {f"w{w}": [f"w{w}p{v}" for v in range(3)] for w in range(6)}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("loader") / "store"
    rng = np.random.default_rng(0)
    with FeatureStoreWriter(folder) as writer:
        for perfs in WORKS.values():
            for perf_id in perfs:
                n_frames = int(rng.integers(30, 90))
                writer.append(perf_id, rng.normal(-40, 10, (n_frames, N_BINS)), "fp")
        return writer.commit()


def _items() -> pd.DataFrame:
    rows = [(perf, work) for work, perfs in WORKS.items() for perf in perfs]
    return pd.DataFrame(rows, columns=["perf_id", "work_id"])


def _augmenter() -> Augmenter:
    # noise needs a bank; the others draw from each item's own generator
    return Augmenter(AugmentConfig(noise_prob=0.0, pitch_semitones=[-2, 2]))


def _config() -> SamplerConfig:
    return SamplerConfig(
        p_works=4, k_items=2, frame_rate=1.0, chunk_s=20, chunk_hop_s=10, fine_min_s=10,
        fine_max_s=25,
    )  # fmt: skip


def _coarse(store):
    return CoarseBatchSource(store, _items(), _config(), _augmenter(), seed=3)


def _fine(store):
    pairs = pd.DataFrame(
        [(work, perfs[0], perfs[1], 2.0, 5.0) for work, perfs in WORKS.items()],
        columns=["work_id", "perf_a", "perf_b", "start_a_s", "start_b_s"],
    )
    return FineBatchSource(store, pairs, _items(), _config(), _augmenter(), seed=3)


def _same(a, b) -> None:
    for name in ("cqt", "lengths", "labels"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=0, atol=0)


@pytest.mark.parametrize("make_source", [_coarse, _fine], ids=["coarse", "fine"])
def test_worker_processes_give_the_batches_of_the_in_process_source(store, make_source):
    source = make_source(store)
    loader = batch_loader(
        source, 2, 8, LoaderConfig(num_workers=2), torch.device("cpu"), rank=1, world_size=2
    )
    batches = list(loader)
    assert len(batches) == 6
    for step, batch in zip(range(2, 8), batches, strict=True):
        _same(batch, source.batch(step, rank=1, world_size=2))
        assert batch.cqt.shape[0] == 2 * 2  # this rank's 2 works x K
    # augmentation happened: the cut frames are not the stored ones
    item = source.plan(2, rank=1, world_size=2)[0]
    stored = np.asarray(store[item.perf_id][item.start : item.start + item.n_frames], np.float32)
    assert not np.allclose(batches[0].cqt[0, : item.n_frames].numpy(), stored)


def test_a_resumed_loader_continues_with_the_same_batches(store):
    source = _coarse(store)
    whole = list(batch_loader(source, 0, 6, LoaderConfig(), torch.device("cpu")))
    resumed = list(batch_loader(source, 4, 6, LoaderConfig(num_workers=1), torch.device("cpu")))
    _same(whole[4], resumed[0])
    _same(whole[5], resumed[1])
    assert not torch.equal(whole[0].cqt, whole[1].cqt)


def test_spawned_workers_reopen_the_store_from_its_folder(store):
    source = _coarse(store)
    config = LoaderConfig(num_workers=1, start_method="spawn")
    batch = next(iter(batch_loader(source, 5, 6, config, torch.device("cpu"))))
    _same(batch, source.batch(5))


def test_pinning_follows_the_device_unless_set():
    assert not LoaderConfig().pins(torch.device("cpu"))
    assert LoaderConfig().pins(torch.device("cuda"))
    assert not LoaderConfig(pin_memory=False).pins(torch.device("cuda"))
    with pytest.raises(ValueError, match="num_workers"):
        LoaderConfig(num_workers=-1)
