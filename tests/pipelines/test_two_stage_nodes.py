"""The evaluation's two-stage node on a hand-built gallery: versions share a stretch of music
after preludes of their own, the first stage ranks them badly, the re-rank finds them and where."""

import numpy as np
import pandas as pd
import torch

from coverhunter.evaluation.rankings import ranking_table
from coverhunter.pipelines.evaluation.nodes import RERANKED, score_reranked

HOP_S = 1.0
# the CQT's settings, for the pitch stage's chroma rate: 10 frames a second
FEATURE_CQT = {"cqt": {"sample_rate": 16000, "hop_length": 1600}}


def _unit(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, 8)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _gallery():
    """4 works x 2 versions: each version is a prelude of its own (0-3 steps), then its work's
    12 steps; the first-stage distances rank every other work ahead of the true version."""
    perf_ids, work_ids, rows, truth = [], [], [], {}
    for w in range(4):
        music = _unit(12, seed=w)
        for v in range(2):
            perf = f"w{w}_p{v}"
            prelude = (w + v) % 4
            steps = np.concatenate([_unit(prelude, seed=100 + 10 * w + v), music])
            perf_ids.append(perf)
            work_ids.append(f"w{w}")
            truth[perf] = prelude * HOP_S
            rows += [
                {
                    "perf_id": perf,
                    "work_id": f"w{w}",
                    "chunk_idx": i,
                    "start_s": i * HOP_S,
                    "embedding": e,
                }
                for i, e in enumerate(steps)
            ]
    works = np.array(work_ids)
    distances = (
        torch.where(torch.as_tensor(works[:, None] == works[None, :]), 0.5, 0.4)
        .float()
        .fill_diagonal_(0.0)
    )
    manifest = pd.DataFrame(
        {"perf_id": perf_ids, "work_id": work_ids, "true_offset_s": [truth[p] for p in perf_ids]}
    )
    return perf_ids, work_ids, pd.DataFrame(rows), distances, manifest


def test_the_rerank_row_rankings_match_location_and_open_set():
    perf_ids, work_ids, sequences, distances, manifest = _gallery()
    embeddings = pd.DataFrame({"perf_id": perf_ids, "work_id": work_ids})
    rankings = ranking_table(distances, perf_ids, work_ids, perf_ids, work_ids, top_n=3)
    evaluation = {"bootstrap": {"n_boot": 100}, "open_set": {"held_out_fraction": 0.25}}
    rerank = {"k": 7, "window_s": 3.0, "hop_s": HOP_S, "match_threshold": 0.5, "fusion_weight": 0.0}
    calibration = {
        "fusion_weight": 0.5,
        "thresholds": {"far_0.01": {"far": 0.01, "threshold": 0.6, "n_impostors": 8}},
    }
    metrics, on_qmax, table, report = score_reranked(
        distances,
        embeddings,
        sequences,
        pd.DataFrame(),  # gallery_chroma: the pitch stage is off (no rerank.pitch)
        rankings,
        calibration,
        perf_ids[:2],
        manifest,
        evaluation,
        rerank,
        FEATURE_CQT,
        seed=0,
    )
    # The first stage finds no version first (mAP well below 1); the re-rank finds every one.
    assert metrics["mAP"] == 1.0 and metrics["ci95"]["mAP"] == [1.0, 1.0]
    assert on_qmax["n_queries"] == 2
    # Where they match: each path starts where the shared music does, in both recordings.
    assert "match_location_pitch" not in report  # no pitch stage, no pitch path
    location = report["match_location"]
    assert location == report["match_location_embedding"]
    assert location["n_pairs"] == 8 and location["start_within_hop_share"] == 1.0
    # every query's answer is a version of its work, placed right
    assert location["n_pairs_ranked_first"] == 8
    assert location["start_within_hop_share_ranked_first"] == 1.0
    # Open set: one work of four left out; its queries' best answers score below the threshold.
    row = report["open_set"]["thresholds"]["far_0.01"]
    assert row["false_accept"]["share"] == 0.0 and row["false_accept"]["n"] == 2
    assert row["true_accept"]["share"] == 1.0 and row["true_accept"]["n"] == 6
    # The rankings (first stage's top 3) say where the shortlisted pairs match.
    assert {
        "alignment_score",
        "reranked_distance",
        "query_match_start_s",
        "ref_match_end_s",
    } <= set(table.columns)
    true_pairs = table[table.same_work]
    assert (true_pairs.alignment_score == 1.0).all()
    assert RERANKED == "fine+rerank"


def _melody(steps: int, seed: int) -> np.ndarray:
    """`(steps, 12)` chroma: a random note a step over a floor."""
    rng = np.random.default_rng(seed)
    chroma = np.full((steps, 12), 0.05, dtype=np.float32)
    chroma[np.arange(steps), rng.integers(0, 12, steps)] += 1.0
    return chroma


def test_the_pitch_stage_finds_the_versions_the_sequences_miss():
    # The chunk-embedding sequences of every recording are unrelated noise; each work's versions
    # share their chroma, in another key and after a prelude of their own.
    perf_ids, work_ids, _, distances, manifest = _gallery()
    sequences = pd.DataFrame(
        [
            {"perf_id": p, "work_id": w, "chunk_idx": i, "start_s": i * HOP_S, "embedding": e}
            for n, (p, w) in enumerate(zip(perf_ids, work_ids, strict=True))
            for i, e in enumerate(_unit(12, seed=500 + n))
        ]
    )
    chromas = [
        np.roll(np.concatenate([_melody(5, seed=900 + n), _melody(30, seed=int(w[1:]))]), n, axis=1)
        for n, w in enumerate(work_ids)
    ]
    chroma_table = pd.DataFrame(
        {
            "perf_id": perf_ids,
            "work_id": work_ids,
            "n_frames": [len(c) for c in chromas],
            "chroma": [c.reshape(-1) for c in chromas],
        }
    )
    pitch = {
        "enabled": True,
        "source": "cqt",
        "average_frames": 1,  # a frame of chroma is a CQT frame: 0.1 s
        "stack": 4,
        "kappa": 0.1,
        "match_threshold": 0.33,
    }
    # the shared music starts after the 5-frame prelude: 0.5 s into every recording
    manifest = manifest.assign(true_offset_s=0.5)
    rerank = {"k": 7, "window_s": 3.0, "hop_s": HOP_S, "match_threshold": 0.5, "pitch": pitch}
    evaluation = {"bootstrap": {"n_boot": 100}, "open_set": {"held_out_fraction": 0.25}}
    rankings = ranking_table(distances, perf_ids, work_ids, perf_ids, work_ids, top_n=3)
    calibration = {"fusion_weight": 0.5, "pitch_weight": 0.0, "thresholds": {}}
    without, *_ = score_reranked(
        distances,
        pd.DataFrame({"perf_id": perf_ids, "work_id": work_ids}),
        sequences,
        chroma_table,
        rankings,
        calibration,
        [],
        manifest,
        evaluation,
        rerank,
        FEATURE_CQT,
        seed=0,
    )
    metrics, _, table, report = score_reranked(
        distances,
        pd.DataFrame({"perf_id": perf_ids, "work_id": work_ids}),
        sequences,
        chroma_table,
        rankings,
        {**calibration, "pitch_weight": 1.0},
        [],
        manifest,
        evaluation,
        rerank,
        FEATURE_CQT,
        seed=0,
    )
    assert without["mAP"] < 0.9 and metrics["mAP"] == 1.0, (without["mAP"], metrics["mAP"])
    # the rankings (the first stage's top 3: other works, all in the shortlist) carry the score
    assert table.pitch_score.between(0.0, 1.0).all() and not table.same_work.any()
    # the pitch path places every true pair where the shared music starts (within a hop of
    # 1 s), where the embedding path, on unrelated sequences, cannot
    pitch_location = report["match_location_pitch"]
    assert pitch_location["n_pairs"] == 8 and pitch_location["start_within_hop_share"] == 1.0
    assert report["match_location_embedding"]["start_within_hop_share"] < 1.0
    # the answers (and the rankings' match columns) are placed by the pitch path
    assert report["match_location"] == pitch_location
