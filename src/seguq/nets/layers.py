"""Layers picked by spatial dimensions (2 or 3), so that every net is written once.

Tensors are (B, C, *spatial) with 2 or 3 spatial axes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seguq.config_checks import NORMS
from seguq.errors import SeguqError

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_CONV_T = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_INSTANCE = {2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}
_BATCH = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_DROPOUT = {2: nn.Dropout2d, 3: nn.Dropout3d}
_CONV_FN = {2: F.conv2d, 3: F.conv3d}
_MAX_POOL = {2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {2: F.avg_pool2d, 3: F.avg_pool3d}
LINEAR = {2: "bilinear", 3: "trilinear"}


def _check(dims: int) -> int:
    if dims not in (2, 3):
        raise SeguqError(f"spatial dimensions must be 2 or 3, got {dims}")
    return dims


def conv(dims: int, *args, **kwargs) -> nn.Module:
    """nn.Conv2d or nn.Conv3d."""
    return _CONV[_check(dims)](*args, **kwargs)


def conv_transpose(dims: int, *args, **kwargs) -> nn.Module:
    """nn.ConvTranspose2d or nn.ConvTranspose3d."""
    return _CONV_T[_check(dims)](*args, **kwargs)


def conv_fn(dims: int):
    """F.conv2d or F.conv3d (for convolutions computed in parts)."""
    return _CONV_FN[_check(dims)]


def norm_layer(kind: str, channels: int, dims: int = 2) -> nn.Module:
    """A normalisation layer by name.

    Raises:
        SeguqError: unknown normalisation name.
    """
    if kind == "instance":
        return _INSTANCE[_check(dims)](channels, affine=True)
    if kind == "batch":
        return _BATCH[_check(dims)](channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    if kind == "none":
        return nn.Identity()
    raise SeguqError(f"net.norm: unknown normalisation '{kind}' (known: {', '.join(NORMS)})")


def dropout(rate: float, dims: int = 2) -> nn.Module:
    """Channel dropout for 2D or 3D feature maps."""
    return _DROPOUT[_check(dims)](rate)


def max_pool(x: torch.Tensor, kernel: int = 2) -> torch.Tensor:
    """Max pooling over every spatial axis of (B, C, *spatial)."""
    return _MAX_POOL[x.ndim - 2](x, kernel)


def avg_pool(x: torch.Tensor, kernel: int = 2) -> torch.Tensor:
    """Average pooling over every spatial axis of (B, C, *spatial)."""
    return _AVG_POOL[x.ndim - 2](x, kernel)


def upsample(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """(Bi/tri)linear upsampling of (B, C, *spatial) by `factor` on every spatial axis."""
    return F.interpolate(x, scale_factor=factor, mode=LINEAR[x.ndim - 2], align_corners=False)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Pad the spatial axes of (B, C, *spatial) at their ends to multiples of `multiple`
    (replicating the border); also returns the original spatial size."""
    size = tuple(x.shape[2:])
    pads: list[int] = []
    for extent in reversed(size):  # F.pad lists the last axis first
        pads += [0, (-extent) % multiple]
    # Padded even by zero: no branch on the size, so an exported graph keeps sizes symbolic.
    return F.pad(x, pads, mode="replicate" if min(size) > 1 else "constant"), size


def crop_to(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """x[..., :size[0], :size[1](, :size[2])]: undo `pad_to_multiple` on the trailing axes."""
    return x[(Ellipsis, *(slice(0, s) for s in size))]


def pad_labels(labels: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Zero-pad (N, *spatial) labels at the ends to `size` (as `pad_to_multiple` pads images)."""
    pads: list[int] = []
    for have, want in reversed(list(zip(labels.shape[1:], size, strict=True))):
        pads += [0, int(want) - int(have)]
    return F.pad(labels, pads) if any(pads) else labels


def repeat_batch(x: torch.Tensor, copies: int) -> torch.Tensor:
    """(B, ...) -> (copies * B, ...), copy-major (copy c of item b at c * B + b)."""
    return x.repeat(copies, *[1] * (x.ndim - 1))
