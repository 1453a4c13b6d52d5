"""Kedro dataset for a trained CoverHunter: a directory with ``model.safetensors`` (the state
dict) and ``config.json`` (the ``CoverHunterConfig`` plus free metadata, e.g. the work labels).

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

import json
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import AbstractVersionedDataset, DatasetError, Version
from safetensors.torch import load_file, save_file

from coverhunter.data.atomic import replaced_atomically
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "CoverHunterModelDataset"]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT_VERSION = 1


def _write_directory(directory: Path, model: CoverHunter, metadata: dict[str, Any]) -> None:
    directory.mkdir(parents=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, directory / WEIGHTS_FILE)
    document = {
        "format": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "metadata": metadata,
    }
    (directory / CONFIG_FILE).write_text(json.dumps(document, indent=2, sort_keys=True))


class CoverHunterModelDataset(AbstractVersionedDataset[dict[str, Any], dict[str, Any]]):
    """Saves and loads ``{"model": CoverHunter, "metadata": dict}`` as safetensors + JSON."""

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
        weights, config_file = directory / WEIGHTS_FILE, directory / CONFIG_FILE
        if self._missing_ok and not directory.exists():
            return {"model": None, "metadata": {}, "path": str(directory)}
        if not weights.is_file() or not config_file.is_file():
            raise DatasetError(f"{directory} lacks {WEIGHTS_FILE} or {CONFIG_FILE}")
        document = json.loads(config_file.read_text())
        if document.get("format") != FORMAT_VERSION:
            raise DatasetError(f"{config_file}: unknown format {document.get('format')!r}")
        try:
            config = CoverHunterConfig(**document["config"])
        except (TypeError, ValueError) as error:
            raise DatasetError(f"{config_file}: invalid model config: {error}") from error
        model = CoverHunter(config)
        model.load_state_dict(load_file(weights, device="cpu"))
        return {"model": model.eval(), "metadata": document.get("metadata", {})}

    def save(self, data: dict[str, Any]) -> None:
        model, metadata = data.get("model"), data.get("metadata", {})
        if not isinstance(model, CoverHunter):
            raise DatasetError(
                f"CoverHunterModelDataset saves {{'model': CoverHunter, 'metadata': dict}}, "
                f"got model of type {type(model).__name__}"
            )
        try:
            json.dumps(metadata)
        except TypeError as error:
            raise DatasetError(f"model metadata is not JSON serialisable: {error}") from error
        # unversioned, the previous model's folder is replaced
        with replaced_atomically(self._get_save_path()) as partial:
            _write_directory(partial, model, metadata)

    def _exists(self) -> bool:
        directory = Path(self._get_load_path())
        return (directory / WEIGHTS_FILE).is_file() and (directory / CONFIG_FILE).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}
