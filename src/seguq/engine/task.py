"""The Lightning module: a Method's loss, validation Dice and the optimiser. It does not branch on
the method's type: everything method-specific lives in `Method.loss` and `Method.logits`."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch

from seguq.engine.sampling import sample_image
from seguq.methods.base import Method


def class_counts(pred: torch.Tensor, label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """True positives, false positives and false negatives per foreground class.

    Args:
        pred: (*spatial) int64 predicted classes (2D or 3D).
        label: (*spatial) int64 true classes.

    Returns:
        (K - 1, 3) int64: [tp, fp, fn] for classes 1..K-1.
    """
    rows = []
    for k in range(1, num_classes):
        p, t = pred == k, label == k
        rows.append(torch.stack([(p & t).sum(), (p & ~t).sum(), (~p & t).sum()]))
    return torch.stack(rows)


def pooled_dice(counts: torch.Tensor) -> torch.Tensor:
    """Dice per class from (K - 1, 3) counts pooled over the validation set (a class absent
    from both predictions and labels scores 1). Pooling, as nnU-Net's pseudo-Dice, keeps the
    many empty slices of a volume from counting as perfect images."""
    tp, fp, fn = counts.double().unbind(1)
    denominator = 2 * tp + fp + fn
    return torch.where(denominator > 0, 2 * tp / denominator.clamp_min(1), torch.ones_like(tp))


class SegmentationTask(L.LightningModule):
    """Trains any Method; logs its loss terms and the validation Dice."""

    def __init__(
        self,
        method: Method,
        *,
        lr: float,
        weight_decay: float,
        epochs: int,
        patch_size: Sequence[int],
        class_names: Sequence[str] | None = None,
    ):
        super().__init__()
        self.method = method
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.patch_size = list(patch_size)
        self.class_names = list(class_names or [])
        self._val_counts: torch.Tensor | None = None

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        # The global step lets a method schedule its loss (e.g. a KL warm-up) without state.
        loss, logs = self.method.loss({**batch, "step": torch.tensor(self.global_step)})
        self.log_dict(
            {f"train_{k}": v for k, v in logs.items()},
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=batch["image"].shape[0],
            sync_dist=True,
        )
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        # The method's single best guess, through the same sliding window as prediction.
        probs = sample_image(
            _deterministic_sampler(self.method),
            batch["image"],
            1,
            self.patch_size,
            device=self.device,  # Lightning's autocast already covers this step
        )[0]
        for pred, label in zip(probs.argmax(1), batch["label"], strict=True):
            counts = class_counts(pred.cpu(), label.cpu(), self.method.num_classes)
            self._val_counts = counts if self._val_counts is None else self._val_counts + counts

    def on_validation_epoch_end(self) -> None:
        if self._val_counts is None:
            return
        counts = self._val_counts.to(self.device)
        if self.trainer.world_size > 1:
            counts = self.all_gather(counts).sum(0)
        dice = pooled_dice(counts).float()
        self.log("val_dice", dice.mean(), prog_bar=True)
        names = self.class_names[1:] or [f"class{k}" for k in range(1, len(dice) + 1)]
        for name, value in zip(names, dice, strict=False):
            self.log(f"val_dice_{name}", value, prog_bar=len(dice) > 1)
        self._val_counts = None

    def configure_optimizers(self):
        optimiser = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, self.epochs))
        return {"optimizer": optimiser, "lr_scheduler": schedule}


def _deterministic_sampler(method: Method):
    """`Method.logits` as a sampler (S = 1), for validation."""

    def sample(x: torch.Tensor, n: int | None = None) -> torch.Tensor:
        return torch.softmax(method.logits(x).float() / method.temperature, dim=1).unsqueeze(0)

    return sample
