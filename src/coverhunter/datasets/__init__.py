"""Kedro datasets of our own: numpy arrays, model state dicts with config, faiss indexes."""

from coverhunter.datasets.feature_cache import FeatureCacheState
from coverhunter.datasets.numpy_dataset import NumpyArrayDataset

__all__ = ["FeatureCacheState", "NumpyArrayDataset"]
