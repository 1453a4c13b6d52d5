"""The CoverHunter network, its pooling variants and losses. Sees tensors only."""
