"""`coverhunter identify FILE [--top K]`: which works is this recording a version of, and where.

The command runs the node of the project's `identify` pipeline in the Kedro project of the
current folder (or a parent): the model, the gallery index, its re-rank sequences and its
calibrated thresholds come from the catalog, `--top` goes in as a runtime parameter, and the
decision ("a version of W" / "no known work", when thresholds were fitted) and the result table
are printed. The model is the one that built the gallery (its index info's `model_source`): the
fine model of `--model-collection`, or the shipped model (`pretrained_model`) for a gallery the
`gallery` pipeline built, so a collection can be searched before anything is trained. Without a
gallery the command says which command builds one.

`coverhunter identify-batch FILES/FOLDERS/LIST.txt` answers many recordings in one process (the
model and gallery loaded once), one line each, and writes CSV or JSON if asked. Bad input ends
with exit code 2 and one line naming the file and what is wrong: missing, a folder, a
symbolic link loop, unreadable, not audio, a recording ingest would set aside (silent, too short)
or one without music (noise), no gallery index yet (the line names the command that builds
one), or an index built by another model (for a gallery of the shipped model: by the one shipped
before, and the line names the `gallery` command).

A query is not a run: the node runs on the project's catalog entries and parameters, read with
Kedro's config loader but without a session or context (`_ProjectCatalog`), so no hook runs and
nothing is written (no MLflow run, no `.viz/` statistics), and neither mlflow nor kedro-datasets'
pandas datasets are imported.

Kedro loads `<package>.cli` as the project's own commands and needs its `cli` group, so the same
command is also `kedro identify FILE`. That group also wraps `kedro run`: a run that stops on bad
input (a listing that cannot be read, a corrupt feature store, a model folder that is missing or
unreadable: the `gallery` pipeline without a shipped model) ends with one line naming the file
and the reason, exit code 2, instead of a traceback; an interrupted one (Ctrl-C, SIGTERM) with one
line and 128 + the signal number.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
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


def _query_path(file: Path) -> Path:
    """The absolute path of the recording to identify, or a CommandError saying why not."""
    path = file.expanduser()
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError as error:
        if path.is_symlink():
            raise CommandError(f"{file}: a symbolic link to a missing file") from error
        raise CommandError(f"{file}: no such file") from error
    except (OSError, RuntimeError) as error:  # RuntimeError: Python < 3.13 on a link loop
        if isinstance(error, RuntimeError) or error.errno == errno.ELOOP:
            raise CommandError(f"{file}: a loop of symbolic links, no file") from error
        raise CommandError(f"{file}: cannot be opened ({error.strerror or error})") from error
    if resolved.is_dir():
        raise CommandError(f"{file}: a folder, not an audio file")
    if not resolved.is_file():
        raise CommandError(f"{file}: not a regular file")
    if not os.access(resolved, os.R_OK):
        raise CommandError(f"{file}: permission denied")
    return resolved


def _check_device(name: str) -> None:
    from coverhunter.device import resolve_device  # imports torch: only when asked

    try:
        resolve_device(name)
    except ValueError as error:
        raise CommandError(str(error)) from error


def _format_time(seconds: float) -> str:
    minutes, rest = divmod(float(seconds), 60.0)
    return f"{int(minutes)}:{rest:04.1f}"


def _format_span(row: Any, start: str, end: str) -> str:
    """`0:05.0-0:37.0` (start to end), or the start alone where the table has no end."""
    if end not in row._fields:
        return _format_time(getattr(row, start))
    return f"{_format_time(getattr(row, start))}-{_format_time(getattr(row, end))}"


def format_decision(decision: dict | None) -> str | None:
    """One line: "A version of W" or "No known work", with the score against the threshold and
    its false-accept rate; None when the index has no fitted thresholds."""
    if not decision or decision.get("known") is None:
        return None
    rate = f"{100 * decision['far']:g}% false accepts"
    if decision["known"]:
        return (
            f"A version of {decision['work_id']} (score {decision['score']:.3f} >= "
            f"{decision['threshold']:.3f}, the threshold at {rate})."
        )
    return (
        f"No known work (best score {decision['score']:.3f} < {decision['threshold']:.3f}, "
        f"the threshold at {rate}; nearest {decision['work_id']})."
    )


def format_results(results: pd.DataFrame, path: Path, decision: dict | None = None) -> str:
    """The identify table as text: the decision (when thresholds were fitted), then rank, work,
    score, matching performance, and where they match (start-end in the query and in it).

    Each column is as wide as its longest value, so long ids never push the others out of line.
    """
    if results.empty:
        return f"No match for {path} in the gallery."
    rows = [
        (
            str(row.rank),
            str(row.work_id),
            f"{row.score:.3f}",
            str(row.perf_id),
            _format_span(row, "query_start_s", "query_end_s"),
            _format_span(row, "match_start_s", "match_end_s"),
        )
        for row in results.itertuples(index=False)
    ]
    header = ("rank", "work", "score", "performance", "query at", "match at")
    left = (False, True, False, True, False, False)  # ids left-aligned, numbers right-aligned
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if is_left else cell.rjust(width)
            for cell, width, is_left in zip(cells, widths, left, strict=True)
        ).rstrip()

    said = format_decision(decision)
    table = [f"Works most likely covered by {path}:", line(header), *map(line, rows)]
    return "\n".join([said, *table] if said else table)


@contextlib.contextmanager
def _quiet_logging(quiet: bool) -> Iterator[None]:
    """Silence logging while the query lasts, or (`-v`) show it: no Kedro run configures it."""
    if not quiet:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        yield
        return
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


class _ProjectCatalog:
    """The catalog entries and parameters of `project` that a query reads, without a Kedro context.

    The configuration is Kedro's own (`OmegaConfigLoader` with the project's settings, `conf/base`
    then `conf/local`, `params` as runtime parameters), so a query reads what a run wrote. What is
    skipped is the context: it builds every dataset of the catalog, and a `pandas.*` type imports
    every pandas dataset of kedro-datasets (SQL, BigQuery, ...), a second of a cold query's start.
    Parquet and JSON entries are read here; any other type through its dataset class.
    """

    def __init__(self, project: Path, params: dict):
        from kedro.config import OmegaConfigLoader

        from coverhunter.settings import CONFIG_LOADER_ARGS

        loader = OmegaConfigLoader(
            conf_source=str(project / "conf"),
            env=None,
            runtime_params=params,
            **CONFIG_LOADER_ARGS,
        )
        self._project = project
        self._entries = {k: v for k, v in loader["catalog"].items() if not k.startswith("_")}
        self._parameters = loader["parameters"]

    def _path(self, entry: dict) -> Path:
        path = Path(entry["filepath"])
        return path if path.is_absolute() else self._project / path

    def filepath(self, name: str) -> Path:
        """The absolute path of catalog entry `name`."""
        return self._path(self._entries[name])

    def _dataset(self, name: str):
        from kedro.io.core import AbstractDataset

        entry = dict(self._entries[name])
        if "filepath" in entry:
            entry["filepath"] = str(self._path(entry))
        return AbstractDataset.from_config(name, entry)

    def _is_plain_file(self, entry: dict) -> bool:
        return entry.get("type") in _PLAIN_FILES and not entry.get("versioned")

    def exists(self, name: str) -> bool:
        if name.startswith("params:"):
            return name.removeprefix("params:") in self._parameters
        if name not in self._entries:
            return False
        entry = self._entries[name]
        if self._is_plain_file(entry):
            return self._path(entry).is_file()
        return self._dataset(name).exists()

    def load(self, name: str) -> Any:
        from kedro.io.core import DatasetError

        if name.startswith("params:"):
            return self._parameters[name.removeprefix("params:")]
        entry = self._entries.get(name)
        if entry is None:
            raise DatasetError(f"{name!r} is not in the catalog")
        if not self._is_plain_file(entry):
            return self._dataset(name).load()
        path = self._path(entry)
        try:
            if entry["type"] == "json.JSONDataset":
                import json

                return json.loads(path.read_text())
            import pandas as pd

            return pd.read_parquet(path, **entry.get("load_args", {}))
        except (OSError, ValueError) as error:
            raise DatasetError(f"cannot load {name!r} from {path}: {error}") from error


# Catalog types a query reads as files (`_ProjectCatalog`), not through kedro-datasets.
_PLAIN_FILES = ("pandas.ParquetDataset", "json.JSONDataset")


def _project_catalog(project: Path, params: dict) -> _ProjectCatalog:
    """The project's catalog with `params` as runtime parameters (see `_ProjectCatalog`)."""
    return _ProjectCatalog(project, params)


# The command that builds a gallery of a folder of recordings with the shipped model.
GALLERY_COMMAND = (
    'kedro run --pipelines gallery --params "collection={collection},ingest.source=folder,'
    'ingest.path=FOLDER,ingest.options.works=files"'
)


def _no_gallery_message(
    collection: str,
    model_collection: str,
    missing: Sequence[str],
    trained: bool,
    shipped: bool,
    shipped_folder: Path,
) -> str:
    """Why identify cannot run, and the exact command that builds the gallery it needs.

    `trained`: whether the fine model of `model_collection` exists; `shipped`: whether
    `shipped_folder` holds the shipped model. The model collection's gallery is `kedro run`'s
    own; any other is built from the user's recordings by the shipped model (the `gallery`
    pipeline), or by a trained one (`inference`).
    """
    said = f"no gallery index for collection {collection!r} (missing: {', '.join(missing)})"
    if collection == model_collection and trained:
        return f"{said}; run `kedro run --pipelines indexing` (or `kedro run`)"
    own = "mine" if collection == model_collection else collection
    if shipped:
        build = GALLERY_COMMAND.format(collection=own)
        after = f"then `coverhunter identify FILE --collection {own}`"
        if collection == model_collection:
            return (
                f"{said}: nothing is trained yet. Build a gallery of your own recordings with "
                f"the shipped model: `{build}`, {after}; or train and index {collection!r} with "
                "`kedro run`"
            )
        return f"{said}; build it from your recordings with the shipped model: `{build}`, {after}"
    if trained:
        return (
            f"{said}; build it with the fine model of {model_collection!r}: `kedro run "
            f'--pipelines inference --params "collection={own},ingest.source=folder,'
            'ingest.path=FOLDER"`'
        )
    return (
        f"{said}, and no model to build one with: no trained fine model of {model_collection!r} "
        f"(`kedro run` trains one and indexes that collection) and no shipped model in "
        f"{shipped_folder} (python -m coverhunter.serving.ship MODEL_FOLDER puts one there)"
    )


def _no_model_message(collection: str, source: str, model_collection: str, shipped: Path) -> str:
    """The gallery of `collection` exists but the model that built it (`source`) does not."""
    built_by = {
        "shipped": f"the shipped model, which {shipped} no longer holds",
        "trained": f"the fine model of {model_collection!r}, which is not there (`kedro run` "
        "trains it; `--model-collection` names another)",
    }.get(source, f"a model of unknown source {source!r}")
    return (
        f"the gallery of collection {collection!r} was built by {built_by}; build the gallery "
        "again with a model that exists"
    )


class _Identifier:
    """The identify pipeline's node with its inputs loaded once from the catalog: call it with a
    path, get (results, decision). A batch of recordings loads the model and the gallery once.

    The model is the one that built the gallery (the index info's `model_source`): the fine
    model of `model_collection`, or the shipped model for a gallery the `gallery` pipeline built.
    """

    def __init__(self, catalog: _ProjectCatalog):
        from kedro.io.core import DatasetError

        from coverhunter.pipelines.inference.pipeline import (
            MODEL_ENTRIES,
            SHIPPED_MODEL,
            TRAINED_MODELS,
            create_identify_pipeline,
        )

        (self._node,) = create_identify_pipeline().nodes
        trained = TRAINED_MODELS["fine_model"]
        missing = [
            n
            for n in ("gallery_index", "gallery_index_info", "gallery_sequences")
            if not catalog.exists(n)
        ]
        # the names the catalog's paths use (`--collection` and globals.yml, resolved)
        collection = catalog.load("params:collection")
        model_collection = catalog.load("params:model_collection")
        if missing:
            raise CommandError(
                _no_gallery_message(
                    collection,
                    model_collection,
                    missing,
                    catalog.exists(trained),
                    catalog.exists(SHIPPED_MODEL),
                    catalog.filepath(SHIPPED_MODEL),
                )
            )
        try:
            source = catalog.load("gallery_index_info").get("model_source", "trained")
        except DatasetError as error:
            raise CommandError(f"cannot load the gallery: {error}") from error
        model = MODEL_ENTRIES.get(source)
        if model is None or not catalog.exists(model):
            raise CommandError(
                _no_model_message(
                    collection, source, model_collection, catalog.filepath(SHIPPED_MODEL)
                )
            )
        # a shipped model replaced since the gallery was built (a new one pulled): the gallery
        # pipeline builds it again, not `indexing`, which the mismatch error names
        self._rebuild = (
            f"the gallery of collection {collection!r} was built by another shipped model than "
            f"the one in {catalog.filepath(SHIPPED_MODEL)}; build it again with it: "
            f"`{GALLERY_COMMAND.format(collection=collection)}`"
            if model == SHIPPED_MODEL
            else None
        )
        self._inputs = {}
        try:
            for name in self._node.inputs:
                if name == "decision_calibration" and not catalog.exists(name):
                    self._inputs[name] = None  # an index evaluated before calibration existed
                elif name == "gallery_chroma" and not catalog.exists(name):
                    self._inputs[name] = None  # an index made before the re-rank's pitch stage
                else:
                    self._inputs[name] = catalog.load(model if name == trained else name)
        except DatasetError as error:
            raise CommandError(f"cannot load the model or the gallery: {error}") from error

    def __call__(self, path: Path) -> tuple[pd.DataFrame, dict]:
        from coverhunter.audio.io import AudioDecodeError
        from coverhunter.retrieval.gallery import ModelIndexMismatchError
        from coverhunter.serving.query import QueryRejected

        inputs = dict(self._inputs)
        inputs["params:identify"] = {**inputs["params:identify"], "path": str(path)}
        try:
            return self._node.func(*(inputs[name] for name in self._node.inputs))
        except AudioDecodeError as error:
            raise CommandError(f"cannot read {error.path}: {error.reason}") from error
        except QueryRejected as error:
            raise CommandError(
                f"{error.path}: {error.reason}; not a recording to identify"
            ) from error
        except ModelIndexMismatchError as error:
            raise CommandError(self._rebuild or str(error)) from error


def _user_cache_dir() -> Path:
    """The user's cache folder for coverhunter: `$XDG_CACHE_HOME/coverhunter`, else
    `~/.cache/coverhunter` (it keeps the query's CQT kernels, see serving/query.py)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "coverhunter"


def _identifier(
    project: Path,
    top: int,
    collection: str | None,
    model_collection: str | None,
    precision: str | None = None,
    device: str | None = None,
) -> _Identifier:
    """The identify node on the catalog of `project`, inputs loaded (see `_Identifier`)."""
    params: dict = {"identify": {"top": top, "cqt_cache_dir": str(_user_cache_dir())}}
    if precision:
        params["identify"]["precision"] = precision
    if device:
        params["device"] = device
    if collection:
        params["collection"] = collection
    if model_collection:
        params["model_collection"] = model_collection
    catalog = _project_catalog(project, params)
    return _Identifier(catalog)


def _run_identify(
    project: Path,
    path: Path,
    top: int,
    collection: str | None,
    model_collection: str | None,
    quiet: bool,
    precision: str | None = None,
    device: str | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Run the `identify` node on the catalog of `project`: its result table and decision."""
    with _quiet_logging(quiet):
        identifier = _identifier(project, top, collection, model_collection, precision, device)
        return identifier(path)


@click.command(help="List the works a recording is most likely a version of, and where it matches.")
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
    type=click.Choice(["auto", "float32", "bfloat16", "int8"]),
    default=None,
    help="Query embedding precision (default: identify.precision, auto: what this machine runs "
    "fast). bfloat16 is about 2x faster on CPUs with AVX512-BF16 (benchmarks/README.md) and "
    "emulated, slow, elsewhere.",
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
    path = _query_path(file)
    if device is not None:
        _check_device(device)
    project = _find_project(Path.cwd())
    results, decision = _run_identify(
        project,
        path,
        top,
        collection,
        model_collection,
        quiet=not verbose,
        precision=precision,
        device=device,
    )
    click.echo(format_results(results, file, decision))


def _batch_paths(sources: Sequence[Path]) -> list[Path]:
    """The recordings named by `sources`: audio files as given, a folder's audio files (sorted,
    not recursive), or a `.txt` list (one path a line, relative to the list; `#` comments)."""
    from coverhunter.audio.io import AUDIO_EXTENSIONS

    paths: list[Path] = []
    for source in sources:
        if source.is_dir():
            found = sorted(
                p for p in source.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
            )
            if not found:
                raise CommandError(f"{source}: a folder without audio files")
            paths.extend(found)
        elif source.suffix.lower() == ".txt" and source.is_file():
            for line in source.read_text().splitlines():
                if entry := line.split("#", 1)[0].strip():
                    paths.append((source.parent / entry).expanduser())
        else:
            paths.append(source)
    if not paths:
        raise CommandError("no recordings to identify")
    return paths


def _stdin_paths() -> Iterator[Path]:
    """Paths read from standard input as they arrive, one a line (blank lines and `#` comments
    skipped), until it ends."""
    for line in sys.stdin:
        if entry := line.split("#", 1)[0].strip():
            yield Path(entry).expanduser()


def _batch_row(path: Path, identifier: _Identifier) -> dict:
    """One recording's answer as a flat row (an error is the row's `error`, not the batch's)."""
    import time

    started = time.perf_counter()
    row: dict = {"file": str(path)}
    try:
        results, decision = identifier(_query_path(path))
    except CommandError as error:
        return {**row, "answer": "error", "error": error.message}
    best = results.iloc[0] if len(results) else None
    known = decision.get("known")
    answer = (
        "no known work" if known is False else (str(best.work_id) if best is not None else "none")
    )
    row.update(
        answer=answer,
        work_id=None if best is None else str(best.work_id),
        score=None if best is None else round(float(best.score), 4),
        threshold=decision.get("threshold"),
        perf_id=None if best is None else str(best.perf_id),
        query_start_s=None if best is None else float(best.query_start_s),
        query_end_s=None if best is None else float(best.query_end_s),
        match_start_s=None if best is None else float(best.match_start_s),
        match_end_s=None if best is None else float(best.match_end_s),
        seconds=round(time.perf_counter() - started, 3),
    )
    return row


def format_batch(rows: Sequence[dict]) -> str:
    """The batch's answers: one line a recording (file, answer, score, where it matches)."""
    lines = []
    for row in rows:
        if row["answer"] == "error":
            lines.append(f"{row['file']}  error: {row['error']}")
            continue
        where = ""
        if row.get("perf_id"):
            where = (
                f"  {row['perf_id']}  query {_format_time(row['query_start_s'])}-"
                f"{_format_time(row['query_end_s'])}  match {_format_time(row['match_start_s'])}"
                f"-{_format_time(row['match_end_s'])}"
            )
        lines.append(f"{row['file']}  {row['answer']}  {row['score']:.3f}{where}")
    return "\n".join(lines)


@click.command(
    name="identify-batch",
    help="Identify many recordings in one process (files, folders, or .txt lists of paths): "
    "the model and the gallery are loaded once. `-` reads paths from standard input, one a "
    "line, and answers each as it arrives (a process kept open for queries as they come).",
)
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--collection", default=None, help="The gallery's collection (default: default).")
@click.option("--model-collection", default=None, help="The fine model's training collection.")
@click.option(
    "--precision", type=click.Choice(["auto", "float32", "bfloat16", "int8"]), default=None
)
@click.option("--device", default=None, help="auto, cpu, cuda[:N] or mps.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Also write a CSV.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Show the log.")
def identify_batch(
    sources: Sequence[Path],
    top: int,
    collection: str | None,
    model_collection: str | None,
    precision: str | None,
    device: str | None,
    csv_path: Path | None,
    json_path: Path | None,
    verbose: bool,
) -> None:
    import json

    from_stdin = [str(s) for s in sources] == ["-"]
    paths = _stdin_paths() if from_stdin else _batch_paths(sources)
    if device is not None:
        _check_device(device)
    project = _find_project(Path.cwd())
    rows = []
    with _quiet_logging(not verbose):
        identifier = _identifier(project, top, collection, model_collection, precision, device)
        for path in paths:
            rows.append(_batch_row(path, identifier))
            if from_stdin:  # each answer as soon as it is known
                click.echo(format_batch(rows[-1:]))
    if not from_stdin:
        click.echo(format_batch(rows))
    if csv_path is not None:
        import pandas as pd

        pd.DataFrame(rows).to_csv(csv_path, index=False)
    if json_path is not None:
        json_path.write_text(json.dumps(rows, indent=2))


class RunStopped(click.ClickException):
    """`kedro run` stopped on bad input: the message names the file and the reason. Exit 2."""

    exit_code = USAGE_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"kedro run: {self.format_message()}", err=True)


def _input_error(error: BaseException) -> BaseException | None:
    """The bad-input error (a listing, a feature store, a model folder: the shipped model
    missing) that caused `error`, if one did."""
    from coverhunter.data.feature_store import FeatureStoreError
    from coverhunter.data.sources._common import SourceError
    from coverhunter.persistence.model_folder import ModelFolderError

    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, SourceError | FeatureStoreError | ModelFolderError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _run_command() -> click.Command:
    """Kedro's `run`, ending in one line on bad input or an interrupt instead of a traceback."""
    from kedro.framework.cli.project import run as kedro_run

    from coverhunter.hooks import RunInterrupted

    def run(**kwargs: Any) -> Any:
        try:
            return kedro_run.callback(**kwargs)
        except RunInterrupted as interrupted:
            click.echo(f"kedro run: {interrupted}; the MLflow run is recorded as KILLED", err=True)
            raise click.exceptions.Exit(128 + interrupted.signum) from interrupted
        except Exception as error:
            if (cause := _input_error(error)) is None:
                raise
            raise RunStopped(str(cause)) from error

    return click.Command(
        name="run",
        callback=run,
        params=kedro_run.params,
        help=kedro_run.help,
        short_help=kedro_run.short_help,
        context_settings=kedro_run.context_settings,
    )


class _KedroCommands(click.Group):
    """The commands Kedro adds to `kedro`: `identify`, and `run` wrapped (built only when asked,
    so `kedro identify` does not import what `run` needs)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "run"})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "run":
            return _run_command()
        return super().get_command(ctx, name)


# `kedro identify ...` and `kedro run ...`: Kedro loads the project's `cli` group.
cli = _KedroCommands(name="coverhunter", help="CoverHunter cover song identification.")
cli.add_command(identify)
cli.add_command(identify_batch)
# `coverhunter identify ...`: the console script.
commands = click.Group(name="coverhunter", help="CoverHunter cover song identification.")
commands.add_command(identify)
commands.add_command(identify_batch)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `coverhunter` command; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        commands.main(args=args, prog_name="coverhunter", standalone_mode=False)
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
