"""The Lightning module: a Method's loss, validation Dice and the optimiser. It does not branch on
the method's type: everything method-specific lives in `Method.loss` and `Method.logits`."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch

from seguq.engine.sampling import sample_image
from seguq.methods.base import Method


def hard_dice(pred: torch.Tensor, label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean Dice over the foreground classes of one image (empty vs empty counts as 1).

    Args:
        pred: (H, W) int64 predicted classes.
        label: (H, W) int64 true classes.
    """
    scores = []
    for k in range(1, num_classes):
        p, t = pred == k, label == k
        denominator = p.sum() + t.sum()
        scores.append(torch.ones(()) if denominator == 0 else 2 * (p & t).sum() / denominator)
    return torch.stack(scores).float().mean()


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
    ):
        super().__init__()
        self.method = method
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.patch_size = list(patch_size)
        self._val_scores: list[torch.Tensor] = []

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
            self._val_scores.append(hard_dice(pred.cpu(), label.cpu(), self.method.num_classes))

    def on_validation_epoch_end(self) -> None:
        if self._val_scores:
            score = torch.stack(self._val_scores).mean().to(self.device)
            self.log("val_dice", score, prog_bar=True, sync_dist=True)
        self._val_scores = []

    def configure_optimizers(self):
        optimiser = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, self.epochs))
        return {"optimizer": optimiser, "lr_scheduler": schedule}


def _deterministic_sampler(method: Method):
    """`Method.logits` as a sampler (S = 1), for validation."""

    def sample(x: torch.Tensor, n: int | None = None) -> torch.Tensor:
        return torch.softmax(method.logits(x).float() / method.temperature, dim=1).unsqueeze(0)

    return sample
