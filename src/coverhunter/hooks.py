"""Project hooks: MLflow runs recorded with their true status, in a project that can be moved.

kedro-mlflow opens one MLflow run per `kedro run` and closes it FINISHED after the pipeline, or
FAILED when a node raises. Three ends it does not see are handled here:

- Ctrl-C (SIGINT) or `kill PID` (SIGTERM) while a pipeline runs: the signal becomes
  `RunInterrupted`, an exception in the main thread, so Kedro's error path runs and the run is
  recorded KILLED (without this, SIGINT ended it FINISHED at exit and SIGTERM left it RUNNING).
  A second signal is not caught (the previous handlers are back after the first one).
- A process killed outright (SIGKILL, a crash, a power cut) leaves its run RUNNING. Every run is
  tagged with its host, process id and process start time; the next run of the project marks
  the RUNNING runs of this host whose process is gone KILLED, with a `coverhunter.end` tag
  saying how that was found.
- MLflow stores artifact locations as absolute paths. The experiment is tagged with the project
  root; when a run starts in a project whose root differs (moved or copied), the locations under
  the old root are rewritten to the new one, so the copy writes and reads its own `mlruns/`.

mlflow is imported inside the hooks: `settings.py` imports this module, and a command that runs
no pipeline (`coverhunter identify`) must not pay for importing mlflow.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)

PID_TAG = "coverhunter.pid"
HOST_TAG = "coverhunter.host"
START_TAG = "coverhunter.process_start"
END_TAG = "coverhunter.end"
ROOT_TAG = "coverhunter.project_root"
KILLED = "KILLED"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(Exception):  # noqa: N818 (it is what happened, not an error of the code)
    """SIGINT or SIGTERM arrived while a pipeline ran (`signum`: which)."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(f"interrupted by {signal.Signals(self.signum).name}")


def _process_start(pid: int) -> str:
    """The start time of process `pid` in clock ticks since boot (Linux), else ''."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # the command name (2nd field) may hold spaces and parentheses: fields follow the last ')'
    return stat.rsplit(")", 1)[1].split()[19]


def _process_alive(pid: int, start: str) -> bool:
    """Whether process `pid` still runs and is the one that started at `start` (when known)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    return not start or _process_start(pid) in ("", start)


def _active_run():
    import sys

    if "mlflow" not in sys.modules:
        return None
    import mlflow

    return mlflow.active_run()


class CloseFinishedMlflowRun:
    """Leave no MLflow state behind a session's run for the next session in the same process.

    kedro-mlflow finishes its run in the tracking store, but with MLflow 3 the run can stay on the
    calling thread's active-run stack, and its (module-level) hook keeps the run id: a second
    session in the same process (a notebook, a test) would log into the finished run, or, with
    tracking disabled for its pipeline, try to reopen a run of another store. Plugin hooks run
    before project hooks here, so kedro-mlflow has logged everything by the time this runs.
    """

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._close()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._close()

    @staticmethod
    def _close() -> None:
        import sys

        if "mlflow" not in sys.modules:
            return
        import mlflow
        from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook as kedro_mlflow_hook

        while (run := mlflow.active_run()) is not None:
            logger.debug("closing MLflow run %s left active", run.info.run_id)
            mlflow.end_run()
        kedro_mlflow_hook.run_id = None


class RecordTrueRunStatus:
    """KILLED for interrupted runs and for runs whose process is gone (see the module docstring).

    Plugin hooks run before project hooks, so by `on_pipeline_error` kedro-mlflow has closed the
    run FAILED; an interrupted run's status is then set to KILLED.
    """

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._previous: dict[int, Any] = {}
        self._received: int | None = None
        self._run_id: str | None = None

    # signals
    def _on_signal(self, signum: int, frame) -> None:
        if os.getpid() != self._pid:  # a forked worker (DataLoader): behave as by default
            raise KeyboardInterrupt
        self._received = signum
        self._restore_signals()  # a second Ctrl-C is not caught
        raise RunInterrupted(signum)

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self._pid = os.getpid()
        self._received = None
        for signum in _SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def _restore_signals(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    # hooks
    @hook_impl
    def after_context_created(self, context) -> None:
        """After kedro-mlflow has set the tracking URI and the experiment: fix moved paths."""
        import sys

        if "mlflow" not in sys.modules:
            return
        import mlflow

        relocate_artifacts(mlflow.get_tracking_uri(), Path(context.project_path))

    @hook_impl
    def before_pipeline_run(self) -> None:
        run = _active_run()
        self._run_id = run.info.run_id if run is not None else None
        if run is not None:
            import mlflow

            pid = os.getpid()
            mlflow.set_tags(
                {PID_TAG: str(pid), HOST_TAG: socket.gethostname(), START_TAG: _process_start(pid)}
            )
            mark_orphaned_runs(mlflow.MlflowClient(), run.info.experiment_id, run.info.run_id)
        self._install_signals()

    @hook_impl
    def after_node_run(self) -> None:
        # a node that caught the exception (`except Exception`) does not hide the signal
        if self._received is not None:
            raise RunInterrupted(self._received)

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._restore_signals()

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        self._restore_signals()
        if not isinstance(error, RunInterrupted) or self._run_id is None:
            return
        import mlflow

        client = mlflow.MlflowClient()
        name = signal.Signals(error.signum).name
        client.set_terminated(self._run_id, KILLED)
        client.set_tag(self._run_id, END_TAG, f"interrupted by {name}")
        logger.warning("MLflow run %s recorded as KILLED (%s)", self._run_id, name)


def mark_orphaned_runs(client, experiment_id: str, current_run_id: str) -> list[str]:
    """Mark KILLED the RUNNING runs of this host whose process is gone; -> their ids."""
    host = socket.gethostname()
    marked = []
    runs = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    for run in runs:
        tags = run.data.tags
        if run.info.run_id == current_run_id or tags.get(HOST_TAG) != host:
            continue
        if not tags.get(PID_TAG, "").isdigit():
            continue  # a run from before these tags, or one whose process is tagging it now
        pid = int(tags[PID_TAG])
        if _process_alive(pid, tags.get(START_TAG, "")):
            continue
        client.set_terminated(run.info.run_id, KILLED)
        client.set_tag(
            run.info.run_id,
            END_TAG,
            f"process {pid} on {host} was gone when run {current_run_id} started "
            "(killed with SIGKILL, crashed or the machine stopped)",
        )
        logger.warning(
            "MLflow run %s was left RUNNING by process %d, which is gone: recorded as KILLED",
            run.info.run_id,
            pid,
        )
        marked.append(run.info.run_id)
    return marked


# Tables and columns of MLflow's SQL store that hold artifact locations.
_LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
)


def _sqlite_file(tracking_uri: str) -> Path | None:
    if not tracking_uri.startswith("sqlite:///"):
        return None
    return Path(os.path.abspath(tracking_uri[len("sqlite:///") :]))


def relocate_artifacts(tracking_uri: str, project: Path) -> int:
    """Point the artifact locations that lie under the project's old root at `project`.

    Only for a sqlite store; the experiments' `coverhunter.project_root` tag says where the
    project was (without one, an artifact location `<root>/mlruns/<id>`, MLflow's default, says
    it). Every table that holds a location is rewritten (experiments, runs, logged models, model
    versions), so old runs' artifacts are read from, and new ones written to, the project's own
    `mlruns/`; locations outside the old root (a shared artifact store) are left alone.
    -> rows rewritten.
    """
    database = _sqlite_file(tracking_uri)
    if database is None or not database.is_file():
        return 0
    root = str(project.resolve())
    rewritten, moved_from = 0, set()
    with closing(sqlite3.connect(database, timeout=30)) as connection, connection:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
        if not {"experiments", "experiment_tags"} <= tables:
            return 0
        for experiment_id, location in connection.execute(
            "SELECT experiment_id, artifact_location FROM experiments"
        ).fetchall():
            tag = connection.execute(
                "SELECT value FROM experiment_tags WHERE experiment_id = ? AND key = ?",
                (experiment_id, ROOT_TAG),
            ).fetchone()
            old = tag[0] if tag else _root_of_default_location(location or "", experiment_id)
            if old and old != root and old not in moved_from:
                rewritten += _rewrite_prefix(connection, tables, old, root)
                moved_from.add(old)
            if tag is None or old != root:
                connection.execute(
                    "INSERT OR REPLACE INTO experiment_tags (key, value, experiment_id) "
                    "VALUES (?, ?, ?)",
                    (ROOT_TAG, root, experiment_id),
                )
    if moved_from:
        logger.warning(
            "MLflow: the project moved from %s to %s; %d artifact locations now point here",
            ", ".join(sorted(moved_from)),
            root,
            rewritten,
        )
    return rewritten


def _root_of_default_location(location: str, experiment_id: Any) -> str | None:
    path = location.removeprefix("file://")
    match = re.fullmatch(rf"(/.*)/mlruns/{re.escape(str(experiment_id))}/?", path)
    return match.group(1) if match else None


def _rewrite_prefix(connection: sqlite3.Connection, tables: set[str], old: str, new: str) -> int:
    count = 0
    for table, column in _LOCATION_COLUMNS:
        if table not in tables:
            continue
        for before, after in ((f"file://{old}/", f"file://{new}/"), (f"{old}/", f"{new}/")):
            cursor = connection.execute(
                f"UPDATE {table} SET {column} = ? || substr({column}, ?) "  # noqa: S608
                f"WHERE substr({column}, 1, ?) = ?",
                (after, len(before) + 1, len(before), before),
            )
            count += cursor.rowcount
    return count


class CollectionMatchesCatalog:
    """Refuse a run whose `collection` (or `model_collection`) parameter names another folder
    than the catalog's paths.

    The catalog and the parameters read both names from `conf/<env>/globals.yml` (or `--params
    collection=NAME`). A `collection:` written in a parameters file moves the parameter alone:
    the run would then read and write the data of the globals' collection while every node and
    the MLflow parameters name another. The run stops before any node, saying where to set it.
    """

    # parameter -> the catalog entry whose folder (data/<layer>/<NAME>/...) is that collection
    ENTRIES = {"collection": "manifest", "model_collection": "trained_fine_model"}

    @hook_impl
    def after_catalog_created(self, conf_catalog: dict, parameters: dict) -> None:
        for name, entry in self.ENTRIES.items():
            value = parameters.get(f"params:{name}")
            path = (conf_catalog.get(entry) or {}).get("filepath")
            if value is None or path is None:
                continue
            folder = Path(path).parent.name
            if folder != str(value):
                raise ValueError(
                    f"parameter {name}={value!r}, but the catalog's datasets are under "
                    f"{folder!r} ({entry}: {path}). Set `{name}: {value}` in "
                    f"conf/<env>/globals.yml (or pass --params {name}={value}): in a parameters "
                    "file it renames the parameter, not the data."
                )
