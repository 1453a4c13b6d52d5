"""How much an alignment finds in a collection: Qmax over the feature store's chroma.

For collections built without audio (the pretraining corpus keeps only its CQT), Essentia's Qmax
(`evaluation/qmax.py`) runs on the 96-bin log-CQT folded to 12 pitch classes (linear magnitude
summed over octaves, 3 frames averaged: 8.3 frames a second, about HPCP's 7.8), normalised to
its maximum per frame as HPCP is. One query per work (seeded), each against every recording of
the split; the chroma baseline's mAP on the same queries beside it.

    .venv/bin/python benchmarks/qmax_on_features.py --env pretrain --split val --queries 12
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _catalog import load_split_features

from coverhunter.evaluation.collection import EmbedSettings, TrackSet, embedder_distances
from coverhunter.evaluation.metrics import mirex_metrics
from coverhunter.evaluation.qmax import qmax_distance_matrix
from coverhunter.model.baselines import ChromaBaseline


def cqt_chroma(log_cqt: np.ndarray, average: int = 3) -> np.ndarray:
    """`(T, 96)` log-CQT in dB -> `(T // average, 12)` chroma, each frame scaled to max 1."""
    linear = 10.0 ** (np.asarray(log_cqt, dtype=np.float32) / 20.0)
    chroma = linear.reshape(len(linear), -1, 12).sum(axis=1)
    usable = len(chroma) // average * average
    chroma = chroma[:usable].reshape(-1, average, 12).mean(axis=1)
    return (chroma / np.maximum(chroma.max(axis=1, keepdims=True), 1e-9)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="pretrain")
    parser.add_argument("--split", default="val")
    parser.add_argument("--queries", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    split = load_split_features(args.env, args.split)
    perf_ids, work_ids = list(split.rows.perf_id), list(split.rows.work_id)
    features = split.store.float32()
    rng = np.random.default_rng(args.seed)
    works = rng.choice(sorted(set(work_ids)), min(args.queries, len(set(work_ids))), replace=False)
    queries = [work_ids.index(w) for w in works]  # each work's first recording

    chroma = [cqt_chroma(features[p]) for p in perf_ids]
    skip = np.zeros((len(queries), len(perf_ids)), dtype=bool)
    skip[np.arange(len(queries)), queries] = True
    started = time.perf_counter()
    qmax, per_pair = qmax_distance_matrix([chroma[q] for q in queries], chroma, skip=skip)
    seconds = time.perf_counter() - started

    tracks = TrackSet(perf_ids, work_ids, features)
    baseline = embedder_distances(
        ChromaBaseline().embed, tracks, EmbedSettings(1125, 25.0, 16, "cpu", 250)
    ).numpy()[queries]
    query_works = [work_ids[q] for q in queries]
    query_ids = [perf_ids[q] for q in queries]
    for name, distances in (("qmax (CQT chroma)", qmax), ("chroma baseline", baseline)):
        metrics = mirex_metrics(distances, query_works, work_ids, query_ids, perf_ids)
        print(f"{name:>18}: mAP {metrics['mAP']:.3f}, MR1 {metrics['MR1']:.1f}")
    print(
        f"{len(queries)} queries x {len(perf_ids)} recordings, {per_pair:.3f} s a pair, {seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
