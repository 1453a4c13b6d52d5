"""`precision: auto`: the embedding arithmetic this machine runs fast, read off its features.

bfloat16 autocast is fast only where the hardware multiplies bfloat16: on a CPU with AVX512-BF16
or AMX-BF16 it is about 2x float32 (`benchmarks/README.md`); on one without, PyTorch emulates it
and it is 2.7x *slower* (shipped model, 2-core AMD EPYC: 248 ms bf16 against 91 ms float32) and
38x slower for the paper's model. On CUDA, bfloat16 where the GPU supports it (Ampere and later).
Elsewhere float32: exact, and int8 (dynamic, Linear layers only) measured no faster on the
shipped model (87 ms against 91) while moving the embeddings (cosine 0.99+, not 0.9999+).

The CPU's features come from `/proc/cpuinfo` (Linux); where that file is missing (macOS) or says
nothing of bfloat16, the CPU counts as without.
"""

from __future__ import annotations

from pathlib import Path

import torch

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU feature flags the kernel reports (empty where it does not)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def auto_precision(device: torch.device, flags: set[str] | None = None) -> tuple[str, str]:
    """`(precision, why)` for embedding on `device` (see the module doc)."""
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bfloat16", "the GPU computes in bfloat16"
        return "float32", "the GPU has no bfloat16"
    if device.type == "cpu":
        found = sorted(set(CPU_BF16_FLAGS) & (cpu_flags() if flags is None else flags))
        if found:
            return "bfloat16", f"the CPU multiplies bfloat16 ({', '.join(found)})"
        return "float32", "the CPU has no AVX512-BF16 or AMX: bfloat16 would be emulated"
    return "float32", f"{device.type}: float32"
