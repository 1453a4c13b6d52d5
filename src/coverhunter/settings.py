"""Kedro project settings. kedro-mlflow registers its hooks itself through its entry point."""

from kedro.config import OmegaConfigLoader

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/paper and conf/local override single keys of a section, not whole sections.
    "merge_strategy": {"parameters": "soft", "catalog": "soft"},
}

from coverhunter.hooks import (  # noqa: E402
    CloseFinishedMlflowRun,
    CollectionMatchesCatalog,
    RecordTrueRunStatus,
)

HOOKS = (CollectionMatchesCatalog(), RecordTrueRunStatus(), CloseFinishedMlflowRun())
