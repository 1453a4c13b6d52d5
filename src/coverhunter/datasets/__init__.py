"""Kedro datasets of our own: numpy arrays, model state dicts with config, faiss indexes."""

from coverhunter.datasets.faiss_index_dataset import FaissIndexDataset
from coverhunter.datasets.feature_cache import FeatureCacheState
from coverhunter.datasets.model_dataset import CoverHunterModelDataset
from coverhunter.datasets.numpy_dataset import NumpyArrayDataset

__all__ = [
    "CoverHunterModelDataset",
    "FaissIndexDataset",
    "FeatureCacheState",
    "NumpyArrayDataset",
]
