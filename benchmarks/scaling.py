"""Validation mAP against the number of training works, at one step budget (issue 16's table).

Each row is a real `coarse_training` run of the pretraining collection (`--env pretrain`) in a
Kedro session, on the first N works of the seeded shuffle (`training_works`, nested: the 100 are
among the 1,000), with its own folder (`coarse_run`: checkpoints, model, history) so no run
resumes another and none becomes the model the pretraining's alignment starts from. Every run validates
on the same works (the manifest's `val` split, never trained on) and is tracked in MLflow.
The curves (val mAP at each validation) and the table go to `data/08_reporting/pretrain/`.

    .venv/bin/python benchmarks/scaling.py --works 100 300 1000 all --steps 1200
    .venv/bin/python benchmarks/scaling.py --works all --steps 1200 \
        --set coarse_training.model.front_end=cqt --label cqt   # a recipe variant, same table

Runs already in the table (same label, works and steps) are skipped, so a stopped sweep resumes.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd
from _catalog import load_split_features
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from query_latency import print_table

from coverhunter.audio.cqt import CQTConfig
from coverhunter.evaluation.collection import EmbedSettings, TrackSet, score_embedder
from coverhunter.model.baselines import ChromaBaseline
from coverhunter.persistence.model_folder import is_model_folder, load_model_folder
from coverhunter.training.stage import build_model

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")  # nothing leaves the machine
os.environ.setdefault("DO_NOT_TRACK", "1")
PROJECT = Path(__file__).resolve().parents[1]
REPORT = PROJECT / "data/08_reporting/pretrain"
TABLE = REPORT / "scaling.parquet"
CURVES = REPORT / "scaling_curves.parquet"
REFERENCES = REPORT / "scaling_references.parquet"
MANIFEST = PROJECT / "data/02_intermediate/pretrain/manifest.parquet"


def _value(text: str):
    """`--set` values as kedro's --params reads them: numbers become numbers."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _nested(dotted: dict[str, object]) -> dict:
    params: dict = {}
    for key, value in dotted.items():
        level = params
        *parents, leaf = key.split(".")
        for part in parents:
            level = level.setdefault(part, {})
        level[leaf] = value
    return params


def validation_works() -> int:
    """The validation works of the pretraining manifest as it is now: every row of the table is
    scored on them, and a grown corpus holds others (its own hash-chosen share)."""
    manifest = pd.read_parquet(MANIFEST, columns=["work_id", "split"])
    return int(manifest.loc[manifest.split == "val"].work_id.nunique())


def run_one(
    works: str, steps: int, validate_every: int, label: str, extra: dict, val_works: int
) -> pd.DataFrame:
    """One coarse run on `works` training works: its history (one row per logged step)."""
    # the first table's runs (100 validation works) kept their names
    run = f"scaling/{label}-{works}-{steps}" + ("" if val_works == 100 else f"-val{val_works}")
    folder = f"data/06_models/pretrain/{run}"
    dotted = {
        # its model and history in its own folder, never the collection's coarse model
        "coarse_run": run,
        "training_works": _value(works),
        "coarse_training.training.max_steps": steps,
        "coarse_training.training.validate_every": validate_every,
        "coarse_training.training.checkpoint_every": validate_every,
        "coarse_training.training.early_stopping_patience": 0,
        "coarse_training.checkpoint_dir": f"{folder}/checkpoints",
        **extra,
    }
    bootstrap_project(PROJECT)
    started = time.perf_counter()
    with KedroSession.create(
        project_path=PROJECT, env="pretrain", runtime_params=_nested(dotted)
    ) as session:
        session.run(pipeline_names=["coarse_training"])
        catalog = session.load_context().catalog
        history = catalog.load("coarse_training_history")
        manifest = catalog.load("manifest")
    history = history.assign(
        label=label,
        works=works,
        n_works=int(manifest.loc[manifest.trainable.astype(bool)].work_id.nunique())
        if works == "all"
        else int(works),
        steps=steps,
        val_works=val_works,
        wall_s=time.perf_counter() - started,
    )
    return history


SHIPPED = PROJECT / "src/coverhunter/pretrained/base"


def references(seed: int = 42) -> pd.DataFrame:
    """The same validation works scored by the chroma baseline and by an untrained model of the
    conf/pretrain architecture (the floor a trained row must clear), and by the shipped model
    as it is (the bar a run must clear to replace it; its training works are none of these)."""
    val = load_split_features("pretrain", "val")
    params = val.params
    cqt = CQTConfig(**params["feature_cqt"]["cqt"])
    coarse = params["coarse_training"]
    tracks = TrackSet(list(val.rows.perf_id), list(val.rows.work_id), val.store.float32())
    settings = EmbedSettings.from_seconds(coarse["validation"], cqt.frame_rate, "cpu")
    chroma = params["evaluation"]["chroma_baseline"]
    embedders = {
        "chroma baseline": ChromaBaseline(
            n_bins=cqt.n_bins,
            bins_per_octave=cqt.bins_per_octave,
            pool_frames=round(chroma["pool_s"] * cqt.frame_rate),
            patch_steps=chroma["patch_steps"],
        ),
        "untrained": build_model(coarse["model"], 0, seed).eval(),
    }
    trained_on = {"chroma baseline": 0, "untrained": 0}
    if is_model_folder(SHIPPED):
        shipped, _ = load_model_folder(SHIPPED)
        embedders["shipped model"] = shipped
        trained_on["shipped model"] = shipped.config.n_classes  # its training works
    rows = []
    for label, embedder in embedders.items():
        started = time.perf_counter()
        metrics = score_embedder(embedder.embed, tracks, settings)
        rows.append(
            {
                "validation works": len(set(val.rows.work_id)),
                "label": label,
                "training works": trained_on[label],
                "steps": 0,
                "val mAP (best)": round(float(metrics["mAP"]), 3),
                "at step": 0,
                "val mAP (last)": round(float(metrics["mAP"]), 3),
                "final loss": float("nan"),
                "wall (min)": round((time.perf_counter() - started) / 60, 1),
            }
        )
    return pd.DataFrame(rows)


def summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Per run: the best and the last validation mAP, and its wall time."""
    val = curves.dropna(subset=["val/mAP"])
    rows = []
    keys = ["val_works", "label", "n_works", "steps"]
    for (val_works, label, n_works, steps), run in val.groupby(keys, sort=True):
        best = run.loc[run["val/mAP"].idxmax()]
        rows.append(
            {
                "validation works": val_works,
                "label": label,
                "training works": n_works,
                "steps": steps,
                "val mAP (best)": round(float(best["val/mAP"]), 3),
                "at step": int(best["step"]),
                "val mAP (last)": round(float(run.sort_values("step")["val/mAP"].iloc[-1]), 3),
                "final loss": round(float(run.sort_values("step")["loss/total"].iloc[-1]), 3)
                if "loss/total" in run
                else float("nan"),
                "wall (min)": round(float(run["wall_s"].iloc[0]) / 60, 1),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", nargs="+", default=["100", "300", "1000", "all"])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--validate-every", type=int, default=300)
    parser.add_argument("--label", default="base")
    parser.add_argument("--set", nargs="*", default=[], help="dotted.param=value, as --params")
    parser.add_argument(
        "--references",
        action="store_true",
        help="also score the chroma baseline, untrained and the shipped model",
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.set)
    extra = {key: _value(value) for key, value in extra.items()}

    REPORT.mkdir(parents=True, exist_ok=True)
    curves = _curves()
    val_works = validation_works()
    for works in args.works:
        done = (
            not curves.empty
            and (
                (curves.label == args.label)
                & (curves.works == works)
                & (curves.steps == args.steps)
                & (curves.val_works == val_works)
            ).any()
        )
        if done:
            print(f"{args.label} {works} works x {args.steps} steps: already measured")
            continue
        history = run_one(works, args.steps, args.validate_every, args.label, extra, val_works)
        # read again before writing: a sweep run beside this one may have added its rows
        latest = _curves()
        curves = pd.concat([latest, history], ignore_index=True)
        curves.to_parquet(CURVES)
        _report(curves)
    if args.references:
        REFERENCES.parent.mkdir(parents=True, exist_ok=True)
        references().to_parquet(REFERENCES)
    _report(curves)


def _curves() -> pd.DataFrame:
    """The runs measured so far; those of the first table, before the corpus grew, were scored
    on its 100 validation works."""
    if not CURVES.exists():
        return pd.DataFrame()
    curves = pd.read_parquet(CURVES)
    if "val_works" not in curves:
        curves = curves.assign(val_works=100)
    return curves.assign(val_works=curves.val_works.fillna(100).astype(int))


def _report(curves: pd.DataFrame) -> None:
    table = summary(curves) if not curves.empty else pd.DataFrame()
    if REFERENCES.exists():
        table = pd.concat([pd.read_parquet(REFERENCES), table], ignore_index=True)
    table.to_parquet(TABLE)
    print_table(
        "val mAP against training works",
        list(table.columns),
        [[str(v) for v in row] for row in table.itertuples(index=False)],
    )


if __name__ == "__main__":
    main()
