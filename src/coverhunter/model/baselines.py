"""A non-learned baseline embedder: key-invariant chroma statistics of the log-CQT.

It offers the same `embed(cqt (B, T, F), lengths (B,)) -> (B, D)` (unit rows) as every model, so
the evaluation scores it beside CoverHunter and shows what the learning adds. It lives with the
models (evaluation scores embedders, it holds none). Steps:

1. dB back to amplitude, the `F` bins folded into 12 pitch classes (chroma), each frame scaled to
   sum 1 so loudness drops out (`front_end.frame_chroma`, the fold the chroma-lag front end uses);
2. mean and standard deviation of the chroma over the real frames, each made key-invariant by the
   magnitude of its DFT over the 12 pitch classes (a transposition is a circular shift of the
   chroma, which only changes the DFT's phase);
3. the 2D Fourier transform magnitude of chroma patches (Bertin-Mahieux & Ellis, 2012): chroma
   averaged over blocks of `pool_frames`, cut into patches of `patch_steps` blocks, `|FFT2|`
   averaged over the patches; invariant to transposition and to small shifts in time.

Each of the three parts is L2-normalised before they are concatenated, so none dominates.
"""

from __future__ import annotations

import torch
from torch import nn

from coverhunter.model.front_end import frame_chroma, octave_bins


def _unit(x: torch.Tensor, eps: float) -> torch.Tensor:
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp(min=eps)


class ChromaBaseline(nn.Module):
    """Key-invariant chroma statistics; no parameters to train.

    Args:
        n_bins: CQT bins `F` of the input (96 in CoverHunter), a multiple of `bins_per_octave`.
        bins_per_octave: CQT bins per octave; one bin per semitone (12) is required.
        pool_frames: frames averaged into one step of the 2D-FFT part (25 = 1 s at 25 fps).
        patch_steps: pooled steps per patch of the 2D-FFT part.
        eps: guards divisions by zero on silent input.

    Example:
        >>> baseline = ChromaBaseline()
        >>> emb = baseline.embed(torch.randn(2, 500, 96) - 40, torch.tensor([500, 300]))
        >>> emb.shape  # (2, 7 + 7 + 8 * 7)
        torch.Size([2, 70])
    """

    def __init__(
        self,
        n_bins: int = 96,
        bins_per_octave: int = 12,
        pool_frames: int = 25,
        patch_steps: int = 8,
        eps: float = 1e-8,
        octaves: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        octave_bins(n_bins, octaves)  # raises for a range outside the CQT
        self.octaves = None if octaves is None else tuple(int(o) for o in octaves)
        if bins_per_octave != 12:
            raise ValueError(
                f"bins_per_octave must be 12 (one bin a semitone), got {bins_per_octave}"
            )
        if n_bins % bins_per_octave:
            raise ValueError(f"n_bins={n_bins} must be a multiple of bins_per_octave=12")
        if pool_frames < 1 or patch_steps < 1:
            raise ValueError(f"pool_frames, patch_steps must be >= 1: {pool_frames}, {patch_steps}")
        self.n_bins = n_bins
        self.bins_per_octave = bins_per_octave
        self.pool_frames = pool_frames
        self.patch_steps = patch_steps
        self.eps = eps

    @property
    def embedding_dim(self) -> int:
        n_dft = self.bins_per_octave // 2 + 1
        return 2 * n_dft + self.patch_steps * n_dft

    def _patch_part(self, chroma: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Mean `|FFT2|` of chroma patches `(B, patch_steps * 7)`; zeros for too-short tracks."""
        b, t, c = chroma.shape
        n_steps = t // self.pool_frames
        if n_steps < self.patch_steps:
            return chroma.new_zeros(b, self.patch_steps * (c // 2 + 1))
        steps = chroma[:, : n_steps * self.pool_frames].reshape(b, n_steps, self.pool_frames, c)
        steps = steps.mean(2)  # (B, S, 12); only blocks made wholly of real frames are used
        patches = steps.unfold(1, self.patch_steps, 1).transpose(2, 3)  # (B, P, steps, 12)
        spectrum = torch.fft.rfft2(patches, dim=(-2, -1)).abs().flatten(2)  # (B, P, steps*7)
        valid_steps = torch.div(lengths, self.pool_frames, rounding_mode="floor")
        start = torch.arange(patches.shape[1], device=chroma.device)
        valid = (start[None, :] + self.patch_steps) <= valid_steps[:, None]  # (B, P)
        total = (spectrum * valid[..., None]).sum(1)
        return total / valid.sum(1, keepdim=True).clamp(min=1)

    def embed(self, cqt: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """`cqt (B, T, F)` log-CQT in dB, `lengths (B,)` real frames -> `(B, D)` unit rows."""
        assert cqt.ndim == 3, f"cqt must be (B, T, F), got {tuple(cqt.shape)}"
        assert lengths.ndim == 1 and lengths.shape[0] == cqt.shape[0]
        if cqt.shape[2] != self.n_bins:
            raise ValueError(f"cqt has {cqt.shape[2]} bins, the baseline expects {self.n_bins}")
        chroma = frame_chroma(cqt.float(), self.eps, self.octaves)  # (B, T, 12), frames sum to 1
        frame = torch.arange(cqt.shape[1], device=cqt.device)
        mask = (frame[None, :] < lengths[:, None].to(cqt.device)).float()[..., None]  # (B, T, 1)
        count = mask.sum(1).clamp(min=1)
        mean = (chroma * mask).sum(1) / count  # (B, 12)
        std = (((chroma - mean[:, None]) ** 2 * mask).sum(1) / count).sqrt()
        parts = [
            torch.fft.rfft(mean, dim=-1).abs(),
            torch.fft.rfft(std, dim=-1).abs(),
            self._patch_part(chroma, lengths.to(cqt.device)),
        ]
        return _unit(torch.cat([_unit(p, self.eps) for p in parts], dim=-1), self.eps)

    def forward(self, cqt: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.embed(cqt, lengths)
