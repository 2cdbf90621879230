"""Segmentation losses shared by the methods."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_dice_loss(probs: torch.Tensor, labels: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """1 - mean soft Dice over the foreground classes, pooled over the batch.

    Args:
        probs: (B, K, H, W) class probabilities.
        labels: (B, H, W) int64 class indices.

    Returns:
        A scalar tensor.
    """
    num_classes = probs.shape[1]
    onehot = F.one_hot(labels, num_classes).movedim(-1, 1).to(probs.dtype)
    dims = (0, *range(2, probs.ndim))
    intersection = (probs * onehot).sum(dims)
    denominator = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * intersection + eps) / (denominator + eps)
    return 1 - dice[1:].mean() if num_classes > 1 else 1 - dice.mean()


def ce_dice_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus soft Dice: the default segmentation loss.

    Args:
        logits: (B, K, H, W).
        labels: (B, H, W) int64.
    """
    logits = logits.float()  # losses in 32-bit under mixed precision
    return F.cross_entropy(logits, labels) + soft_dice_loss(logits.softmax(1), labels)


def warmed_up_beta(beta: float, step: float, warmup_steps: int) -> float:
    """beta, scaled linearly from 0 at step 0 to full at `warmup_steps` (0 = no warm-up)."""
    return beta if warmup_steps <= 0 else beta * min(1.0, step / warmup_steps)


def kl_regularised_loss(
    segmentation: torch.Tensor,
    kl: torch.Tensor,
    batch: dict[str, torch.Tensor],
    *,
    beta: float,
    warmup_steps: int,
    kl_scale: float = 1.0,
    kl_levels: dict[int, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """segmentation + warmed-up beta * kl * kl_scale, and the scalars latent methods log.

    Args:
        segmentation: scalar segmentation loss.
        kl: scalar KL (summed over levels for hierarchical methods).
        batch: the training batch; its "step" drives the warm-up (absent: full beta).
        beta: the KL weight after warm-up.
        warmup_steps: length of the linear warm-up (0 = none).
        kl_scale: factor applied to the KL in the loss (e.g. 1 / pixels), not in the log.
        kl_levels: per-level KLs to log as `kl_level<i>`.
    """
    step = float(batch.get("step", torch.tensor(warmup_steps)))
    weight = warmed_up_beta(beta, step, warmup_steps)
    loss = segmentation + weight * kl * kl_scale
    logs = {
        "loss": float(loss.detach()),
        "seg": float(segmentation.detach()),
        "kl": float(kl.detach()),
        "beta": weight,
    }
    logs.update({f"kl_level{i}": float(v.detach()) for i, v in (kl_levels or {}).items()})
    return loss, logs
