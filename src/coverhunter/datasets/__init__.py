"""Kedro datasets of our own: the feature store, model state dicts, faiss indexes."""

from coverhunter.datasets.faiss_index_dataset import FaissIndexDataset
from coverhunter.datasets.feature_store_dataset import (
    FeatureStoreDataset,
    FeatureStoreWriterDataset,
)
from coverhunter.datasets.model_dataset import CoverHunterModelDataset
from coverhunter.datasets.previous_table import PreviousTableDataset

__all__ = [
    "CoverHunterModelDataset",
    "FaissIndexDataset",
    "FeatureStoreDataset",
    "FeatureStoreWriterDataset",
    "PreviousTableDataset",
]
