"""P works x K items training batches for the coarse and the fine stage, deterministic per step.

A source plans each step's items (`plan(step, rank, world_size)`: where to cut, label, seed) and
cuts one item (`cut(item)`); `data/loader.py` runs the cutting in `DataLoader` workers and the
training loop sees only ready batches. The two stages differ in the source alone:

- `CoarseBatchSource`: items are every (performance, chunk start) on the coarse grid of
  `chunk_starts` (15 s chunks, 7.5 s hop, tail kept); K chunks per work, from distinct
  performances when the work has K of them.
- `FineBatchSource`: items are the two sides of the aligned pairs the alignment stage found, cut
  from their aligned starts with one random length per batch (multi-length training).

A batch depends on `(seed, step)` only: `np.random.default_rng([seed, step])` draws the whole
global batch plan, and every item gets its own `torch.Generator` for augmentation, seeded from
that plan. So a resumed run sees the same batches, and with `world_size > 1` every rank draws the
same global plan and cuts and augments only its own slice of whole works (batch-hard triplet
mining needs a work's items on one rank).

Works are drawn uniformly, without replacement, not in proportion to their item counts: a work
with one short recording is seen as often as one with fifty. Padding frames hold 0.0; `lengths`
says which frames are real.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd
import torch

from coverhunter.data.chunking import chunk_starts, pad_batch

logger = logging.getLogger(__name__)

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

# The columns of the alignment stage's table (alignment/pairs.py, ALIGNED_PAIR_COLUMNS) that the
# fine sampler reads; that table also holds offset_s, n_matches and similarity.
PAIR_COLUMNS_READ = ("work_id", "perf_a", "perf_b", "start_a_s", "start_b_s")


@dataclass
class Batch:
    cqt: torch.Tensor  # (B, T, F) float32 log-CQT, padded with 0.0 past each row's length
    lengths: torch.Tensor  # (B,) long, valid frames per row
    labels: torch.Tensor  # (B,) long, work label index in [0, n_classes)

    def pin_memory(self) -> Batch:
        """Page-locked copies (the `DataLoader` calls this with `pin_memory=True`), so the
        step's `non_blocking` copies to the GPU overlap with compute."""
        return Batch(self.cqt.pin_memory(), self.lengths.pin_memory(), self.labels.pin_memory())


class BatchSource(Protocol):
    """What the training loop needs. Sources that also offer `plan(step, rank, world_size) ->
    [PlannedItem]` and `cut(item) -> (n, F)` (both of ours) are cut item by item in the loader's
    workers; a minimal one (a test's) is asked for whole batches."""

    n_classes: int
    class_counts: torch.Tensor  # (n_classes,) float, training items per class

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> Batch: ...


@dataclass
class SamplerConfig:
    """Batch shape and chunk lengths. Seconds are turned into frames with `frame_rate`.

    `multi_length`: the fine stage draws one length in `[fine_min_s, fine_max_s]` per batch;
    without it every fine item is `fine_max_s` long (the inference chunk length). Coarse chunks
    are always `chunk_s` long. `fallback_unaligned`: the fine stage may also draw works that have
    no aligned pair, as coarse-style chunks.
    """

    p_works: int
    k_items: int
    frame_rate: float = 25.0
    chunk_s: float = 15.0
    chunk_hop_s: float = 7.5
    fine_min_s: float = 15.0
    fine_max_s: float = 45.0
    multi_length: bool = True
    fallback_unaligned: bool = False

    def __post_init__(self):
        if self.p_works < 1 or self.k_items < 1:
            raise ValueError(
                f"p_works and k_items must be at least 1, got {self.p_works} and {self.k_items}"
            )
        for name in ("frame_rate", "chunk_s", "chunk_hop_s", "fine_min_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.fine_min_s > self.fine_max_s:
            raise ValueError(
                f"fine_min_s {self.fine_min_s} is larger than fine_max_s {self.fine_max_s}"
            )

    def frames(self, seconds: float) -> int:
        """Whole frames in `seconds` (at least one)."""
        return max(1, round(seconds * self.frame_rate))


class _Item(NamedTuple):
    perf_id: str
    start: int  # first frame
    n_frames: int  # frames wanted (fewer when the recording ends first)
    label: int


class PlannedItem(NamedTuple):
    """One row of a batch as planned: where to cut, its label, its augmentation's seed."""

    perf_id: str
    start: int
    n_frames: int
    label: int
    seed: int


def collate_batch(rows: list[tuple[torch.Tensor, int]]) -> Batch:
    """`[(frames (n_i, F), label)]` -> a padded `Batch` (the loader's `collate_fn`)."""
    cqt, lengths = pad_batch([frames for frames, _ in rows])
    return Batch(cqt=cqt, lengths=lengths, labels=torch.tensor([label for _, label in rows]))


def work_label_index(work_ids: Iterable[str]) -> dict[str, int]:
    """Sorted unique work ids -> 0..n-1."""
    return {work: index for index, work in enumerate(sorted({str(w) for w in work_ids}))}


def _draw_slots(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """`k` indices into `range(n)`: distinct when `n >= k`, else all of them plus repeats."""
    if n >= k:
        return rng.choice(n, size=k, replace=False)
    return np.concatenate([rng.permutation(n), rng.choice(n, size=k - n, replace=True)])


def _rank_slice(p_works: int, rank: int, world_size: int) -> slice:
    """The works (positions in the global batch) that `rank` of `world_size` returns."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
    if p_works % world_size:
        raise ValueError(f"p_works {p_works} is not divisible by world_size {world_size}")
    per_rank = p_works // world_size
    return slice(rank * per_rank, (rank + 1) * per_rank)


def _check_items(features: Mapping[str, np.ndarray], items: pd.DataFrame) -> pd.DataFrame:
    missing_columns = {"perf_id", "work_id"} - set(items.columns)
    if missing_columns:
        raise ValueError(f"items table lacks columns {sorted(missing_columns)}")
    items = items[["perf_id", "work_id"]].astype(str)
    duplicated = items.perf_id[items.perf_id.duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(f"perf_id appears more than once in the items table: {duplicated[:5]}")
    missing = [perf for perf in items.perf_id if perf not in features]
    if missing:
        raise ValueError(f"{len(missing)} performances have no features, e.g. {missing[:5]}")
    if items.empty:
        raise ValueError("items table is empty: nothing to train on")
    return items


class _PlannedBatches:
    """Shared machinery: labels, the per-work coarse chunk grid, rank slicing, cutting, padding."""

    def __init__(
        self,
        features: Mapping[str, np.ndarray],
        items: pd.DataFrame,
        config: SamplerConfig,
        augmenter: Augment | None,
        seed: int,
    ):
        items = _check_items(features, items)
        self.features = features
        self.config = config
        self.augmenter = augmenter
        self.seed = int(seed)
        self.label_of = work_label_index(items.work_id)
        self.n_classes = len(self.label_of)
        self.n_frames = {perf: int(features[perf].shape[0]) for perf in items.perf_id}
        chunk = config.frames(config.chunk_s)
        hop = config.frames(config.chunk_hop_s)
        # per label: [(perf_id, coarse chunk starts)], performances in sorted order
        self.chunks_of: dict[int, list[tuple[str, np.ndarray]]] = {}
        for perf, work in sorted(zip(items.perf_id, items.work_id, strict=True)):
            starts = chunk_starts(self.n_frames[perf], chunk, hop)
            self.chunks_of.setdefault(self.label_of[work], []).append((perf, starts))
        self.class_counts = self._prepare(items)

    def _prepare(self, items: pd.DataFrame) -> torch.Tensor:
        """The stage's own checks and indexes, once the chunk grid is built; -> class_counts."""
        raise NotImplementedError

    def n_chunk_items(self, label: int) -> int:
        return sum(len(starts) for _, starts in self.chunks_of.get(label, []))

    def _coarse_items(self, rng: np.random.Generator, label: int, k: int) -> list[_Item]:
        """K coarse chunks of one work: distinct performances first, then distinct chunks."""
        perfs = self.chunks_of[label]
        slots = _draw_slots(rng, len(perfs), k)
        starts = np.empty(k, dtype=np.int64)
        for perf_index in np.unique(slots):
            where = np.flatnonzero(slots == perf_index)
            grid = perfs[perf_index][1]
            starts[where] = grid[_draw_slots(rng, len(grid), len(where))]
        chunk = self.config.frames(self.config.chunk_s)
        return [
            _Item(perfs[s][0], int(start), chunk, label)
            for s, start in zip(slots, starts, strict=True)
        ]

    def _plan(self, rng: np.random.Generator) -> list[list[_Item]]:
        """The global batch: P lists (one per work) of K items."""
        raise NotImplementedError

    def plan(self, step: int, rank: int = 0, world_size: int = 1) -> list[PlannedItem]:
        """Rank `rank`'s share of the global batch of `step`: `(P / world_size) * K` items, each
        with the seed of its augmentation. Cheap: no feature is read."""
        own = _rank_slice(self.config.p_works, rank, world_size)
        rng = np.random.default_rng([self.seed, int(step)])
        plan = self._plan(rng)
        item_seeds = rng.integers(0, 2**63 - 1, size=(len(plan), len(plan[0])))
        return [
            PlannedItem(*item, seed=int(item_seed))
            for work_items, seeds in zip(plan[own], item_seeds[own], strict=True)
            for item, item_seed in zip(work_items, seeds, strict=True)
        ]

    def cut(self, item: PlannedItem) -> torch.Tensor:
        """One item's frames `(n, F)` float32, augmented with its own generator."""
        frames = np.asarray(self.features[item.perf_id][item.start : item.start + item.n_frames])
        chunk = torch.from_numpy(frames.astype(np.float32, copy=True))
        if self.augmenter is not None:
            chunk = self.augmenter(chunk, torch.Generator().manual_seed(item.seed))
        return chunk

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> Batch:
        """The batch of `step` cut in this process (the `DataLoader` of `data/loader.py` cuts the
        same items in its workers)."""
        items = self.plan(step, rank, world_size)
        return collate_batch([(self.cut(item), item.label) for item in items])


class CoarseBatchSource(_PlannedBatches):
    """P works x K coarse chunks (see the module docstring).

    `features`: perf_id -> log-CQT `(frames, F)`; `items`: a table with `perf_id, work_id` (the
    trainable training rows); `augmenter`: called on each chunk with its own generator, or None.
    """

    def _prepare(self, items: pd.DataFrame) -> torch.Tensor:
        if self.config.p_works > self.n_classes:
            raise ValueError(
                f"p_works {self.config.p_works} exceeds the {self.n_classes} works in the items "
                "table"
            )
        counts = [self.n_chunk_items(label) for label in range(self.n_classes)]
        return torch.tensor(counts, dtype=torch.float32)

    def _plan(self, rng: np.random.Generator) -> list[list[_Item]]:
        labels = rng.choice(self.n_classes, size=self.config.p_works, replace=False)
        return [self._coarse_items(rng, int(label), self.config.k_items) for label in labels]


class FineBatchSource(_PlannedBatches):
    """P works x K/2 aligned pairs, both sides cut from their aligned starts.

    One length L per batch (uniform in frames over `[fine_min_s, fine_max_s]` with
    `multi_length`, else `fine_max_s`); a pair's two sides are both cut to
    `min(L, frames left in a, frames left in b)`, so they cover the same aligned stretch.
    `aligned_pairs` is the alignment stage's table (at least `PAIR_COLUMNS_READ`); pairs whose
    performances are not both training items of that work are dropped (logged).
    `class_counts` counts pair sides (and, with `fallback_unaligned`, the coarse chunks of works
    without pairs); a work that can never be drawn counts 0.
    """

    def __init__(  # noqa: PLR0917 (the stage's positional contract)
        self,
        features: Mapping[str, np.ndarray],
        aligned_pairs: pd.DataFrame,
        items: pd.DataFrame,
        config: SamplerConfig,
        augmenter: Augment | None,
        seed: int,
    ):
        if config.k_items % 2:
            raise ValueError(f"k_items must be even for pairs, got {config.k_items}")
        self._aligned_pairs = aligned_pairs  # read by _prepare, during the base's __init__
        super().__init__(features, items, config, augmenter, seed)
        del self._aligned_pairs

    def _prepare(self, items: pd.DataFrame) -> torch.Tensor:
        config = self.config
        self.pairs_of = self._index_pairs(self._aligned_pairs, items)
        unaligned = [label for label in range(self.n_classes) if label not in self.pairs_of]
        self.fallback_labels = unaligned if config.fallback_unaligned else []
        self.eligible = np.array(sorted([*self.pairs_of, *self.fallback_labels]), dtype=np.int64)
        if config.p_works > len(self.eligible):
            raise ValueError(
                f"p_works {config.p_works} exceeds the {len(self.eligible)} works that can be "
                f"drawn ({len(self.pairs_of)} with aligned pairs, fallback_unaligned="
                f"{config.fallback_unaligned})"
            )
        counts = torch.zeros(self.n_classes, dtype=torch.float32)
        for label, pairs in self.pairs_of.items():
            counts[label] = 2 * len(pairs)
        for label in self.fallback_labels:
            counts[label] = self.n_chunk_items(label)
        return counts

    def _index_pairs(
        self, aligned_pairs: pd.DataFrame, items: pd.DataFrame
    ) -> dict[int, list[tuple[str, int, str, int]]]:
        """label -> [(perf_a, start frame a, perf_b, start frame b)] of the usable pairs."""
        missing = set(PAIR_COLUMNS_READ) - set(aligned_pairs.columns)
        if missing:
            raise ValueError(f"aligned_pairs lacks columns {sorted(missing)}")
        work_of = dict(zip(items.perf_id.astype(str), items.work_id.astype(str), strict=True))
        pairs_of: dict[int, list[tuple[str, int, str, int]]] = {}
        dropped = 0
        for row in aligned_pairs.itertuples(index=False):
            work, perf_a, perf_b = str(row.work_id), str(row.perf_a), str(row.perf_b)
            if work_of.get(perf_a) != work or work_of.get(perf_b) != work:
                dropped += 1
                continue
            start_a = self._start_frame(perf_a, row.start_a_s)
            start_b = self._start_frame(perf_b, row.start_b_s)
            pairs_of.setdefault(self.label_of[work], []).append((perf_a, start_a, perf_b, start_b))
        if dropped:
            logger.warning(
                "Dropped %d of %d aligned pairs whose performances are not training items of "
                "their work",
                dropped,
                len(aligned_pairs),
            )
        return pairs_of

    def _start_frame(self, perf: str, start_s: float) -> int:
        start = round(float(start_s) * self.config.frame_rate)
        return int(np.clip(start, 0, self.n_frames[perf] - 1))

    def _plan(self, rng: np.random.Generator) -> list[list[_Item]]:
        config = self.config
        longest = config.frames(config.fine_max_s)
        length = longest
        if config.multi_length:
            length = int(rng.integers(config.frames(config.fine_min_s), longest + 1))
        labels = self.eligible[rng.choice(len(self.eligible), size=config.p_works, replace=False)]
        plan = []
        for label in labels.tolist():
            if label not in self.pairs_of:
                plan.append(self._coarse_items(rng, label, config.k_items))
                continue
            pairs = self.pairs_of[label]
            work_items = []
            for pair_index in _draw_slots(rng, len(pairs), config.k_items // 2):
                perf_a, start_a, perf_b, start_b = pairs[pair_index]
                n = min(length, self.n_frames[perf_a] - start_a, self.n_frames[perf_b] - start_b)
                work_items += [_Item(perf_a, start_a, n, label), _Item(perf_b, start_b, n, label)]
            plan.append(work_items)
        return plan
