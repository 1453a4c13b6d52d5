"""What an alignment finds with which features: a Qmax-style local alignment, all pairs of a split.

The re-rank's alignment (`retrieval/rerank.py`, `local_alignment`) run on chroma sequences instead
of the model's chunk embeddings, the way Qmax (Serra et al. 2009) runs: frames averaged to a
lower rate, `--stack` frames delay-embedded into one state, the reference transposed to the
query's key by the optimal transposition index of the two mean chromas, a cross-similarity
binarised by mutual nearest neighbours (`--kappa`: the share of each row's and column's closest
pairs kept; 0: cosine similarity as it is), a match gaining `1 - threshold` and a mismatch
costing `threshold`. Features: `cqt` folds the feature store's log-CQT (`--octaves` FIRST LAST:
the octaves folded, the lowest leave out the bass); `hpcp` is the HPCP of the audio
(`audio/hpcp.py`, Essentia's, as the Qmax row's; needs the collection's audio). Every
recording of the split is a query against the others; mAP overall and on the evaluation's Qmax
queries (`evaluation.qmax.max_queries`, seeded as in the run), with the time per pair, and where
the path places the true pairs: the share whose start lies within `--hop` seconds of the
manifest's `true_offset_s` in both recordings (the evaluation's `match_location_pitch`).

    .venv/bin/python benchmarks/alignment_features.py --features cqt --octaves 2 7
    .venv/bin/python benchmarks/alignment_features.py --features hpcp --average 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _catalog import load_split_features

from coverhunter.audio.chroma import averaged_frames, cqt_chroma
from coverhunter.audio.cqt import CQTConfig
from coverhunter.audio.hpcp import hpcp
from coverhunter.audio.io import load_audio, peak_normalise
from coverhunter.evaluation.metrics import mirex_metrics
from coverhunter.evaluation.qmax import metrics_on_queries, stratified_queries
from coverhunter.retrieval.pitch_rerank import PitchSettings, pitch_alignment


def align_all(
    chromas: list[torch.Tensor], settings: PitchSettings
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`(N, N)` each: the alignment scores of every recording against every other (its own row
    first), and the state where each path starts in the query and in the reference."""
    found = [pitch_alignment(query, chromas, settings) for query in chromas]
    return tuple(
        torch.stack([getattr(f, key) for f in found])
        for key in ("score", "query_first", "ref_first")
    )


def starts_within(
    query_first: torch.Tensor,
    ref_first: torch.Tensor,
    frame_s: float,
    work_ids: list[str],
    offsets_s: np.ndarray,
    hop_s: float,
) -> tuple[float, int]:
    """The share of true pairs (same work, offsets known) whose path starts within `hop_s` of
    `true_offset_s` in both recordings, and how many pairs there are."""
    works = np.asarray(work_ids)
    true = (works[:, None] == works[None, :]) & ~np.eye(len(works), dtype=bool)
    true &= np.isfinite(offsets_s)[:, None] & np.isfinite(offsets_s)[None, :]
    error_q = np.abs(query_first.numpy() * frame_s - offsets_s[:, None])
    error_r = np.abs(ref_first.numpy() * frame_s - offsets_s[None, :])
    right = (error_q <= hop_s) & (error_r <= hop_s)
    return float(right[true].mean()) if true.any() else float("nan"), int(true.sum())


def chroma_settings(args: argparse.Namespace) -> dict:
    """`audio/chroma.py`'s `cqt_chroma` keywords from the command line."""
    return {
        "octaves": tuple(args.octaves),
        "magnitude": args.magnitude,
        "floor_db": args.floor,
        "peaks": args.peaks,
        "whiten_bins": args.whiten,
        "harmonics": args.harmonics,
        "harmonic_decay": args.decay,
        "frame_max": args.frame_max,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None)
    parser.add_argument("--split", default="test")
    parser.add_argument("--features", choices=("cqt", "hpcp"), default="cqt")
    parser.add_argument("--octaves", type=int, nargs=2, default=(0, 8))
    parser.add_argument("--magnitude", choices=("amplitude", "power", "log"), default="amplitude")
    parser.add_argument("--floor", type=float, default=-80.0, help="log magnitude: dB counted from")
    parser.add_argument("--peaks", action="store_true", help="local maxima along frequency only")
    parser.add_argument("--whiten", type=int, default=0, help="bins of the dB mean subtracted")
    parser.add_argument("--harmonics", type=int, default=1)
    parser.add_argument("--decay", type=float, default=0.6, help="weight ratio of harmonics")
    parser.add_argument("--frame-max", action="store_true", help="each frame scaled to max 1")
    parser.add_argument("--hpcp-cache", type=Path, help="npz of HPCP by perf_id (made if absent)")
    parser.add_argument("--average", type=int, default=6, help="frames averaged into one")
    parser.add_argument("--stack", type=int, default=8)
    parser.add_argument("--kappa", type=float, default=0.1)
    parser.add_argument("--threshold", type=float, default=0.33)
    parser.add_argument("--prescreen-keep", type=int, default=0, help="0: no prescreen")
    parser.add_argument("--prescreen-factor", type=int, default=2)
    parser.add_argument("--prescreen-stack", type=int, default=4)
    parser.add_argument("--prescreen-kappa", type=float, default=0.1)
    parser.add_argument("--qmax-queries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)  # the run's seed: its Qmax queries
    parser.add_argument("--hop", type=float, default=5.0, help="match-start tolerance, seconds")
    args = parser.parse_args()
    torch.set_num_threads(1)

    split = load_split_features(args.env, args.split)
    perf_ids, work_ids = list(split.rows.perf_id), list(split.rows.work_id)
    if args.features == "cqt":
        features = split.store.float32()
        chromas = [cqt_chroma(features[p], **chroma_settings(args)) for p in perf_ids]
    elif args.hpcp_cache and args.hpcp_cache.exists():
        cached = np.load(args.hpcp_cache)
        chromas = [cached[p] for p in perf_ids]
    else:
        path_of = split.manifest.set_index("perf_id").path
        chromas = [hpcp(peak_normalise(load_audio(path_of[p], 16000)), 16000) for p in perf_ids]
        if args.hpcp_cache:
            np.savez(args.hpcp_cache, **dict(zip(perf_ids, chromas, strict=True)))
    chromas = [torch.from_numpy(averaged_frames(c, args.average)) for c in chromas]
    pitch = PitchSettings(
        source=args.features,
        average_frames=args.average,
        stack=args.stack,
        kappa=args.kappa,
        match_threshold=args.threshold,
        prescreen={
            "keep": args.prescreen_keep,
            "factor": args.prescreen_factor,
            "stack": args.prescreen_stack,
            "kappa": args.prescreen_kappa,
        }
        if args.prescreen_keep
        else {},
    )
    started = time.perf_counter()
    scores, query_first, ref_first = align_all(chromas, pitch)
    seconds = time.perf_counter() - started
    distances = -scores
    manifest = split.manifest.set_index("perf_id")
    offsets = (
        manifest.true_offset_s.reindex(perf_ids).to_numpy(dtype=np.float64)
        if "true_offset_s" in manifest.columns
        else np.full(len(perf_ids), np.nan)
    )
    cqt = CQTConfig(**split.params["feature_cqt"]["cqt"])
    frame_s = pitch.frame_s(cqt.sample_rate, cqt.frame_rate)
    located, n_pairs = starts_within(query_first, ref_first, frame_s, work_ids, offsets, args.hop)
    overall = mirex_metrics(distances, work_ids, work_ids, perf_ids, perf_ids)
    queries = stratified_queries(perf_ids, work_ids, args.qmax_queries, args.seed)
    on_queries = metrics_on_queries(distances, work_ids, perf_ids, queries)
    chroma = chroma_settings(args) if args.features == "cqt" else {}
    print(
        f"{args.features} {chroma} average {args.average} stack {args.stack} "
        f"kappa {args.kappa} threshold {args.threshold} prescreen {pitch.prescreen or '-'}: "
        f"mAP {overall['mAP']:.3f} "
        f"({overall['n_queries']} queries), "
        f"on Qmax's {on_queries['n_queries']} {on_queries['mAP']:.3f}, "
        f"starts within {args.hop:g} s {located:.3f} of {n_pairs} true pairs, "
        f"{seconds / len(perf_ids) ** 2 * 1000:.1f} ms a pair"
    )


if __name__ == "__main__":
    main()
