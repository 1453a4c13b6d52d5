"""What an alignment finds with which features: a Qmax-style local alignment, all pairs of a split.

The re-rank's alignment (`retrieval/rerank.py`, `local_alignment`) run on chroma sequences instead
of the model's chunk embeddings, the way Qmax (Serra et al. 2009) runs: frames averaged to a
lower rate, `--stack` frames delay-embedded into one state, the reference transposed to the
query's key by the optimal transposition index of the two mean chromas, a cross-similarity
binarised by mutual nearest neighbours (`--kappa`: the share of each row's and column's closest
pairs kept; 0: cosine similarity as it is), a match gaining `1 - threshold` and a mismatch
costing `threshold`. Features: `cqt` folds the feature store's log-CQT (`--octaves` FIRST LAST:
the octaves folded, the lowest leave out the bass); `hpcp` is Essentia's HPCP of the audio (the
Qmax row's, `evaluation/qmax.py`; needs the `qmax` extra and the collection's audio). Every
recording of the split is a query against the others; mAP overall and on the evaluation's Qmax
queries (`evaluation.qmax.max_queries`, seeded as in the run), with the time per pair.

    .venv/bin/python benchmarks/alignment_features.py --features cqt --octaves 2 7
    .venv/bin/python benchmarks/alignment_features.py --features hpcp --average 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _catalog import load_split_features

from coverhunter.audio.io import load_audio, peak_normalise
from coverhunter.evaluation.metrics import mirex_metrics
from coverhunter.evaluation.qmax import hpcp_features, metrics_on_queries, stratified_queries
from coverhunter.retrieval.rerank import local_alignment, pad_sequences


def cqt_chroma(log_cqt: np.ndarray, octaves: tuple[int, int]) -> torch.Tensor:
    """`(T, 96)` log-CQT in dB -> `(T, 12)` chroma of the octaves `[first, last)`."""
    linear = 10.0 ** (
        np.asarray(log_cqt, dtype=np.float32)[:, octaves[0] * 12 : octaves[1] * 12] / 20.0
    )
    return torch.from_numpy(linear.reshape(len(linear), -1, 12).sum(1))


def averaged(chroma: torch.Tensor, frames: int) -> torch.Tensor:
    usable = len(chroma) // frames * frames
    return chroma[:usable].reshape(-1, frames, 12).mean(1)


def stacked(chroma: torch.Tensor, stack: int) -> torch.Tensor:
    """`(T, 12)` -> `(T - stack + 1, 12 * stack)` unit rows: each state `stack` frames long."""
    unit = torch.nn.functional.normalize(chroma, dim=1)
    states = torch.cat([unit[i : len(unit) - stack + 1 + i] for i in range(stack)], dim=1)
    return torch.nn.functional.normalize(states, dim=1)


def mutual_neighbours(sim: torch.Tensor, ref_len: torch.Tensor, kappa: float) -> torch.Tensor:
    """`(B, Tq, Tr)` similarities -> 1 where a cell is among the `kappa` closest of its row and of
    its column (padding never), else 0."""
    valid = torch.arange(sim.shape[2])[None, None, :] < ref_len[:, None, None]
    sim = sim.masked_fill(~valid, -1e9)
    row = sim.topk(max(1, int(kappa * sim.shape[2])), dim=2).values[:, :, -1:]
    col = sim.topk(max(1, int(kappa * sim.shape[1])), dim=1).values[:, -1:, :]
    return ((sim >= row) & (sim >= col) & valid).float()


def align_all(chromas: list[torch.Tensor], args: argparse.Namespace) -> torch.Tensor:
    """`(N, N)` alignment scores: every recording against every other (its own row first)."""
    n = len(chromas)
    means = torch.nn.functional.normalize(torch.stack([c.mean(0) for c in chromas]), dim=1)
    scores = torch.zeros(n, n)
    for q in range(n):
        rolls = torch.stack([(means[q] * torch.roll(means, k, dims=1)).sum(1) for k in range(12)])
        shift = rolls.argmax(0)  # each reference's transposition to the query's key
        refs, ref_len = pad_sequences(
            [stacked(torch.roll(chromas[r], int(shift[r]), dims=1), args.stack) for r in range(n)]
        )
        query = stacked(chromas[q], args.stack)
        sim = torch.einsum("qd,brd->bqr", query, refs)
        if args.kappa:
            sim = mutual_neighbours(sim, ref_len, args.kappa)
        query_len = torch.full((n,), len(query))
        found = local_alignment(sim, query_len, ref_len, args.threshold)
        # the path's total gain, unnormalised (as Qmax's), reads better than per-step
        shorter = torch.minimum(query_len, ref_len).float()
        scores[q] = found.score * shorter * (1.0 - args.threshold)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None)
    parser.add_argument("--split", default="test")
    parser.add_argument("--features", choices=("cqt", "hpcp"), default="cqt")
    parser.add_argument("--octaves", type=int, nargs=2, default=(0, 8))
    parser.add_argument("--average", type=int, default=6, help="frames averaged into one")
    parser.add_argument("--stack", type=int, default=8)
    parser.add_argument("--kappa", type=float, default=0.1)
    parser.add_argument("--threshold", type=float, default=0.33)
    parser.add_argument("--qmax-queries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)  # the run's seed: its Qmax queries
    args = parser.parse_args()
    torch.set_num_threads(1)

    split = load_split_features(args.env, args.split)
    perf_ids, work_ids = list(split.rows.perf_id), list(split.rows.work_id)
    if args.features == "cqt":
        features = split.store.float32()
        chromas = [cqt_chroma(features[p], tuple(args.octaves)) for p in perf_ids]
    else:
        path_of = split.manifest.set_index("perf_id").path
        chromas = [
            torch.from_numpy(hpcp_features(peak_normalise(load_audio(path_of[p], 16000)), 16000))
            for p in perf_ids
        ]
    chromas = [averaged(c, args.average) for c in chromas]
    started = time.perf_counter()
    distances = -align_all(chromas, args)
    seconds = time.perf_counter() - started
    overall = mirex_metrics(distances, work_ids, work_ids, perf_ids, perf_ids)
    queries = stratified_queries(perf_ids, work_ids, args.qmax_queries, args.seed)
    on_queries = metrics_on_queries(distances, work_ids, perf_ids, queries)
    print(
        f"{args.features} octaves {list(args.octaves)} average {args.average} stack {args.stack} "
        f"kappa {args.kappa} threshold {args.threshold}: mAP {overall['mAP']:.3f} "
        f"({overall['n_queries']} queries), on Qmax's {on_queries['n_queries']} {on_queries['mAP']:.3f}, "
        f"{seconds / len(perf_ids) ** 2 * 1000:.1f} ms a pair"
    )


if __name__ == "__main__":
    main()
