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
    return F.cross_entropy(logits, labels) + soft_dice_loss(logits.softmax(1), labels)
