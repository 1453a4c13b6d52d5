"""Pairs aligned per second: `align_work` (batched) vs a plain Python double loop over chunks.

Each work has V versions of ~20 chunk embeddings (unit vectors, dim 128): a shared random base,
each version cut at a random start, given a random prelude and a little noise, so the pairs do
align as real covers would. Both methods align the same pairs in the same run; the loop is timed
on at most `--loop-max-pairs` pairs (its rate does not depend on how many). The two must agree on
every offset they both computed.

    .venv/bin/python benchmarks/alignment.py --versions 2 10 100
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from coverhunter.alignment.match import align_work


def make_work(n_versions: int, n_chunks: int, dim: int, rng: np.random.Generator) -> list:
    base = rng.normal(size=(n_chunks + 10, dim))
    versions = []
    for _ in range(n_versions):
        start = rng.integers(0, 5)
        prelude = rng.normal(size=(rng.integers(0, 4), dim))
        body = base[start : start + n_chunks - len(prelude)] + 0.2 * rng.normal(size=(1, dim))
        v = np.concatenate([prelude, body + 0.1 * rng.normal(size=body.shape)])
        versions.append((v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32))
    return versions


def loop_align(a: np.ndarray, b: np.ndarray, threshold: float) -> int | None:
    """The obvious implementation: every chunk pair in Python, then the mode of the offsets."""
    counts: dict[int, int] = {}
    sums: dict[int, float] = {}
    for i in range(len(a)):
        for j in range(len(b)):
            s = float(np.dot(a[i], b[j]))
            if s > threshold:
                counts[j - i] = counts.get(j - i, 0) + 1
                sums[j - i] = sums.get(j - i, 0.0) + s
    if not counts:
        return None
    return min(counts, key=lambda d: (-counts[d], -sums[d], abs(d), d > 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, nargs="+", default=[2, 10, 100])
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--loop-max-pairs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads; 1 matches the single-thread loop"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; dim {args.dim}, "
        f"~{args.chunks} chunks/version, threshold {args.threshold}"
    )
    header = (
        f"{'versions':>8} {'pairs':>6} {'aligned':>7} {'batched pairs/s':>16} "
        f"{'loop pairs/s':>13} {'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    for n_versions in args.versions:
        work = make_work(n_versions, args.chunks, args.dim, rng)
        ids = [f"p{v:04d}" for v in range(n_versions)]
        tensors = [torch.from_numpy(v) for v in work]
        align_work(tensors, ids, args.threshold)  # warm-up: torch's first calls per shape are slow
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            result = align_work(tensors, ids, args.threshold)
            best = min(best, time.perf_counter() - t0)
        pairs = result.pairs
        n_pairs = len(pairs)
        timed = pairs.head(args.loop_max_pairs)
        t0 = time.perf_counter()
        loop_deltas = [
            loop_align(work[ids.index(a)], work[ids.index(b)], args.threshold)
            for a, b in zip(timed.perf_a, timed.perf_b, strict=True)
        ]
        loop_s = time.perf_counter() - t0
        batched = [
            d if c > 0 else None for d, c in zip(timed.delta, timed.n_candidates, strict=True)
        ]
        if batched != loop_deltas:
            raise SystemExit(f"offsets disagree for {n_versions} versions")
        batched_rate = n_pairs / best
        loop_rate = len(timed) / loop_s
        print(
            f"{n_versions:>8} {n_pairs:>6} {int(pairs.aligned.sum()):>7} {batched_rate:>16.0f} "
            f"{loop_rate:>13.0f} {batched_rate / loop_rate:>7.1f}x"
        )


if __name__ == "__main__":
    main()
