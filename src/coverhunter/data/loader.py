"""Training batches from a `DataLoader`: the plan in the main process, cutting in workers.

The P x K batch sampler (`StepPlans`) yields, for each step, the items a batch source planned
for this rank (works first, then versions or aligned pairs; `data/batches.py`); the dataset
(`PlannedItems`) cuts and augments one item, in a worker process when `num_workers > 0`; the
`collate_fn` pads them into a `Batch`. Every item carries its own augmentation seed from the
plan, so the batches of a step are the same whatever the number of workers, and the same as
`source.batch(step)` computed in-process. Pinned memory (on by default when training on CUDA)
lets the step copy a batch to the GPU without blocking.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from coverhunter.data.batches import BatchSource, PlannedItem, collate_batch

__all__ = ["LoaderConfig", "PlannedItems", "StepPlans", "WholeBatches", "batch_loader"]

PIN_MEMORY = ("auto", True, False)
START_METHODS = (None, "fork", "forkserver", "spawn")


@dataclass(frozen=True)
class LoaderConfig:
    """`num_workers` 0 cuts in the training process; `prefetch_factor` batches per worker are
    prepared ahead; `pin_memory` "auto" pins when the device is CUDA; `start_method` None takes
    the platform's default (fork on Linux)."""

    num_workers: int = 0
    prefetch_factor: int = 2
    pin_memory: str | bool = "auto"
    start_method: str | None = None

    def __post_init__(self):
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if self.prefetch_factor < 1:
            raise ValueError(f"prefetch_factor must be >= 1, got {self.prefetch_factor}")
        if self.pin_memory not in PIN_MEMORY:
            raise ValueError(f"pin_memory={self.pin_memory!r}; expected one of {PIN_MEMORY}")
        if self.start_method not in START_METHODS:
            raise ValueError(f"start_method={self.start_method!r}; expected {START_METHODS}")

    def pins(self, device: torch.device) -> bool:
        return device.type == "cuda" if self.pin_memory == "auto" else bool(self.pin_memory)

    def to_dict(self) -> dict:
        return asdict(self)


class PlannedItems(Dataset):
    """Map-style dataset whose keys are planned items: `dataset[item] -> (frames (n, F), label)`."""

    def __init__(self, source: BatchSource):
        self.source = source

    def __getitem__(self, item: PlannedItem) -> tuple[torch.Tensor, int]:
        return self.source.cut(item), item.label


class WholeBatches(Dataset):
    """For a source without `plan`/`cut`: `dataset[step]` is its whole batch of that step."""

    def __init__(self, source: BatchSource, rank: int, world_size: int):
        self.source, self.rank, self.world_size = source, rank, world_size

    def __getitem__(self, step: int):
        return self.source.batch(step, self.rank, self.world_size)


def _as_is(batch):
    return batch


class StepPlans(Sampler[list[PlannedItem]]):
    """The batch sampler: rank `rank`'s planned items of steps `start, ..., stop - 1`."""

    def __init__(self, source: BatchSource, start: int, stop: int, rank: int, world_size: int):
        self.source, self.start, self.stop = source, int(start), int(stop)
        self.rank, self.world_size = rank, world_size

    def __iter__(self) -> Iterator[list[PlannedItem]]:
        for step in range(self.start, self.stop):
            yield self.source.plan(step, self.rank, self.world_size)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def _seed_worker(worker_id: int) -> None:
    # Items carry their own generators; this only pins library code that uses the global RNGs.
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def batch_loader(
    source: BatchSource,
    start: int,
    stop: int,
    config: LoaderConfig,
    device: torch.device,
    *,
    rank: int = 0,
    world_size: int = 1,
    seed: int = 0,
) -> DataLoader:
    """A `DataLoader` over the batches of steps `start` to `stop - 1` (one batch per step)."""
    workers = config.num_workers
    if hasattr(source, "plan") and hasattr(source, "cut"):
        batching = {
            "dataset": PlannedItems(source),
            "batch_sampler": StepPlans(source, start, stop, rank, world_size),
            "collate_fn": collate_batch,
        }
    else:
        batching = {
            "dataset": WholeBatches(source, rank, world_size),
            "sampler": range(start, stop),
            "batch_size": None,
            "collate_fn": _as_is,
        }
    return DataLoader(
        **batching,
        num_workers=workers,
        pin_memory=config.pins(device),
        prefetch_factor=config.prefetch_factor if workers else None,
        worker_init_fn=_seed_worker if workers else None,
        generator=torch.Generator().manual_seed(seed),
        multiprocessing_context=config.start_method if workers else None,
        persistent_workers=False,
    )
