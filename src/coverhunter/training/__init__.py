"""The one training loop shared by the coarse and fine stages."""
