"""Shared by the method tests: a few optimiser steps on one batch."""

import pytest
import torch


def _loss_curve(method, batch: dict, steps: int, lr: float) -> list[float]:
    """Losses of `steps` Adam steps of `method.loss` on `batch` (seeded per step, "step" passed)."""
    method.train()
    optimiser = torch.optim.Adam(method.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        torch.manual_seed(step)
        loss, _ = method.loss({**batch, "step": torch.tensor(step)})
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss))
    return losses


def _decreased(losses: list[float], window: int) -> bool:
    """The mean of the last `window` losses is below the mean of the first `window`."""
    return sum(losses[-window:]) / window < sum(losses[:window]) / window


@pytest.fixture()
def loss_curve():
    """`loss_curve(method, batch, steps, lr) -> losses`."""
    return _loss_curve


@pytest.fixture()
def decreased():
    """`decreased(losses, window) -> bool`."""
    return _decreased
