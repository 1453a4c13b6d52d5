"""Project hooks."""

from __future__ import annotations

import logging

import mlflow
from kedro.framework.hooks import hook_impl
from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook as kedro_mlflow_hook

logger = logging.getLogger(__name__)


class CloseFinishedMlflowRun:
    """Leave no MLflow state behind a session's run for the next session in the same process.

    kedro-mlflow finishes its run in the tracking store, but with MLflow 3 the run can stay on the
    calling thread's active-run stack, and its (module-level) hook keeps the run id: a second
    session in the same process (a notebook, a test, `coverhunter identify`) would log into the
    finished run, or, with tracking disabled for its pipeline, try to reopen a run of another
    store. Plugin hooks run before project hooks here, so kedro-mlflow has logged everything by
    the time this runs.
    """

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._close()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._close()

    @staticmethod
    def _close() -> None:
        while (run := mlflow.active_run()) is not None:
            logger.debug("closing MLflow run %s left active", run.info.run_id)
            mlflow.end_run()
        kedro_mlflow_hook.run_id = None
