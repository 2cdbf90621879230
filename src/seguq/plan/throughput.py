"""Seconds per training step of a planned run on this machine: a few real steps (patch
extraction and augmentation included) on random data of the planned shape, so that the plan can
size its budget in time. The measured value is saved in the plan; the budget it gives is saved
as plain epochs in the config, so that a run stays reproducible from its config."""

from __future__ import annotations

import copy
import time

import numpy as np
import torch

from seguq.config import RunConfig
from seguq.data.items import ItemSet
from seguq.data.patches import PatchDataset
from seguq.devices import accelerator_device, autocast, resolve_precision, set_threads

TIMED_STEPS = 3


def seconds_per_step(
    config: RunConfig, item_shape: list[int], in_channels: int, classes: int
) -> float:
    """Median seconds of a training step (data + forward + backward + update).

    Args:
        config: the planned run (method, net, data settings).
        item_shape: the spatial shape of a typical training item.
        in_channels: image channels.
        classes: K.
    """
    from seguq.methods import build_method  # the planner sits above the methods

    config = copy.deepcopy(config)
    data, opt = config.data, config.train
    device = accelerator_device(opt.accelerator)
    precision = resolve_precision(opt.precision, device)
    set_threads(opt.threads or None)
    rng = np.random.default_rng(0)
    shape = [max(8, int(s)) for s in item_shape]
    labels = rng.integers(0, classes, (1, *shape))
    items = ItemSet(
        [rng.normal(size=(in_channels, *shape)).astype(np.float32)], [labels], ["a"], [""]
    )
    patches = PatchDataset.for_run(items, data, length=data.batch_size)
    config.method.name = _member_method(config)
    torch.manual_seed(0)
    method = build_method(config, in_channels, classes).to(device).train()
    optimiser = torch.optim.AdamW(method.parameters(), lr=1e-4)
    times = []
    for step in range(TIMED_STEPS + 1):
        start = time.perf_counter()
        batch = [patches[i] for i in range(data.batch_size)]
        stacked = {k: torch.stack([b[k] for b in batch]).to(device) for k in batch[0]}
        with autocast(device, precision):
            loss, _ = method.loss({**stacked, "step": torch.tensor(step)})
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def _member_method(config: RunConfig) -> str:
    """An ensemble's members train one at a time: time one member."""
    return "deterministic" if config.method.name == "ensemble" else config.method.name
