"""Kedro dataset for a trained CoverHunter: a model folder (``model.safetensors`` + ``config.json``,
written and read by `coverhunter.persistence.model_folder`, the one format every copy of a model
uses: the MLflow artifacts of a training stage and the pyfunc's artifact load here too).

The data is a dict ``{"model": CoverHunter, "metadata": dict}``; ``metadata`` must be JSON
serialisable and may be empty. Loading rebuilds the model from its config, reads the weights
with ``safetensors.torch.load_file`` (no pickle) and returns it on the CPU in eval mode.

With ``versioned: true`` each save is a new ``filepath/<version>/<name>/`` directory. A save is
written to a hidden sibling first and then renamed, so a killed save never leaves a directory
that loads. Local filesystem only.

Example catalog entry:

    "{collection}.coarse_model":
      type: coverhunter.datasets.model_dataset.CoverHunterModelDataset
      filepath: data/06_models/{collection}/coarse_model
      versioned: true
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

from coverhunter.data.atomic import replaced_atomically
from coverhunter.persistence.model_folder import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    ModelFolderError,
    is_model_folder,
    load_model_folder,
    save_model_folder,
)

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "CoverHunterModelDataset"]


class CoverHunterModelDataset(AbstractVersionedDataset[dict[str, Any], dict[str, Any]]):
    """Saves and loads ``{"model": CoverHunter, "metadata": dict}`` as a model folder."""

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> None:
        """
        Args:
            filepath: the model directory (with versioning, the parent of the versions).
            version: Kedro's load/save version; set by the catalog for ``versioned: true``.
            metadata: Kedro's free-form dataset metadata (not the model's).
            missing_ok: an absent directory loads as ``{"model": None, "path": ...}`` (a
                model a stage may start from, which a run that does not use it need not have);
                a directory that exists must still hold a whole model.
        """
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self.metadata = metadata
        self._missing_ok = missing_ok

    def load(self) -> dict[str, Any]:
        directory = Path(self._get_load_path())
        if self._missing_ok and not directory.exists():
            return {"model": None, "metadata": {}, "path": str(directory)}
        try:
            model, metadata = load_model_folder(directory)
        except ModelFolderError as error:
            raise DatasetError(str(error)) from error
        return {"model": model, "metadata": metadata}

    def save(self, data: dict[str, Any]) -> None:
        model, metadata = data.get("model"), data.get("metadata", {})
        # unversioned, the previous model's folder is replaced
        try:
            with replaced_atomically(self._get_save_path()) as partial:
                save_model_folder(partial, model, metadata)
        except ModelFolderError as error:
            raise DatasetError(
                f"CoverHunterModelDataset saves {{'model': CoverHunter, 'metadata': dict}}: {error}"
            ) from error

    def _exists(self) -> bool:
        return is_model_folder(self._get_load_path())

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}
