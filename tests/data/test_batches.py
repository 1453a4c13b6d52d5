import numpy as np
import pandas as pd
import pytest
import torch

from coverhunter.audio.augment import AugmentConfig, Augmenter
from coverhunter.data.batches import (
    CoarseBatchSource,
    FineBatchSource,
    SamplerConfig,
    work_label_index,
)
from coverhunter.data.chunking import chunk_starts

# perf_id -> (work_id, frames). Frame t of perf p holds 1000 * p + t in every bin, so a row's
# first frame tells which performance it was cut from and where.
PERFS = {
    "p0": ("w0", 40),
    "p1": ("w0", 25),
    "p2": ("w0", 12),
    "p3": ("w1", 30),
    "p4": ("w1", 7),
    "p5": ("w2", 50),
    "p6": ("w3", 33),
    "p7": ("w3", 20),
}
N_BINS = 4
# frame_rate 1 makes seconds frames: chunks 10, hop 5, fine lengths 10..20.
SECONDS_ARE_FRAMES = {"frame_rate": 1.0, "chunk_s": 10, "chunk_hop_s": 5}


def make_features():
    features = {}
    for index, (perf, (_, n_frames)) in enumerate(PERFS.items()):
        frames = 1000.0 * index + np.arange(n_frames, dtype=np.float32)
        features[perf] = np.repeat(frames[:, None], N_BINS, axis=1)
    return features


def make_items():
    return pd.DataFrame(
        {"perf_id": list(PERFS), "work_id": [work for work, _ in PERFS.values()], "split": "train"}
    )


def make_pairs():
    rows = [
        ("w0", "p0", "p1", 3.0, 1.0),
        ("w0", "p0", "p2", 8.0, 0.0),
        ("w1", "p3", "p4", 2.0, 0.0),
        ("w3", "p6", "p7", 5.0, 4.0),
        ("w2", "p5", "gone", 0.0, 0.0),  # a performance outside the training items: dropped
    ]
    table = pd.DataFrame(rows, columns=["work_id", "perf_a", "perf_b", "start_a_s", "start_b_s"])
    return table.assign(offset_s=0.0, n_matches=3, similarity=0.95)


def decode(batch):
    """[(perf_id, start, length, label)] of every row, checking each row is one contiguous cut."""
    perfs = list(PERFS)
    rows = []
    for cqt, length, label in zip(batch.cqt, batch.lengths, batch.labels, strict=True):
        valid = cqt[: int(length), 0]
        first = int(valid[0])
        assert torch.equal(valid, first + torch.arange(int(length), dtype=torch.float32))
        assert torch.all(cqt[int(length) :] == 0)  # padding
        rows.append((perfs[first // 1000], first % 1000, int(length), int(label)))
    return rows


def coarse(p_works=2, k_items=2, augmenter=None, seed=0):
    config = SamplerConfig(p_works=p_works, k_items=k_items, **SECONDS_ARE_FRAMES)
    return CoarseBatchSource(make_features(), make_items(), config, augmenter, seed)


def fine(p_works=2, k_items=2, augmenter=None, seed=0, **config):
    settings = {"fine_min_s": 10, "fine_max_s": 20, **SECONDS_ARE_FRAMES, **config}
    sampler = SamplerConfig(p_works=p_works, k_items=k_items, **settings)
    return FineBatchSource(make_features(), make_pairs(), make_items(), sampler, augmenter, seed)


def assert_same_batch(a, b):
    assert torch.equal(a.cqt, b.cqt)
    assert torch.equal(a.lengths, b.lengths)
    assert torch.equal(a.labels, b.labels)


def test_work_labels_are_sorted_ids():
    assert work_label_index(["w3", "w0", "w3", "w10"]) == {"w0": 0, "w10": 1, "w3": 2}


def test_coarse_class_counts_are_chunk_items_per_work():
    # p0: starts 0..30 (7); p1: 0..15 (4); p2: 0 and the tail at 5 (2)          -> w0 13
    # p3: 0..20 (5); p4: 0 (1) -> w1 6;  p5: 0..40 -> w2 9;  p6: 0..20 + tail 25 (6), p7: 3 -> w3 9
    source = coarse()
    assert source.n_classes == 4
    assert source.class_counts.tolist() == [13.0, 6.0, 9.0, 9.0]


def test_coarse_items_are_grid_chunks_of_the_right_work():
    source = coarse(p_works=4, k_items=3)
    label_of = work_label_index(work for work, _ in PERFS.values())
    for step in range(10):
        rows = decode(source.batch(step))
        assert len(rows) == 12
        for perf, start, length, label in rows:
            work, n_frames = PERFS[perf]
            assert label == label_of[work]
            assert start in chunk_starts(n_frames, 10, 5).tolist()
            assert length == min(10, n_frames - start)
        labels = [row[3] for row in rows]
        assert sorted(labels[::3]) == [0, 1, 2, 3]  # P distinct works ...
        assert all(len(set(labels[i : i + 3])) == 1 for i in range(0, 12, 3))  # ... K rows each


def test_coarse_takes_distinct_performances_and_chunks_when_it_can():
    source = coarse(p_works=4, k_items=3)
    for step in range(10):
        rows = decode(source.batch(step))
        groups = {rows[i][3]: rows[i : i + 3] for i in range(0, 12, 3)}
        assert len({perf for perf, *_ in groups[0]}) == 3  # w0 has 3 performances
        assert {perf for perf, *_ in groups[1]} == {"p3", "p4"}  # w1 has 2: both, one twice
        assert len({(perf, start) for perf, start, *_ in groups[2]}) == 3  # w2: 1 perf, 9 chunks


def test_coarse_batches_are_deterministic_per_seed_and_step():
    augmenter = Augmenter(AugmentConfig(noise_prob=0.0, pitch_prob=1.0, mask_prob=1.0))
    source = coarse(augmenter=augmenter, seed=3)
    assert_same_batch(source.batch(7), coarse(augmenter=augmenter, seed=3).batch(7))
    assert not torch.equal(source.batch(7).cqt, source.batch(8).cqt)
    assert not torch.equal(source.batch(7).cqt, coarse(augmenter=augmenter, seed=4).batch(7).cqt)


def test_every_work_is_drawn():
    source = coarse(p_works=1, k_items=2)
    seen = {int(source.batch(step).labels[0]) for step in range(40)}
    assert seen == {0, 1, 2, 3}


def test_rank_slices_are_whole_works_that_make_up_the_global_batch():
    augmenter = Augmenter(AugmentConfig(noise_prob=0.0, speed_prob=1.0, mask_prob=1.0))
    for source in (coarse(p_works=4, augmenter=augmenter), fine(p_works=2, k_items=4)):
        whole = source.batch(5)
        parts = [source.batch(5, rank=rank, world_size=2) for rank in range(2)]
        assert torch.equal(torch.cat([part.labels for part in parts]), whole.labels)
        assert set(parts[0].labels.tolist()).isdisjoint(parts[1].labels.tolist())
        rows = [(cqt, n) for part in parts for cqt, n in zip(part.cqt, part.lengths, strict=True)]
        for (cqt, n), whole_cqt, whole_n in zip(rows, whole.cqt, whole.lengths, strict=True):
            assert n == whole_n and torch.equal(cqt[:n], whole_cqt[:n])


def test_bad_batch_shapes_are_named():
    with pytest.raises(ValueError, match="world_size 3"):
        coarse(p_works=4).batch(0, rank=0, world_size=3)
    with pytest.raises(ValueError, match="rank 2"):
        coarse(p_works=4).batch(0, rank=2, world_size=2)
    with pytest.raises(ValueError, match="p_works 5"):
        coarse(p_works=5)
    with pytest.raises(ValueError, match="k_items must be even"):
        fine(k_items=3)
    with pytest.raises(ValueError, match="p_works 4"):
        fine(p_works=4)  # only 3 works have aligned pairs


def test_missing_features_are_named():
    items = pd.concat([make_items(), pd.DataFrame({"perf_id": ["p9"], "work_id": ["w0"]})])
    config = SamplerConfig(p_works=1, k_items=2)
    with pytest.raises(ValueError, match="p9"):
        CoarseBatchSource(make_features(), items, config, None, 0)


# Fine stage: the pairs above as (perf_a, start_a, perf_b, start_b), and the frames a pair can
# give: min(L, frames left in a, frames left in b).
PAIRS = {
    ("p0", 3, "p1", 1): 24,
    ("p0", 8, "p2", 0): 12,
    ("p3", 2, "p4", 0): 7,
    ("p6", 5, "p7", 4): 16,
}


def test_fine_items_start_at_the_aligned_starts_and_share_one_length():
    source = fine(p_works=3, k_items=2, multi_length=False)  # L = fine_max_s = 20 frames
    label_of = work_label_index(work for work, _ in PERFS.values())
    for step in range(10):
        rows = decode(source.batch(step))
        for a, b in zip(rows[::2], rows[1::2], strict=True):
            pair = (a[0], a[1], b[0], b[1])
            assert pair in PAIRS
            assert a[2] == b[2] == min(20, PAIRS[pair])
            assert a[3] == b[3] == label_of[PERFS[a[0]][0]]


def test_fine_length_is_drawn_per_batch_within_bounds():
    source = fine(p_works=1, k_items=2)
    long_pair_lengths = set()
    for step in range(30):
        (perf_a, start_a, length, _), (perf_b, start_b, *_) = decode(source.batch(step))
        limit = PAIRS[(perf_a, start_a, perf_b, start_b)]
        if limit < 10:  # the recordings end before the shortest length
            assert length == limit
        else:
            assert 10 <= length <= min(20, limit)
        if limit >= 20:  # only the long pair shows L itself
            long_pair_lengths.add(length)
    assert len(long_pair_lengths) > 1


def test_fine_class_counts_and_fallback_for_works_without_pairs():
    assert fine().class_counts.tolist() == [4.0, 2.0, 0.0, 2.0]
    source = fine(p_works=4, k_items=2, fallback_unaligned=True)
    assert source.class_counts.tolist() == [4.0, 2.0, 9.0, 2.0]
    rows = decode(source.batch(0))
    w2 = [row for row in rows if row[3] == 2]
    assert len(w2) == 2
    assert all(perf == "p5" and start % 5 == 0 and length == 10 for perf, start, length, _ in w2)


def test_fine_batches_are_deterministic_per_seed_and_step():
    assert_same_batch(fine(seed=1).batch(4), fine(seed=1).batch(4))
    different = [
        not torch.equal(fine(seed=1).batch(4).cqt, fine(seed=1).batch(s).cqt) for s in range(5, 9)
    ]
    assert any(different)
