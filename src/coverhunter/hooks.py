"""Project hooks."""

from __future__ import annotations

import logging

import mlflow
from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)


class CloseFinishedMlflowRun:
    """End the fluent MLflow run left on this thread's stack after a session's run.

    kedro-mlflow finishes its run in the tracking store, but with MLflow 3 the run can stay on the
    calling thread's active-run stack; a second session in the same process (a notebook, a test,
    `coverhunter identify`) would then log into the finished run. Plugin hooks run before project
    hooks here, so kedro-mlflow has logged everything by the time this runs.
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
