import numpy as np
import pytest
import torch

from coverhunter.data.chunking import chunk_starts, cut_chunks, pad_batch


def test_grid_with_tail_on_the_next_grid_point():
    # 100 frames, chunk 30, hop 15: full chunks end at 30..90, 10 frames uncovered -> start 75.
    assert chunk_starts(100, 30, 15).tolist() == [0, 15, 30, 45, 60, 75]


def test_authors_rule_drops_the_tail():
    assert chunk_starts(100, 30, 15, keep_tail=False).tolist() == [0, 15, 30, 45, 60]


def test_exact_fit_adds_no_tail():
    # 90 frames: the last full chunk (60..90) ends exactly at the end.
    assert chunk_starts(90, 30, 15).tolist() == [0, 15, 30, 45, 60]


def test_min_tail_frames_threshold():
    # 100 frames leave 10 uncovered: kept at threshold 10, dropped at 11.
    assert chunk_starts(100, 30, 15, min_tail_frames=10).tolist()[-1] == 75
    assert chunk_starts(100, 30, 15, min_tail_frames=11).tolist()[-1] == 60


def test_non_overlapping_inference_chunks_keep_a_short_tail():
    # 45 s chunks at 25 fps on a 100 s track: 0, 45 s, and a 10 s tail chunk at 90 s.
    assert chunk_starts(2500, 1125, 1125).tolist() == [0, 1125, 2250]


def test_gapped_grid_tail_starts_inside_the_track():
    # hop 50 > chunk 10: starts 0, 50; a tail at 100 would lie past 100 frames -> none.
    assert chunk_starts(100, 10, 50).tolist() == [0, 50]
    assert chunk_starts(101, 10, 50).tolist() == [0, 50, 100]


@pytest.mark.parametrize("n_frames", [1, 29, 30])
def test_track_up_to_one_chunk_gives_one_chunk_at_zero(n_frames):
    assert chunk_starts(n_frames, 30, 15).tolist() == [0]


def test_chunk_starts_rejects_bad_values():
    with pytest.raises(ValueError, match="n_frames"):
        chunk_starts(0, 30, 15)
    with pytest.raises(ValueError, match="hop_frames"):
        chunk_starts(100, 30, 0)


def test_cut_chunks_copies_frames_and_pads_the_tail():
    features = np.arange(10 * 2, dtype=np.float32).reshape(10, 2)  # frame t holds [2t, 2t+1]
    chunks, lengths = cut_chunks(features, [0, 4, 8], chunk_frames=4, pad_value=-1.0)
    assert chunks.shape == (3, 4, 2)
    assert lengths.tolist() == [4, 4, 2]
    assert chunks[1, :, 0].tolist() == [8.0, 10.0, 12.0, 14.0]
    assert chunks[2].tolist() == [[16.0, 17.0], [18.0, 19.0], [-1.0, -1.0], [-1.0, -1.0]]


def test_cut_chunks_of_a_short_track():
    features = torch.ones(3, 2)
    chunks, lengths = cut_chunks(features, chunk_starts(3, 5, 5), chunk_frames=5)
    assert lengths.tolist() == [3]
    assert chunks[0, 3:].abs().sum() == 0  # default pad value 0.0
    assert chunks[0, :3].sum() == 6


def test_cut_chunks_rejects_starts_outside_the_track():
    with pytest.raises(ValueError, match=r"\[10\]"):
        cut_chunks(np.zeros((10, 2)), [0, 10], chunk_frames=4)


def test_pad_batch():
    padded, lengths = pad_batch([np.ones((2, 3)), torch.full((4, 3), 2.0)])
    assert padded.shape == (2, 4, 3)
    assert lengths.tolist() == [2, 4]
    assert padded[0, :, 0].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert padded[1, :, 0].tolist() == [2.0, 2.0, 2.0, 2.0]


def test_pad_batch_rejects_mixed_bins_and_empty_lists():
    with pytest.raises(ValueError, match="F"):
        pad_batch([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="none"):
        pad_batch([])
