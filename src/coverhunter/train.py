"""Train one stage across processes and machines with torchrun, on the project's catalog.

    torchrun --nproc-per-node 8 -m coverhunter.train coarse --env paper
    torchrun --nnodes 2 --node-rank 0 --master-addr HOST --master-port 29500 \\
        --nproc-per-node 8 -m coverhunter.train fine --env paper --params "fine_training.training.max_steps=50000"

Run it from the project folder (as `kedro run`). Every process sets its GPU from `LOCAL_RANK`,
joins the process group (NCCL on GPUs, gloo otherwise) and opens a Kedro session with the same
environment and parameters. Rank 0 runs the stage's pipeline as `kedro run --pipelines` would:
MLflow tracking, the model saved through the catalog. Every other rank loads the same inputs from
the catalog and runs the same node functions, whose training loop then trains in
DistributedDataParallel (each rank its own shard of every P x K batch, validation tracks shared
out), and keeps nothing. Without torchrun (`python -m coverhunter.train coarse`) it is one process.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

STAGES = {"coarse": "coarse_training", "fine": "fine_training"}

log = logging.getLogger(__name__)


def parse_params(text: str | None) -> dict[str, Any]:
    """`"a.b=1,c=x"` -> `{"a": {"b": 1}, "c": "x"}`, as `kedro run --params` reads them: values
    as YAML scalars, items split at every comma."""
    params: dict[str, Any] = {}
    for pair in filter(None, (part.strip() for part in (text or "").split(","))):
        if "=" not in pair:
            raise ValueError(f"--params item {pair!r} is not KEY=VALUE")
        key, value = pair.split("=", 1)
        *parents, leaf = key.strip().split(".")
        level = params
        for name in parents:
            level = level.setdefault(name, {})
        level[leaf] = yaml.safe_load(value)
    return params


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m coverhunter.train", description=__doc__)
    parser.add_argument("stage", help=f"{' | '.join(STAGES)} (or a pipeline name)")
    parser.add_argument("--env", default=None, help="Kedro configuration environment")
    parser.add_argument("--params", default=None, help='"key.sub=value,..." as kedro run')
    parser.add_argument("--project", default=".", help="the Kedro project folder")
    return parser.parse_args(argv)


def _follow(session, pipeline_name: str) -> None:
    """Run the pipeline's nodes on this rank, inputs from the catalog, outputs kept in memory."""
    from kedro.framework.project import pipelines

    catalog = session.load_context().catalog
    produced: dict[str, Any] = {}
    for node in pipelines[pipeline_name].nodes:  # topologically sorted
        inputs = {n: produced[n] if n in produced else catalog.load(n) for n in node.inputs}
        produced.update(node.run(inputs))


def run_stage(
    stage: str, env: str | None, params: dict[str, Any], project: Path, rank: int
) -> None:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    pipeline_name = STAGES.get(stage, stage)
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env, runtime_params=params) as session:
        if rank == 0:
            session.run(pipeline_names=[pipeline_name])
        else:
            _follow(session, pipeline_name)


def main(argv: Sequence[str] | None = None) -> None:
    args = _arguments(argv)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = 0
    if distributed:
        import torch.distributed as dist

        from coverhunter.training.distributed import init_from_env

        rank, world_size = init_from_env()
        log.info("rank %d of %d joined", rank, world_size)
    try:
        run_stage(args.stage, args.env, parse_params(args.params), Path(args.project), rank)
    finally:
        if distributed:
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
