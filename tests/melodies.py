"""Chroma sequences whose answer a pitch-alignment test knows: a melody drawn from a seed."""

import numpy as np
import torch


def melody(steps: int, seed: int) -> torch.Tensor:
    """`(steps, 12)` chroma: a random note a step, plus a weaker random note, plus a floor."""
    rng = np.random.default_rng(seed)
    chroma = np.full((steps, 12), 0.05, dtype=np.float32)
    chroma[np.arange(steps), rng.integers(0, 12, steps)] += 1.0
    chroma[np.arange(steps), rng.integers(0, 12, steps)] += 0.4
    return torch.from_numpy(chroma)
