"""Start data-parallel training: local processes via ``torch.multiprocessing.spawn``, or under
``torchrun``.

``train`` needs nothing more than an initialised default process group: it then wraps model and
loss in DistributedDataParallel and asks the batch source for each rank's slice.

Locally::

    run_distributed(fit, world_size=2)   # calls fit(rank, world_size) in 2 processes

With torchrun (one process per GPU)::

    torchrun --nproc-per-node 4 -m coverhunter.training.distributed my_pkg.my_mod:fit ARG...

which calls ``my_pkg.my_mod.fit(rank, world_size, "ARG", ...)`` in every process.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = ["default_backend", "init_from_env", "main", "run_distributed"]

log = logging.getLogger(__name__)


def default_backend() -> str:
    """NCCL where CUDA is available, gloo otherwise."""
    return "nccl" if torch.cuda.is_available() else "gloo"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _worker(
    rank: int,
    fn: Callable[..., None],
    world_size: int,
    backend: str,
    init_method: str,
    args: tuple[Any, ...],
) -> None:
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size)
    try:
        fn(rank, world_size, *args)
    finally:
        dist.destroy_process_group()


def run_distributed(
    fn: Callable[..., None],
    world_size: int,
    *args: Any,
    backend: str | None = None,
    init_method: str | None = None,
) -> None:
    """Call ``fn(rank, world_size, *args)`` in ``world_size`` fresh processes, each with the
    default process group initialised; return when all have finished.

    ``fn`` and ``args`` must be picklable (a module-level function). The rendezvous defaults to
    a free TCP port on 127.0.0.1; ``backend`` defaults to ``default_backend()``.

    Raises:
        ValueError: ``world_size`` below 1.
        torch.multiprocessing.ProcessRaisedException: a worker failed.
    """
    if world_size < 1:
        raise ValueError(f"world_size={world_size} must be >= 1")
    backend = backend or default_backend()
    init_method = init_method or f"tcp://127.0.0.1:{_free_port()}"
    log.info("starting %d processes (%s, %s)", world_size, backend, init_method)
    mp.spawn(
        _worker,
        args=(fn, world_size, backend, init_method, tuple(args)),
        nprocs=world_size,
        join=True,
    )


def init_from_env(backend: str | None = None) -> tuple[int, int]:
    """Initialise the default process group from torchrun's environment variables, after
    making this process's GPU (`LOCAL_RANK`) the current one, so that "cuda" means it for the
    model, the batches, the validation and NCCL alike.

    Returns:
        (rank, world_size).
    """
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend or default_backend(), init_method="env://")
    return dist.get_rank(), dist.get_world_size()


def main(argv: Sequence[str] | None = None) -> None:
    """torchrun entry point: ``MODULE:FUNCTION [ARG ...]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or ":" not in argv[0]:
        raise ValueError(f"expected MODULE:FUNCTION as the first argument, got {argv[:1]}")
    module_name, function_name = argv[0].split(":", 1)
    fn = getattr(importlib.import_module(module_name), function_name)
    rank, world_size = init_from_env()
    try:
        fn(rank, world_size, *argv[1:])
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
