"""Per-case predicted segmentation quality from S samples of probabilities, for sorting cases and
detecting failures without ground truth.

With S >= 2 samples (MC dropout, ensembles, TTA, latent methods) the predicted Dice is the mean
pairwise Dice between the samples' masks: where the samples disagree, the mask is unreliable
(the strongest case-level score in a failure-detection benchmark of medical segmentation,
Zenk et al. 2024). With S = 1 it is the expected Dice of the mean probabilities against their own
mask, sum_k 2 <p_k, m_k> / (<p_k, 1> + <m_k, 1>) over the classes the mask shows: confident
masks score high.
"""

from __future__ import annotations

import itertools

import torch

# Pairs of samples compared at most (the first samples; 8 give 28 pairs).
MAX_SAMPLES = 8


def _dice(a: torch.Tensor, b: torch.Tensor, classes: int) -> torch.Tensor:
    """Mean Dice over the foreground classes present in either mask (1 when none is)."""
    scores = []
    for k in range(1, classes):
        x, y = a == k, b == k
        total = x.sum() + y.sum()
        if total > 0:
            scores.append(2 * (x & y).sum().float() / total)
    return torch.stack(scores).mean() if scores else torch.ones(())


def predicted_dice(probs: torch.Tensor) -> float:
    """Predicted Dice of one case.

    Args:
        probs: (S, K, *spatial) probabilities of S samples.

    Returns:
        A value in [0, 1]; higher means the mask is more likely right.
    """
    classes = probs.shape[1]
    if probs.shape[0] >= 2:
        masks = probs[:MAX_SAMPLES].argmax(1)
        pairs = itertools.combinations(range(masks.shape[0]), 2)
        values = [_dice(masks[i], masks[j], classes) for i, j in pairs]
        return float(torch.stack(values).mean())
    mean = probs[0].double()
    mask = torch.nn.functional.one_hot(mean.argmax(0), classes).movedim(-1, 0).double()
    scores = []
    for k in range(1, classes):  # the classes the mask shows (an empty mask: nothing to doubt)
        if mask[k].sum() > 0:
            scores.append(2 * (mean[k] * mask[k]).sum() / (mean[k].sum() + mask[k].sum()))
    return float(torch.stack(scores).mean()) if scores else 1.0
