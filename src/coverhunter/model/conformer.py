"""Conformer encoder (Gulati et al. 2020) that honours padding everywhere.

Modelled on torchaudio's ``torchaudio.models.Conformer`` (same block layout: half-step
feed-forward, self-attention, convolution module, half-step feed-forward, final LayerNorm), with
two differences that matter for CoverHunter:

- torchaudio's convolution module ignores the padding mask, so padded frames leak into the last
  ``kernel_size // 2`` valid frames and a chunk's embedding would depend on what it was batched
  with. Here padded frames are zeroed before the depthwise convolution and left out of its
  BatchNorm statistics.
- The paper uses the "classic" speech Conformer [11], i.e. relative sinusoidal positional
  encoding in self-attention (Transformer-XL style, as in the authors' WeNet encoder);
  torchaudio has none. ``positional_encoding="relative"`` (default) or ``"none"``.

Example:
    >>> encoder = Conformer(input_dim=32, num_heads=4, ffn_dim=64, num_layers=2,
    ...                     depthwise_conv_kernel_size=15)
    >>> x = torch.randn(3, 50, 32)  # (B,T,D)
    >>> lengths = torch.tensor([50, 40, 7])
    >>> y, out_lengths = encoder(x, lengths)  # (B,T,D), (B,)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Conformer", "lengths_to_padding_mask", "masked_batch_norm", "relative_to_absolute"]

POSITIONAL_ENCODINGS = ("relative", "none")


def lengths_to_padding_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """Padding mask, ``True`` at padded frames.

    Args:
        lengths: (B,) long, valid frames per sequence.
        max_length: T, the padded length.

    Returns:
        (B,T) bool.
    """
    assert lengths.ndim == 1, lengths.shape
    frames = torch.arange(max_length, device=lengths.device)
    return frames.unsqueeze(0) >= lengths.unsqueeze(1)


def masked_batch_norm(norm: nn.BatchNorm1d, x: torch.Tensor, padding_mask: torch.Tensor):
    """BatchNorm over the last axis using valid frames only; padded frames come out as zero.

    Batch statistics in training then describe real frames only, and padded frames stay inert.

    Args:
        norm: BatchNorm1d over C channels.
        x: (B,T,C).
        padding_mask: (B,T) bool, ``True`` at padded frames.

    Returns:
        (B,T,C), in the norm's output dtype (float32 under autocast).
    """
    assert x.ndim == 3 and padding_mask.shape == x.shape[:2], (x.shape, padding_mask.shape)
    if not norm.training and norm.running_mean is not None:
        # Inference: running statistics make the norm per frame, so normalise everything and
        # zero the padding; the same values without gathering and scattering the valid frames.
        normed = norm(x.reshape(-1, x.shape[-1])).view(x.shape[0], x.shape[1], -1)
        return normed.masked_fill(padding_mask.unsqueeze(-1), 0.0)
    valid = ~padding_mask
    normed = norm(x[valid])  # (N_valid, C)
    out = normed.new_zeros(x.shape[0], x.shape[1], normed.shape[-1])
    out[valid] = normed
    return out


def _relative_sinusoids(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """Sinusoidal encodings of relative positions ``length-1, ..., 0, ..., -(length-1)``.

    Returns:
        (2*length-1, dim) float32.
    """
    positions = torch.arange(length - 1, -length, -1, device=device, dtype=torch.float32)
    inv_freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    angles = positions.unsqueeze(1) * inv_freq.unsqueeze(0)  # (2T-1, dim/2)
    encoding = torch.zeros(2 * length - 1, dim, device=device)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles)
    return encoding


def relative_to_absolute(scores: torch.Tensor) -> torch.Tensor:
    """Scores per relative offset -> scores per key position.

    Args:
        scores: (...,T,2T-1); column c holds offset ``T-1-c`` (the order of
            ``_relative_sinusoids``).

    Returns:
        (...,T,T) with ``out[..., i, j] = scores[..., i, T-1-i+j]``, the score for offset i-j.
    """
    frames = scores.shape[-2]
    assert scores.shape[-1] == 2 * frames - 1, scores.shape
    if not scores.requires_grad:
        # Inference: row i starts (2T-1) - 1 elements after row i-1's start shifted by one, so
        # the result is a strided view of the contiguous scores (Transformer-XL's shift), no copy.
        scores = scores.contiguous()
        *lead, _, _ = scores.shape
        lead_strides = scores.stride()[:-2]
        return scores.as_strided(
            (*lead, frames, frames),
            (*lead_strides, 2 * frames - 2, 1),
            scores.storage_offset() + frames - 1,
        )
    rows = torch.arange(frames, device=scores.device)
    index = (frames - 1 - rows).unsqueeze(1) + rows.unsqueeze(0)  # (T,T)
    return scores.gather(-1, index.expand(*scores.shape[:-2], frames, frames))


class _MultiHeadSelfAttention(nn.Module):
    """Self-attention with a key padding mask and optional relative positional encoding.

    Relative form (Dai et al. 2019, Transformer-XL; ESPnet/WeNet ``rel_pos``): the score of query
    i and key j is ``(q_i + u) . k_j + (q_i + v) . W_p p_{i-j}`` over sqrt(d_head).
    """

    def __init__(self, dim: int, num_heads: int, dropout: float, positional_encoding: str):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.relative = positional_encoding == "relative"
        if self.relative:
            self.linear_pos = nn.Linear(dim, dim, bias=False)
            self.pos_bias_u = nn.Parameter(torch.zeros(num_heads, self.head_dim))
            self.pos_bias_v = nn.Parameter(torch.zeros(num_heads, self.head_dim))

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """x: (B,T,D), padding_mask: (B,T) bool -> (B,T,D)."""
        batch, frames, dim = x.shape
        q, k, v = self.qkv(x).view(batch, frames, 3, self.num_heads, self.head_dim).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B,H,T,d)
        bias = torch.zeros(batch, 1, 1, frames, device=x.device, dtype=q.dtype)
        bias = bias.masked_fill(padding_mask[:, None, None, :], float("-inf"))  # (B,1,1,T)
        if self.relative:
            pos = self.linear_pos(_relative_sinusoids(frames, dim, x.device).to(x.dtype))
            pos = pos.view(2 * frames - 1, self.num_heads, self.head_dim).transpose(0, 1)
            q_v = q + self.pos_bias_v.unsqueeze(1).to(q.dtype)  # (B,H,T,d)
            scores_pos = relative_to_absolute(q_v @ pos.transpose(1, 2))  # (B,H,T,T)
            bias = bias + scores_pos / math.sqrt(self.head_dim)
            q = q + self.pos_bias_u.unsqueeze(1).to(q.dtype)
        context = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0
        )  # (B,H,T,d)
        return self.out(context.transpose(1, 2).reshape(batch, frames, dim))


class _FeedForwardModule(nn.Module):
    """LayerNorm -> Linear -> SiLU -> Dropout -> Linear -> Dropout; (B,T,D) -> (B,T,D)."""

    def __init__(self, dim: int, hidden_dim: int, dropout: float):
        super().__init__()
        self.sequential = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, hidden_dim),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sequential(x)


class _ConvolutionModule(nn.Module):
    """LayerNorm -> pointwise conv + GLU -> depthwise conv -> BatchNorm -> SiLU -> pointwise.

    Padded frames are zeroed before the depthwise convolution so they never reach valid frames.
    """

    def __init__(self, dim: int, kernel_size: int, dropout: float):
        super().__init__()
        self.layer_norm = nn.LayerNorm(dim)
        self.pointwise_in = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise = nn.Conv1d(
            dim, dim, kernel_size, padding=(kernel_size - 1) // 2, groups=dim
        )
        self.batch_norm = nn.BatchNorm1d(dim)
        self.pointwise_out = nn.Conv1d(dim, dim, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """x: (B,T,D), padding_mask: (B,T) bool -> (B,T,D)."""
        y = self.layer_norm(x).transpose(1, 2)  # (B,D,T)
        y = F.glu(self.pointwise_in(y), dim=1)
        y = y.masked_fill(padding_mask.unsqueeze(1), 0.0)
        y = self.depthwise(y).transpose(1, 2)  # (B,T,D)
        y = F.silu(masked_batch_norm(self.batch_norm, y, padding_mask)).to(x.dtype)
        y = self.pointwise_out(y.transpose(1, 2)).transpose(1, 2)
        return self.dropout(y)


class ConformerLayer(nn.Module):
    """One Conformer block; (B,T,D) -> (B,T,D)."""

    def __init__(
        self,
        dim: int,
        ffn_dim: int,
        num_heads: int,
        depthwise_conv_kernel_size: int,
        dropout: float = 0.1,
        attention_dropout: float = 0.0,
        positional_encoding: str = "relative",
    ):
        super().__init__()
        self.ffn1 = _FeedForwardModule(dim, ffn_dim, dropout)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.self_attn = _MultiHeadSelfAttention(
            dim, num_heads, attention_dropout, positional_encoding
        )
        self.self_attn_dropout = nn.Dropout(dropout)
        self.conv_module = _ConvolutionModule(dim, depthwise_conv_kernel_size, dropout)
        self.ffn2 = _FeedForwardModule(dim, ffn_dim, dropout)
        self.final_layer_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        x = x + 0.5 * self.ffn1(x)
        attended = self.self_attn(self.self_attn_layer_norm(x), padding_mask)
        x = x + self.self_attn_dropout(attended)
        x = x + self.conv_module(x, padding_mask)
        x = x + 0.5 * self.ffn2(x)
        return self.final_layer_norm(x)


class Conformer(nn.Module):
    """Stack of Conformer blocks over already-embedded frames.

    Args:
        input_dim: D, model width.
        num_heads: attention heads; must divide ``input_dim``.
        ffn_dim: hidden width of the feed-forward modules.
        num_layers: number of blocks.
        depthwise_conv_kernel_size: odd kernel of the depthwise convolution.
        dropout: dropout in feed-forward, convolution and after attention.
        attention_dropout: dropout on attention weights.
        positional_encoding: ``"relative"`` (paper/authors) or ``"none"`` (torchaudio).
    """

    def __init__(
        self,
        input_dim: int,
        num_heads: int,
        ffn_dim: int,
        num_layers: int,
        depthwise_conv_kernel_size: int,
        dropout: float = 0.1,
        attention_dropout: float = 0.0,
        positional_encoding: str = "relative",
    ):
        super().__init__()
        if input_dim % num_heads:
            raise ValueError(f"input_dim={input_dim} must be divisible by num_heads={num_heads}")
        if depthwise_conv_kernel_size % 2 != 1:
            raise ValueError(
                f"depthwise_conv_kernel_size={depthwise_conv_kernel_size} must be odd so the "
                "convolution keeps the sequence length"
            )
        if positional_encoding not in POSITIONAL_ENCODINGS:
            raise ValueError(
                f"positional_encoding={positional_encoding!r}; expected one of "
                f"{POSITIONAL_ENCODINGS}"
            )
        self.layers = nn.ModuleList(
            ConformerLayer(
                input_dim,
                ffn_dim,
                num_heads,
                depthwise_conv_kernel_size,
                dropout,
                attention_dropout,
                positional_encoding,
            )
            for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B,T,D), lengths: (B,) long -> (output (B,T,D), lengths (B,)).

        Output frames at padded positions are unspecified; mask them with ``lengths``.
        """
        assert x.ndim == 3 and lengths.ndim == 1, (x.shape, lengths.shape)
        padding_mask = lengths_to_padding_mask(lengths, x.shape[1])
        for layer in self.layers:
            x = layer(x, padding_mask)
        return x, lengths
