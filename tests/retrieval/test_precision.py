"""`precision: auto` picks bfloat16 only where the hardware multiplies it."""

import torch

from coverhunter.retrieval.embed import inference_embed_fn
from coverhunter.retrieval.precision import auto_precision, cpu_flags


def test_a_cpu_with_bf16_instructions_gets_bfloat16_one_without_float32():
    cpu = torch.device("cpu")
    assert auto_precision(cpu, {"avx2", "avx512f", "avx512_bf16"})[0] == "bfloat16"
    assert auto_precision(cpu, {"avx2", "amx_bf16", "amx_tile"})[0] == "bfloat16"
    precision, why = auto_precision(cpu, {"avx2", "avx512f"})  # AVX-512 alone is not enough
    assert precision == "float32" and "emulated" in why
    assert auto_precision(torch.device("mps"), set())[0] == "float32"


def test_flags_are_read_from_the_kernel_listing_and_missing_means_none(tmp_path):
    listing = tmp_path / "cpuinfo"
    listing.write_text("processor : 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor : 1\n")
    assert cpu_flags(listing) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "absent") == set()


def test_the_embedder_resolves_auto_to_what_the_machine_runs_fast():
    model = torch.nn.Linear(2, 2)
    model.embed = lambda cqt, lengths: cqt.mean(1)
    embedder = inference_embed_fn(model, "auto", "cpu")
    assert embedder.precision == auto_precision(torch.device("cpu"))[0]
