"""The CoverHunter network, its pooling variants and losses. Sees tensors only."""

from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig, CoverHunterOutput
from coverhunter.model.losses import CoverHunterLoss, LossConfig

__all__ = ["CoverHunter", "CoverHunterConfig", "CoverHunterLoss", "CoverHunterOutput", "LossConfig"]
