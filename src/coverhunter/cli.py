"""`coverhunter identify FILE [--top K]`: which works is this recording a version of, and where.

The command runs the project's `identify` pipeline in the Kedro project of the current folder
(or a parent): the fine model and the gallery index come from the catalog, the recording's path
and `--top` go in as runtime parameters, and the pipeline's result table is printed. Bad input
ends with exit code 2 and a message naming what is wrong: a missing or unreadable file, no
gallery index yet, or an index built by another model.

Kedro loads `<package>.cli` as the project's own commands and needs its `cli` group, so the same
command is also `kedro identify FILE`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import click
import pandas as pd

USAGE_ERROR = 2


class CommandError(click.ClickException):
    """A problem the user can fix; the message says which. Exit code 2."""

    exit_code = USAGE_ERROR


def _find_project(start: Path) -> Path:
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.kedro]" in pyproject.read_text():
            return folder
    raise CommandError(
        f"no Kedro project in {start} or its parents (no pyproject.toml with [tool.kedro])"
    )


def _check_audio_file(path: Path) -> None:
    if not path.exists():
        raise CommandError(f"{path}: no such file")
    if not path.is_file():
        raise CommandError(f"{path}: not a file")


def _check_device(name: str) -> None:
    from coverhunter.device import resolve_device  # imports torch: only when asked

    try:
        resolve_device(name)
    except ValueError as error:
        raise CommandError(str(error)) from error


def _format_time(seconds: float) -> str:
    minutes, rest = divmod(float(seconds), 60.0)
    return f"{int(minutes)}:{rest:04.1f}"


def format_results(results: pd.DataFrame, path: Path) -> str:
    """The identify table as text: rank, work, score, matching performance, where it matches."""
    if results.empty:
        return f"No match for {path} in the gallery."
    header = (
        f"{'rank':>4}  {'work':<16}  {'score':>6}  {'performance':<20}  "
        f"{'query at':>8}  {'match at':>8}"
    )
    lines = [f"Works most likely covered by {path}:", header]
    for row in results.itertuples(index=False):
        lines.append(
            f"{row.rank:>4}  {row.work_id!s:<16}  {row.score:6.3f}  {row.perf_id!s:<20}  "
            f"{_format_time(row.query_start_s):>8}  {_format_time(row.match_start_s):>8}"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def _quiet_logging(quiet: bool) -> Iterator[None]:
    """Silence logging while the run lasts (Kedro, its plugins and MLflow log every step)."""
    if not quiet:
        yield
        return
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _identify_in_session(session, collection: str | None, model_collection: str | None):
    from kedro.io import DatasetError

    from coverhunter.audio.io import AudioDecodeError
    from coverhunter.retrieval.gallery import ModelIndexMismatchError

    catalog = session.load_context().catalog
    missing = [n for n in ("gallery_index", "gallery_index_info") if not catalog.exists(n)]
    if missing:
        raise CommandError(
            f"no gallery index for collection {collection or 'default'!r} "
            f"(missing: {', '.join(missing)}); run `kedro run` first (or "
            "`kedro run --pipelines indexing` once a fine model exists)"
        )
    if not catalog.exists("trained_fine_model"):
        raise CommandError(
            f"no fine model for model collection {model_collection or 'default'!r}; "
            "run `kedro run` first"
        )
    try:
        outputs = session.run(pipeline_names=["identify"])
    except AudioDecodeError as error:
        raise CommandError(f"cannot read {error.path}: {error.reason}") from error
    except ModelIndexMismatchError as error:
        raise CommandError(str(error)) from error
    except DatasetError as error:
        raise CommandError(f"cannot load the model or the gallery: {error}") from error
    return outputs["identify_results"].load()


def _run_identify(
    project: Path,
    path: Path,
    top: int,
    collection: str | None,
    model_collection: str | None,
    quiet: bool,
    precision: str | None = None,
    device: str | None = None,
) -> pd.DataFrame:
    """Run the `identify` pipeline in `project`; its result table."""
    params: dict = {"identify": {"path": str(path), "top": top}}
    if precision:
        params["identify"]["precision"] = precision
    if device:
        params["device"] = device
    if collection:
        params["collection"] = collection
    if model_collection:
        params["model_collection"] = model_collection
    with _quiet_logging(quiet):
        # Imported here: importing Kedro configures (and logs) its logging.
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        bootstrap_project(project)
        with KedroSession.create(project_path=project, runtime_params=params) as session:
            return _identify_in_session(session, collection, model_collection)


@click.group(name="coverhunter", help="CoverHunter cover song identification.")
def cli() -> None:
    pass


@cli.command(help="List the works a recording is most likely a version of, and where it matches.")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--top", type=click.IntRange(min=1), default=10, show_default=True, help="Works listed."
)
@click.option("--collection", default=None, help="The gallery's collection (default: default).")
@click.option(
    "--model-collection",
    default=None,
    help="The collection the fine model was trained on (default: default).",
)
@click.option(
    "--precision",
    type=click.Choice(["float32", "bfloat16", "int8"]),
    default=None,
    help="Query embedding precision (default: identify.precision, float32). bfloat16 is about "
    "2x faster on CPUs with AVX512-BF16 (benchmarks/README.md) and emulated, slow, elsewhere.",
)
@click.option(
    "--device",
    default=None,
    help="Where to compute: auto, cpu, cuda[:N] or mps (default: the `device` parameter). "
    "int8 embeds on the CPU whatever the device.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show the Kedro run's log.")
def identify(
    file: Path,
    top: int,
    collection: str | None,
    model_collection: str | None,
    precision: str | None,
    device: str | None,
    verbose: bool,
) -> None:
    path = file.expanduser().resolve()
    _check_audio_file(path)
    if device is not None:
        _check_device(device)
    project = _find_project(Path.cwd())
    results = _run_identify(
        project,
        path,
        top,
        collection,
        model_collection,
        quiet=not verbose,
        precision=precision,
        device=device,
    )
    click.echo(format_results(results, file))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `coverhunter` command; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name="coverhunter", standalone_mode=False)
    except CommandError as error:
        command = args[0] if args else "coverhunter"
        click.echo(f"coverhunter {command}: {error.message}", err=True)
        return error.exit_code
    except click.ClickException as error:  # usage errors: exit code 2
        error.show()
        return error.exit_code
    except click.exceptions.Exit as done:  # --help
        return done.exit_code
    except click.exceptions.Abort:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
