"""The one training loop, shared by the coarse and fine stages (they differ in the batch source).

Each step ``s`` (0-based) draws ``batches.batch(s, rank, world_size)``, reseeds torch's RNG from
``(seed, s, rank)`` (so dropout and the pooling mask replay exactly after a resume), sets the
learning rate ``get_lr(s)``, and takes one clipped Adam(W) step on the joint loss. The caller's
global RNG state is restored when ``train`` returns.

Resuming: the latest checkpoint lives at ``checkpoint_dir/checkpoint-<fingerprint>.pt``; the
fingerprint covers the model, loss and training settings (not max_steps, logging or device),
the class counts and the world size. An unfinished checkpoint with the same fingerprint is
resumed and ends bit-identical to an uninterrupted run; a finished one is not reused (a new run
trains afresh), so an old model is never returned silently.

Batches come from a ``DataLoader`` (``data/loader.py``) whose workers cut and augment while the
step runs; the step only moves a ready (pinned, on CUDA) batch to the device.

Distributed: when ``torch.distributed`` is initialised, model and loss train inside one
DistributedDataParallel module (the center-loss centers are all-reduced with the model;
BatchNorm synchronised across ranks with ``sync_batchnorm``), each rank draws its own slice of
the global batch, every rank validates its share of the tracks (the validator gathers them, so
every rank gets the same metric and stops together), rank 0 alone logs and writes checkpoints.
Logged losses are rank 0's slice.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from coverhunter.data.loader import LoaderConfig, batch_loader
from coverhunter.device import resolve_device
from coverhunter.model.coverhunter import CoverHunter
from coverhunter.model.losses import CoverHunterLoss
from coverhunter.training.checkpoint import (
    checkpoint_path,
    load_checkpoint,
    run_fingerprint,
    save_checkpoint,
)
from coverhunter.training.config import TrainingConfig
from coverhunter.training.metric_logging import MetricLogger
from coverhunter.training.optimizer import build_optimizer
from coverhunter.training.schedule import get_lr

if TYPE_CHECKING:
    from coverhunter.data.batches import BatchSource

__all__ = ["Prepare", "TrainingResult", "Validate", "train"]

log = logging.getLogger(__name__)

Validate = Callable[[CoverHunter], float]
Prepare = Callable[[CoverHunter, CoverHunterLoss, torch.device], None]


@dataclass
class TrainingResult:
    """What a training stage hands on.

    Attributes:
        model: the best model by validation metric (the last one without validation), in eval
            mode, on the CPU.
        history: one dict per logged or validated step, each with ``step`` and the metrics
            logged then (``loss/total``, ``loss/focal``, ..., ``lr``, ``samples_per_s``,
            ``grad_norm``, ``val/mAP``).
        best_metric: highest validation metric, or None without validation.
        best_step: the step that reached it, or None.
        steps: optimizer steps done, resumed ones included.
        stopped_early: whether early stopping ended the run.
        checkpoint_path: the run's last checkpoint.
    """

    model: CoverHunter
    history: list[dict[str, float]]
    best_metric: float | None
    best_step: int | None
    steps: int
    stopped_early: bool
    checkpoint_path: Path


@dataclass
class _State:
    """The loop's progress, all of it saved in the checkpoint."""

    step: int = 0
    best_metric: float | None = None
    best_step: int | None = None
    best_state: dict[str, torch.Tensor] | None = None
    since_best: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False


class _ModelWithLoss(nn.Module):
    """Model and loss as one module, so DDP all-reduces the loss's centers too."""

    def __init__(self, model: CoverHunter, loss_fn: CoverHunterLoss):
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, cqt: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor):
        return self.loss_fn(self.model(cqt, lengths), labels)


def _distributed_context() -> tuple[int, int]:
    """(rank, world_size); (0, 1) when torch.distributed is not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _training_device(name: str, rank: int, world_size: int) -> torch.device:
    device = resolve_device(name)
    if device.type == "cuda" and device.index is None and world_size > 1:
        local_rank = int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count()))
        device = torch.device("cuda", local_rank)
    return device


def _autocast_dtype(device: torch.device, config: TrainingConfig) -> torch.dtype | None:
    """The autocast dtype, or None for full precision (always off the GPU)."""
    if not (config.mixed_precision and device.type == "cuda"):
        return None
    if config.amp_dtype == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return getattr(torch, config.amp_dtype)


def _step_seed(seed: int, step: int, rank: int) -> int:
    """Distinct seed per (seed, step, rank); rank below 1009 assumed."""
    return ((seed * 1_000_003 + step) * 1_009 + rank) % 2**63


def _rng_devices(device: torch.device) -> list[int]:
    return [device.index or 0] if device.type in ("cuda", "mps") else []


def _rng_states(device: torch.device) -> dict[str, torch.Tensor]:
    states = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _restore_rng_states(states: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _validate(
    model: CoverHunter, validate: Validate, device: torch.device, world_size: int
) -> float:
    """Every rank scores the model in eval mode (the validator shares the tracks out); rank 0's
    score is broadcast so that every rank decides the same."""
    model.eval()
    with torch.inference_mode():
        metric = float(validate(model))
    model.train()
    if world_size > 1:
        carrier_device = device if dist.get_backend() == "nccl" else torch.device("cpu")
        carrier = torch.tensor([metric], dtype=torch.float64, device=carrier_device)
        dist.broadcast(carrier, src=0)
        metric = float(carrier.item())
    return metric


def _validate_start(
    state: _State,
    model: CoverHunter,
    validate: Validate,
    device: torch.device,
    rank: int,
    world_size: int,
    config: TrainingConfig,
    metric_logger: MetricLogger | None,
) -> None:
    """The starting model's score, at step 0: the best until a step beats it."""
    metric = _validate(model, validate, device, world_size)
    _update_best(state, metric, model, config.early_stopping_patience)
    if rank == 0:
        state.history.append({"step": 0, "val/mAP": metric})
        if metric_logger is not None:
            metric_logger.log_metrics({"val/mAP": metric}, step=0)


def _update_best(state: _State, metric: float, model: CoverHunter, patience: int) -> None:
    if not math.isnan(metric) and (state.best_metric is None or metric > state.best_metric):
        state.best_metric, state.best_step = metric, state.step
        state.best_state = _cpu_state(model)
        state.since_best = 0
    else:
        state.since_best += 1
    state.stopped_early = patience > 0 and state.since_best >= patience


def _checkpoint(
    state: _State,
    fingerprint: str,
    finished: bool,
    model: CoverHunter,
    loss_fn: CoverHunterLoss,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint,
        "step": state.step,
        "finished": finished,
        "model": model.state_dict(),
        "loss": loss_fn.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": _rng_states(device),
        "best": {
            "metric": state.best_metric,
            "step": state.best_step,
            "state": state.best_state,
            "since_best": state.since_best,
        },
        "history": state.history,
        "stopped_early": state.stopped_early,
    }


def _resume(
    path: Path,
    model: CoverHunter,
    loss_fn: CoverHunterLoss,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
) -> tuple[_State, dict[str, torch.Tensor] | None]:
    """Load an unfinished checkpoint into the objects; (fresh state, None) if there is none."""
    if not path.exists():
        return _State(), None
    checkpoint = load_checkpoint(path)
    if checkpoint["finished"]:
        log.info("%s holds a finished run with these settings; training afresh", path)
        return _State(), None
    model.load_state_dict(checkpoint["model"])
    loss_fn.load_state_dict(checkpoint["loss"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    if checkpoint["scaler"]:
        scaler.load_state_dict(checkpoint["scaler"])
    best = checkpoint["best"]
    state = _State(
        step=checkpoint["step"],
        best_metric=best["metric"],
        best_step=best["step"],
        best_state=best["state"],
        since_best=best["since_best"],
        history=list(checkpoint["history"]),
        stopped_early=checkpoint["stopped_early"],
    )
    log.info("resuming from step %d of %s", state.step, path)
    return state, checkpoint["rng"]


def _log_params(
    metric_logger: MetricLogger | None,
    model: CoverHunter,
    loss_fn: CoverHunterLoss,
    config: TrainingConfig,
    world_size: int,
) -> None:
    if metric_logger is None:
        return
    params: dict[str, Any] = {"n_parameters": model.num_parameters(), "world_size": world_size}
    params.update({f"model.{k}": v for k, v in model.config.to_dict().items()})
    params.update({f"loss.{k}": v for k, v in loss_fn.config.to_dict().items()})
    params.update({f"train.{k}": v for k, v in config.to_dict().items()})
    metric_logger.log_params(params)


class _RunningMetrics:
    """Loss sums on the device between log steps (read back only when logged)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.steps = 0
        self.samples = 0
        self.started = time.perf_counter()

    def add(self, total: torch.Tensor, parts: dict[str, torch.Tensor], samples: int) -> None:
        for name, value in {"loss/total": total.detach(), **parts}.items():
            self.sums[name] = self.sums.get(name, 0.0) + value.float()
        self.steps += 1
        self.samples += samples

    def read(self, step: int) -> dict[str, float]:
        """Means since the last read, plus throughput; resets the sums."""
        metrics = {name: float(value) / self.steps for name, value in self.sums.items()}
        if not math.isfinite(metrics["loss/total"]):
            raise FloatingPointError(f"loss/total is {metrics['loss/total']} at step {step}")
        elapsed = time.perf_counter() - self.started
        metrics["samples_per_s"] = self.samples / max(elapsed, 1e-9)
        self.__init__()
        return metrics


def train(
    model: CoverHunter,
    loss_fn: CoverHunterLoss,
    batches: BatchSource,
    config: TrainingConfig,
    *,
    checkpoint_dir: Path,
    validate: Validate | None = None,
    logger: MetricLogger | None = None,
    loader: LoaderConfig | None = None,
    validate_start: bool = False,
    start: str | None = None,
    prepare: Prepare | None = None,
) -> TrainingResult:
    """Train ``model`` (in place) with ``loss_fn`` on ``batches`` for ``config.max_steps`` steps.

    Args:
        model: the network; its ``config.n_classes`` must equal ``batches.n_classes``.
        loss_fn: the joint loss (holds the center-loss centers, trained alongside).
        batches: deterministic batch source (``plan`` a step's items, ``cut`` one item).
        config: the loop's settings.
        checkpoint_dir: where this run's checkpoints go (and are resumed from).
        validate: scores a model (eval mode, inference mode) with a higher-is-better metric
            such as mAP, every ``validate_every`` steps and at the end; drives best-model
            selection and early stopping. None: the last model is returned.
        logger: receives metrics (``loss/...``, ``lr``, ``samples_per_s``, ``grad_norm``,
            ``val/mAP``) and, at start, the run's parameters. Rank 0 only.
        loader: workers, prefetch and pinning of the batch ``DataLoader`` (default: cut in this
            process, pinned on CUDA).
        validate_start: also score the model before its first step (step 0 of the history), a
            candidate for the best like every later one: a trained model refined on a few works
            is returned as it came when no step improves on it by ``validate``.
        start: what a warm start starts from (``checkpoint.start_identity``), part of the
            checkpoint's fingerprint; None from scratch.
        prepare: called as ``prepare(model, loss_fn, device)`` once, on the device, before the
            first step of a run that starts afresh (a warm start's imprinted head); a resumed
            run takes everything from its checkpoint and never calls it.

    Returns:
        TrainingResult, its model on the CPU in eval mode.
    """
    metric_logger = logger
    if model.config.n_classes != batches.n_classes or loss_fn.n_classes != batches.n_classes:
        raise ValueError(
            f"n_classes differ: model {model.config.n_classes}, loss {loss_fn.n_classes}, "
            f"batches {batches.n_classes}"
        )
    rank, world_size = _distributed_context()
    device = _training_device(config.device, rank, world_size)
    amp_dtype = _autocast_dtype(device, config)
    model.to(device).train()
    loss_fn.to(device).train()
    optimizer = build_optimizer(model, loss_fn, config)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    fingerprint = run_fingerprint(
        model.config.to_dict(),
        loss_fn.config.to_dict(),
        config,
        [float(c) for c in batches.class_counts.tolist()],
        world_size,
        start,
    )
    path = checkpoint_path(Path(checkpoint_dir), fingerprint)
    state, rng_states = _resume(path, model, loss_fn, optimizer, scaler)
    if prepare is not None and state.step == 0:
        # before DDP copies rank 0's parameters to the others, outside the step RNG's fork
        prepare(model, loss_fn, device)

    module: nn.Module = _ModelWithLoss(model, loss_fn)
    if world_size > 1 and config.sync_batchnorm:
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if world_size > 1:
        module = DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None
        )
    params = [p for p in module.parameters() if p.requires_grad]
    if rank == 0:
        log.info(
            "training %.2fM parameters on %s (world size %d, autocast %s), steps %d to %d",
            model.num_parameters() / 1e6,
            device,
            world_size,
            amp_dtype,
            state.step,
            config.max_steps,
        )
        _log_params(metric_logger, model, loss_fn, config, world_size)

    with torch.random.fork_rng(devices=_rng_devices(device), device_type=device.type):
        if rng_states is not None:
            _restore_rng_states(rng_states, device)
        if validate is not None and validate_start and state.step == 0:
            _validate_start(state, model, validate, device, rank, world_size, config, metric_logger)
        running = _RunningMetrics()
        loaded = iter(
            batch_loader(
                batches,
                state.step,
                config.max_steps,
                loader or LoaderConfig(),
                device,
                rank=rank,
                world_size=world_size,
                seed=config.seed,
            )
        )
        progress = tqdm(
            total=config.max_steps,
            initial=state.step,
            desc="train",
            unit="step",
            disable=None if rank == 0 else True,
        )
        while state.step < config.max_steps and not state.stopped_early:
            step = state.step
            lr = get_lr(step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(_step_seed(config.seed, step, rank))
            batch = next(loaded)
            cqt, lengths, labels = (
                t.to(device, non_blocking=True) for t in (batch.cqt, batch.lengths, batch.labels)
            )
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                total, parts = module(cqt, lengths, labels)
            scaler.scale(total).backward()
            scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(
                params, config.grad_clip if config.grad_clip > 0 else math.inf
            )
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            running.add(total, parts, len(labels) * world_size)
            state.step = done = step + 1
            progress.update(1)

            is_last = done == config.max_steps
            record: dict[str, float] = {}
            if done % config.log_every == 0 or is_last:
                record.update(running.read(done))
                record.update({"lr": lr, "grad_norm": float(grad_norm)})
                progress.set_postfix(
                    loss=f"{record['loss/total']:.3f}", sps=f"{record['samples_per_s']:.0f}"
                )
            validate_now = config.validate_every > 0 and (
                done % config.validate_every == 0 or is_last
            )
            if validate is not None and validate_now:
                metric = _validate(model, validate, device, world_size)
                record["val/mAP"] = metric
                _update_best(state, metric, model, config.early_stopping_patience)
                if state.stopped_early and rank == 0:
                    log.info("early stopping at step %d (best step %s)", done, state.best_step)
            if record and rank == 0:
                state.history.append({"step": done, **record})
                if metric_logger is not None:
                    metric_logger.log_metrics(record, step=done)
            checkpoint_now = config.checkpoint_every > 0 and done % config.checkpoint_every == 0
            if rank == 0 and (checkpoint_now or is_last or state.stopped_early):
                finished = is_last or state.stopped_early
                save_checkpoint(
                    path,
                    _checkpoint(
                        state, fingerprint, finished, model, loss_fn, optimizer, scaler, device
                    ),
                )
        progress.close()
        del loaded  # stops the loader's workers (early stopping leaves batches unread)

    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    if world_size > 1:
        # BatchNorm running statistics are updated per rank; hand every rank rank 0's.
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)
    model.eval().cpu()
    loss_fn.cpu()
    return TrainingResult(
        model=model,
        history=state.history,
        best_metric=state.best_metric,
        best_step=state.best_step,
        steps=state.step,
        stopped_early=state.stopped_early,
        checkpoint_path=path,
    )
