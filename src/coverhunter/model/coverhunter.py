"""The CoverHunter network (paper Section II-A/B, Fig. 2b), read top to bottom.

CQT (B,T,96) -> front end (the CQT itself, as the paper, or key-invariant chroma lags; see
``front_end.py``) -> optional average of every ``input_pool`` frames -> BatchNorm over
features (in place of CMVN) -> conv2d subsampling x4 in time -> N Conformer blocks -> time
pooling -> linear bottleneck to ``embedding_dim`` (``embedding``, seen by the triplet loss) ->
BN-neck (``neck``, seen by the classifier, focal loss and by default the center loss) -> linear
classifier without bias (only when ``n_classes > 0``).

Retrieval (``embed``) uses the pre-neck ``embedding``, L2-normalised, as the authors'
``compute_embed`` does; ``retrieval_embedding="neck"`` switches to the post-neck vector.

Inputs shorter than ``min_frames`` (the subsampling's receptive field: 7 frames at x4, times
``input_pool``) raise a ValueError naming the length; pad on the caller's side if such chunks
must be embedded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from coverhunter.model.checks import check, check_at_least, check_choice, check_fraction
from coverhunter.model.conformer import (
    POSITIONAL_ENCODINGS,
    Conformer,
    lengths_to_padding_mask,
    masked_batch_norm,
)
from coverhunter.model.front_end import FRONT_ENDS, ChromaLags, octave_bins, pool_frames
from coverhunter.model.pooling import POOLINGS, build_pooling

__all__ = ["CoverHunter", "CoverHunterConfig", "CoverHunterOutput"]

RETRIEVAL_EMBEDDINGS = ("pre_neck", "neck")


@dataclass
class CoverHunterConfig:
    """Every architectural setting of CoverHunter; paper values are the defaults.

    Authors' code (Liu-Feng-deeplearning/CoverHunter) differs in: d_model 128, ffn_dim 256,
    pool_mask_prob 0.0 (no random mask).
    """

    n_bins: int = 96
    # "cqt" (paper) feeds the log-CQT; "chroma_lags" feeds key-invariant chroma lag features
    # (front_end.py), so no pitch-shift augmentation is needed to learn across keys.
    front_end: str = "cqt"
    chroma_lags: tuple[int, ...] = (0, 5, 10, 15, 20, 30, 40, 60)  # frames, for chroma_lags
    # The CQT octaves [first, last) folded into the chroma_lags' chroma; None: all of them.
    chroma_octaves: tuple[int, int] | None = None
    # Frames averaged into one before the network (1 = paper): the sequence the CPU pays for.
    input_pool: int = 1
    subsampling: int = 4
    # Channels of the conv2d subsampling; 0 = d_model (authors). It dominates the CPU cost of a
    # small model, so the CPU configuration narrows it.
    subsampling_channels: int = 0
    d_model: int = 256
    n_heads: int = 4
    ffn_dim: int = 1024
    n_blocks: int = 6
    kernel_size: int = 15
    dropout: float = 0.1
    attention_dropout: float = 0.0
    positional_encoding: str = "relative"
    pooling: str = "attentive"
    # The paper masks attention randomly without giving a rate; 0.1 is our choice.
    pool_mask_prob: float = 0.1
    gem_p: float = 3.0
    embedding_dim: int = 128
    n_classes: int = 0
    retrieval_embedding: str = "pre_neck"

    def __post_init__(self) -> None:
        positive = (
            "n_bins",
            "input_pool",
            "d_model",
            "n_heads",
            "ffn_dim",
            "n_blocks",
            "embedding_dim",
        )
        check_at_least(self, positive, 1)
        check_at_least(self, ("subsampling_channels", "n_classes"), 0)
        power_of_two = self.subsampling >= 2 and not self.subsampling & (self.subsampling - 1)
        check(self, "subsampling", power_of_two, "must be a power of two >= 2")
        check_choice(self, "front_end", FRONT_ENDS)
        self.chroma_lags = tuple(int(lag) for lag in self.chroma_lags)
        if self.chroma_octaves is not None:
            self.chroma_octaves = tuple(int(o) for o in self.chroma_octaves)
            octave_bins(self.n_bins, self.chroma_octaves)  # raises for a range outside the CQT
        if self.front_end == "chroma_lags" and (self.n_bins % 12 or not self.chroma_lags):
            raise ValueError(
                f"chroma_lags needs whole octaves of 12 bins (n_bins={self.n_bins}) and at "
                f"least one lag (chroma_lags={list(self.chroma_lags)})"
            )
        if self.feature_dim < 2 * self.subsampling - 1:
            raise ValueError(
                f"{self.feature_dim} input features too few for subsampling={self.subsampling}"
            )
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        check(self, "kernel_size", self.kernel_size % 2 == 1, "must be odd")
        check_fraction(self, ("dropout", "attention_dropout", "pool_mask_prob"))
        check_choice(self, "positional_encoding", POSITIONAL_ENCODINGS)
        check_choice(self, "pooling", POOLINGS)
        check(self, "gem_p", self.gem_p > 0, "must be positive")
        check_choice(self, "retrieval_embedding", RETRIEVAL_EMBEDDINGS)

    @property
    def feature_dim(self) -> int:
        """Features per frame after the front end."""
        return self.n_bins if self.front_end == "cqt" else 12 * len(self.chroma_lags)

    def to_dict(self) -> dict:
        """Plain dict, JSON-serialisable; ``CoverHunterConfig(**d)`` rebuilds it."""
        octaves = None if self.chroma_octaves is None else list(self.chroma_octaves)
        return {
            **dataclasses.asdict(self),
            "chroma_lags": list(self.chroma_lags),
            "chroma_octaves": octaves,
        }


@dataclass
class CoverHunterOutput:
    """What one forward pass yields.

    Attributes:
        embedding: (B,D) pre-neck embedding (bottleneck output), for the triplet loss.
        neck: (B,D) after the BN-neck, for the classifier and center loss.
        logits: (B,C) classifier logits, or None when the model has no classifier.
    """

    embedding: torch.Tensor
    neck: torch.Tensor
    logits: torch.Tensor | None


class _Conv2dSubsampling(nn.Module):
    """Stride-2 3x3 conv2d + ReLU, log2(factor) times, then Linear to ``d_model``.

    Time and frequency both shrink by ``(n - 1) // 2`` per conv; a valid output frame only sees
    valid input frames, so padding cannot leak in.
    (B,T,F) -> (B,T',d_model), T' = ((T - 1) // 2 ...) applied log2(factor) times.
    """

    def __init__(self, n_bins: int, d_model: int, factor: int, channels: int):
        super().__init__()
        self.n_convs = factor.bit_length() - 1
        layers: list[nn.Module] = []
        for i in range(self.n_convs):
            layers += [nn.Conv2d(1 if i == 0 else channels, channels, 3, stride=2), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        self.out = nn.Linear(channels * self.output_length(n_bins), d_model)

    def output_length(self, length: int | torch.Tensor) -> int | torch.Tensor:
        for _ in range(self.n_convs):
            length = (length - 1) // 2
        return length

    def min_length(self) -> int:
        """Shortest input that yields one output frame."""
        length = 1
        for _ in range(self.n_convs):
            length = 2 * length + 1
        return length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.unsqueeze(1))  # (B,d,T',F')
        batch, channels, frames, bins = y.shape
        return self.out(y.transpose(1, 2).reshape(batch, frames, channels * bins))


class CoverHunter(nn.Module):
    """Conformer CSI embedder; see the module docstring for the data flow.

    Args:
        config: the architecture.
        generator: RNG for the weight initialisation (global RNG when None).

    Example:
        >>> model = CoverHunter(CoverHunterConfig(d_model=32, n_blocks=1, n_classes=10))
        >>> out = model(torch.randn(2, 100, 96), torch.tensor([100, 80]))
        >>> out.embedding.shape, out.logits.shape
        (torch.Size([2, 128]), torch.Size([2, 10]))
    """

    def __init__(self, config: CoverHunterConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        self.front_end = (
            ChromaLags(config.chroma_lags, octaves=config.chroma_octaves)
            if config.front_end == "chroma_lags"
            else None
        )
        self.input_norm = nn.BatchNorm1d(config.feature_dim)
        self.subsampling = _Conv2dSubsampling(
            config.feature_dim,
            config.d_model,
            config.subsampling,
            config.subsampling_channels or config.d_model,
        )
        self.input_dropout = nn.Dropout(config.dropout)
        self.encoder = Conformer(
            input_dim=config.d_model,
            num_heads=config.n_heads,
            ffn_dim=config.ffn_dim,
            num_layers=config.n_blocks,
            depthwise_conv_kernel_size=config.kernel_size,
            dropout=config.dropout,
            attention_dropout=config.attention_dropout,
            positional_encoding=config.positional_encoding,
        )
        self.pooling = build_pooling(
            config.pooling, config.d_model, mask_prob=config.pool_mask_prob, gem_p=config.gem_p
        )
        self.bottleneck = nn.Linear(self.pooling.out_dim, config.embedding_dim, bias=False)
        self.neck = nn.BatchNorm1d(config.embedding_dim)
        self.classifier = (
            nn.Linear(config.embedding_dim, config.n_classes, bias=False)
            if config.n_classes > 0
            else None
        )
        self._init_weights(generator)

    @property
    def min_frames(self) -> int:
        """Shortest chunk, in CQT frames, the model accepts."""
        return self.subsampling.min_length() * self.config.input_pool

    def _init_weights(self, generator: torch.Generator | None = None) -> None:
        """Xavier-uniform weights and zero biases for linear/conv layers; norms at identity.

        The BN-neck's shift is frozen at zero (bag-of-tricks BNNeck, as the authors do), so the
        classifier sees a centred feature.
        """
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Conv1d | nn.Conv2d):
                nn.init.xavier_uniform_(module.weight, generator=generator)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm1d | nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for name, parameter in self.named_parameters():
            if name.endswith(("pos_bias_u", "pos_bias_v")):
                nn.init.xavier_uniform_(parameter, generator=generator)
        self.neck.bias.requires_grad_(False)

    def num_parameters(self, trainable_only: bool = True) -> int:
        """Number of (trainable) parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def forward(self, cqt: torch.Tensor, lengths: torch.Tensor) -> CoverHunterOutput:
        """Embed a batch of zero-padded CQT chunks.

        Args:
            cqt: (B,T,n_bins) float.
            lengths: (B,) long, valid frames per chunk, each in [min_frames, T].

        Returns:
            CoverHunterOutput with embedding/neck (B,D) and logits (B,C) or None.
        """
        if cqt.ndim != 3 or cqt.shape[-1] != self.config.n_bins:
            raise ValueError(f"cqt shape {tuple(cqt.shape)}; expected (B,T,{self.config.n_bins})")
        if lengths.ndim != 1 or lengths.shape[0] != cqt.shape[0]:
            raise ValueError(f"lengths shape {tuple(lengths.shape)}; expected ({cqt.shape[0]},)")
        shortest, longest = int(lengths.min()), int(lengths.max())
        if shortest < self.min_frames:
            raise ValueError(
                f"chunk length {shortest} frames is shorter than the model's minimum "
                f"{self.min_frames} frames (subsampling x{self.config.subsampling}, "
                f"input_pool {self.config.input_pool})"
            )
        if longest > cqt.shape[1]:
            raise ValueError(f"length {longest} exceeds the padded length {cqt.shape[1]}")
        lengths = lengths.to(cqt.device)
        x = cqt if self.front_end is None else self.front_end(cqt, lengths)  # (B,T,F)
        x, lengths = pool_frames(x, lengths, self.config.input_pool)
        x = masked_batch_norm(self.input_norm, x, lengths_to_padding_mask(lengths, x.shape[1]))
        x = self.input_dropout(self.subsampling(x))  # (B,T',d)
        lengths = self.subsampling.output_length(lengths)
        x, lengths = self.encoder(x, lengths)
        pooled = self.pooling(x, lengths_to_padding_mask(lengths, x.shape[1]))  # (B,P)
        embedding = self.bottleneck(pooled).float()  # (B,D)
        neck = self.neck(embedding)
        logits = self.classifier(neck).float() if self.classifier is not None else None
        return CoverHunterOutput(embedding=embedding, neck=neck, logits=logits)

    def embed(self, cqt: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """L2-normalised retrieval embedding; (B,T,n_bins), (B,) -> (B,D).

        Uses ``config.retrieval_embedding`` ("pre_neck" by default). Call in eval mode (e.g.
        under ``torch.inference_mode()``) for deterministic output.
        """
        output = self.forward(cqt, lengths)
        vectors = output.embedding if self.config.retrieval_embedding == "pre_neck" else output.neck
        return F.normalize(vectors.float(), dim=-1)
