"""Decoding, resampling, CQT and augmentation. Knows nothing of Kedro or of our other areas."""
