"""Which device to train and embed on, resolved once from a name."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Raises:
        ValueError: the name is unknown, or names a backend this machine lacks.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device={name!r} is not a device name") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} requested but CUDA is not available")
    if device.type == "mps" and not _mps_available():
        raise ValueError(f"device={name!r} requested but MPS is not available")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={name!r}; expected auto, cpu, cuda[:N] or mps")
    return device
