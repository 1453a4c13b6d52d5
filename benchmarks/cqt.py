"""CQT throughput: seconds of audio per second of compute, ours against librosa in the same run.

    .venv/bin/python benchmarks/cqt.py [--seconds 240] [--repeats 5] [--threads 2]

librosa's octave-wise `cqt` refuses 96 bins from 32 Hz at 16 kHz (its top filter passes Nyquist),
so the reference runs at 94 bins; ours runs the paper's 96. Ratios > 1 mean ours is faster.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt_batch

LABELS = {
    "1992v2": "nnAudio CQT1992v2",
    "2010v2": "nnAudio CQT2010v2",
    "multirate": "multirate (ours, nnAudio kernels)",
}


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: kernels built, caches filled
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0, help="length of the test signal")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8, help="tracks per batch on the GPU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    rate = 16000
    signal = (0.3 * rng.standard_normal(int(args.seconds * rate))).astype(np.float32)
    rows = []

    import librosa

    reference = _median_seconds(
        lambda: librosa.cqt(
            signal, sr=rate, hop_length=640, fmin=32.0, n_bins=94, bins_per_octave=12
        ),
        args.repeats,
    )
    rows.append(("librosa.cqt (94 bins, reference)", "cpu", args.seconds / reference, 1.0))

    for method in ("1992v2", "2010v2", "multirate"):
        extractor = CQTExtractor(CQTConfig(method=method))
        seconds = _median_seconds(lambda e=extractor: log_cqt_batch([signal], e), args.repeats)
        rows.append(
            (
                f"{LABELS[method]} (96 bins)",
                "cpu",
                args.seconds / seconds,
                reference / seconds,
            )
        )

    if torch.cuda.is_available():
        device = torch.device("cuda")
        batch = [signal] * args.batch
        for method in ("1992v2", "2010v2", "multirate"):
            extractor = CQTExtractor(CQTConfig(method=method)).to(device)

            def run(e=extractor):
                log_cqt_batch(batch, e, device)
                torch.cuda.synchronize()

            seconds = _median_seconds(run, args.repeats)
            audio = args.seconds * args.batch
            rows.append(
                (
                    f"{LABELS[method]} (96 bins, batch {args.batch})",
                    "cuda",
                    audio / seconds,
                    (audio / seconds) / (args.seconds / reference),
                )
            )

    print(
        f"CQT throughput, {args.seconds:.0f} s signal, {args.threads} threads, "
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}"
    )
    print(f"{'transform':56s} {'device':6s} {'audio s / s':>12s} {'vs librosa':>11s}")
    for name, device, speed, ratio in rows:
        print(f"{name:56s} {device:6s} {speed:12.0f} {ratio:10.2f}x")


if __name__ == "__main__":
    main()
