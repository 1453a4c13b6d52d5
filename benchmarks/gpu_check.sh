#!/usr/bin/env bash
# The GPU checks in one script, for a bare GPU machine: the CUDA tests, then the throughput tables.
#
# The GPU machine has python3 (3.12) with torch (CUDA), numpy, pandas, pyarrow, scipy, matplotlib,
# pytest, tqdm, safetensors, pyyaml and nvidia-ml-py, and no network. What our code needs beyond
# that travels as wheels in the git-ignored folder .whl/ (`/.whl/` is in .git/info/exclude):
# nnAudio (the CQT), faiss-cpu (the index), soundfile with cffi and pycparser (decoding the query
# in tests/test_cuda.py). mlflow, Kedro, music21 and essentia are not needed: the library modules
# used here import none of them (tests/test_gpu_imports.py checks that).
#
# 1. Here, on a machine with the package index, once (downloads the wheels, prints their sizes):
#
#        bash benchmarks/gpu_check.sh fetch-wheels
#
# 2. On the GPU machine, from the repository root, with .whl/ carried along; with the device
#    tool that is
#
#        run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=420)
#
#    It installs the wheels into /tmp/site (PYTHONPATH=src:/tmp/site, our package from src/),
#    prints nvidia-smi and the torch / CUDA versions, runs `pytest tests/test_cuda.py`, then
#    `benchmarks/gpu_throughput.py` (training samples/s with the real loader, GPU busy share,
#    peak GPU memory, host memory per logged step, CQT and indexing throughput). About 5 minutes
#    on an H200, most of it the benchmark. The benchmark runs even when a test fails; the exit
#    status is the tests' (or the benchmark's, when the tests passed). A copy of everything
#    printed goes to $OUT/gpu_check.log when $OUT is set (the device tool sets it).
#
# Extra arguments after the mode go to the benchmark, e.g. `bash benchmarks/gpu_check.sh run
# --timed-steps 60`.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=(
    nnAudio==0.3.4
    faiss-cpu==1.15.1
    soundfile==0.14.0
    cffi==2.1.1
    pycparser==3.12
)
WHEEL_DIR=.whl
MAX_WHEEL_MIB=60

fetch_wheels() {
    mkdir -p "$WHEEL_DIR"
    local spec
    for spec in "${WHEELS[@]}"; do
        python3 -m pip download --quiet --no-deps --only-binary=:all: \
            --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            --platform manylinux1_x86_64 \
            -d "$WHEEL_DIR" "$spec"
    done
    ls -l "$WHEEL_DIR"/*.whl | awk '{printf "%8.2f MiB  %s\n", $5 / 1048576, $9}'
    local total
    total=$(du -cb "$WHEEL_DIR"/*.whl | tail -1 | cut -f1)
    awk -v t="$total" 'BEGIN {printf "%8.2f MiB  total\n", t / 1048576}'
    if ((total > MAX_WHEEL_MIB * 1048576)); then
        echo "the wheels exceed $MAX_WHEEL_MIB MiB: the device tool carries 64 MiB at most" >&2
        exit 1
    fi
    if ! git check-ignore -q "$WHEEL_DIR/x.whl"; then
        echo "note: $WHEEL_DIR/ is not git-ignored; add /$WHEEL_DIR/ to .git/info/exclude" >&2
    fi
}

run_checks() {
    if [[ -n "${OUT:-}" ]]; then
        exec > >(tee "$OUT/gpu_check.log") 2>&1
    fi
    local wheels=("$WHEEL_DIR"/*.whl)
    if [[ ! -e "${wheels[0]}" ]]; then
        echo "no wheels in $WHEEL_DIR/: run 'bash benchmarks/gpu_check.sh fetch-wheels' first" >&2
        exit 1
    fi
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "${wheels[@]}"
    export PYTHONPATH=src:/tmp/site
    export PYTHONDONTWRITEBYTECODE=1

    echo "== nvidia-smi"
    nvidia-smi || echo "(nvidia-smi failed)"
    echo "== versions"
    python3 - <<'EOF'
import platform

import faiss
import nnAudio
import numpy
import soundfile
import torch

print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version()}, numpy {numpy.__version__}, "
      f"faiss {faiss.__version__}, nnAudio {nnAudio.__version__}, "
      f"soundfile {soundfile.__version__} (libsndfile {soundfile.__libsndfile_version__})")
print(f"CUDA available: {torch.cuda.is_available()}, devices: {torch.cuda.device_count()}, "
      f"bf16 supported: {torch.cuda.is_available() and torch.cuda.is_bf16_supported()}")
if torch.cuda.is_available():
    print(f"device 0: {torch.cuda.get_device_name(0)}")
EOF

    echo "== tests/test_cuda.py"
    local status=0
    python3 -m pytest tests/test_cuda.py -q -rs -p no:cacheprovider || status=$?

    echo "== benchmarks/gpu_throughput.py $*"
    local bench=0
    python3 benchmarks/gpu_throughput.py "$@" || bench=$?
    echo "== done: tests exit $status, benchmark exit $bench"
    if ((status == 0)); then
        status=$bench
    fi
    exit "$status"
}

mode="${1:-run}"
if (($#)); then
    shift
fi
case "$mode" in
    fetch-wheels) fetch_wheels ;;
    run) run_checks "$@" ;;
    *)
        echo "usage: bash benchmarks/gpu_check.sh [fetch-wheels | run [benchmark arguments]]" >&2
        exit 2
        ;;
esac
