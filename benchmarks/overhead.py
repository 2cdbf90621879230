"""Framework overhead: seguq's training step (Lightning, the Method contract, logging, the
resume checkpoints) against a plain PyTorch loop over the same network, batches and precision,
timed in one run.

    python benchmarks/overhead.py                      # 2D, 256 x 256 patches, batch 2
    python benchmarks/overhead.py --patch 56 40 --batch 58 --steps 60
    python benchmarks/overhead.py --patch 48 48 48 --batch 2 --widths 16,32,64,128

Both loops read the same DataLoader of seguq's PatchDataset (random items, the augmentation the
plan would use), so the ratio is what the framework adds; a second plain loop on pre-made
tensors shows what the data pipeline itself costs. The first `--warmup` steps are not timed.
The target is a ratio <= 1.15.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from seguq.config import RunConfig
from seguq.data.items import ItemSet
from seguq.data.patches import PatchDataset
from seguq.devices import autocast, resolve_precision, set_threads
from seguq.engine.task import SegmentationTask
from seguq.machine_info import describe_machine as machine_info
from seguq.methods import build_method


class _StepTimer(Callback):
    def __init__(self, warmup: int):
        self.warmup, self.start, self.end, self.count = warmup, 0.0, 0.0, 0

    def on_train_batch_start(self, trainer, task, batch, index) -> None:
        if index == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, task, outputs, batch, index) -> None:
        self.end, self.count = time.perf_counter(), index + 1 - self.warmup


def _config(args) -> RunConfig:
    config = RunConfig()
    config.data.dims = len(args.patch)
    config.data.patch_size = list(args.patch)
    config.data.batch_size = args.batch
    config.data.rotation, config.data.scaling = 15.0, [0.7, 1.4]
    config.data.intensity_augment = "standard"
    config.net.widths = [int(w) for w in args.widths.split(",")]
    config.train.precision = args.precision
    return config


def _loader(config: RunConfig, steps: int) -> DataLoader:
    rng = np.random.default_rng(0)
    shape = [int(p * 1.5) for p in config.data.patch_size]
    labels = rng.integers(0, 2, (1, *shape))
    items = ItemSet([rng.normal(size=(1, *shape)).astype(np.float32)], [labels], ["a"], [""])
    patches = PatchDataset.for_run(items, config.data, length=steps * config.data.batch_size)
    return DataLoader(patches, batch_size=config.data.batch_size, shuffle=False)


def plain_loop(config: RunConfig, loader, warmup: int, precision: str, premade: bool) -> float:
    torch.manual_seed(0)
    method = build_method(config, 1, 2).train()
    optimiser = torch.optim.AdamW(method.parameters(), lr=1e-3, weight_decay=1e-4)
    device = torch.device("cpu")
    batches = iter(loader)
    fixed = next(iter(loader)) if premade else None
    start, count = 0.0, 0
    for step in range(len(loader)):
        batch = fixed if premade else next(batches)
        if step == warmup:
            start = time.perf_counter()
        with autocast(device, precision):
            loss, _ = method.loss({**batch, "step": torch.tensor(step)})
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        count = step + 1 - warmup
    return (time.perf_counter() - start) / count


def seguq_loop(config: RunConfig, loader, warmup: int, precision: str, folder: Path) -> float:
    from seguq.engine.metrics_log import MetricsLog
    from seguq.engine.resume import ResumeCheckpoint

    torch.manual_seed(0)
    method = build_method(config, 1, 2)
    task = SegmentationTask(
        method, lr=1e-3, weight_decay=1e-4, epochs=1, patch_size=config.data.patch_size
    )
    timer = _StepTimer(warmup)
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        precision=precision,
        logger=MetricsLog(folder / "logs"),
        callbacks=[timer, ResumeCheckpoint(folder / "resume.ckpt")],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        log_every_n_steps=1,
    )
    trainer.fit(task, loader)
    return (timer.end - timer.start) / timer.count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patch", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--widths", default="16,32,64,128,256,256,256")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each loop")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    threads = set_threads(args.threads or None)
    config = _config(args)
    precision = resolve_precision(args.precision, torch.device("cpu"))
    import tempfile

    rows = {"plain": [], "seguq": [], "plain_premade": []}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            loader = _loader(config, args.steps)
            rows["plain"].append(plain_loop(config, loader, args.warmup, precision, premade=False))
            rows["seguq"].append(
                seguq_loop(config, loader, args.warmup, precision, Path(tmp) / str(repeat))
            )
            rows["plain_premade"].append(
                plain_loop(config, loader, args.warmup, precision, premade=True)
            )
    best = {k: min(v) for k, v in rows.items()}
    ratio = best["seguq"] / best["plain"]
    ms = {k: v * 1e3 for k, v in best.items()}
    print(f"patch {args.patch} batch {args.batch} widths {args.widths}")
    print(f"precision {precision}, threads {threads}")
    print(f"plain loop (same loader)   {ms['plain']:8.1f} ms/step")
    print(f"seguq (Lightning + task)   {ms['seguq']:8.1f} ms/step  ratio {ratio:.3f} (<= 1.15)")
    print(f"plain loop, premade batch  {ms['plain_premade']:8.1f} ms/step (no data pipeline)")
    if args.json:
        record = {
            "machine": machine_info(),
            "args": vars(args) | {"json": str(args.json)},
            "ms": rows,
            "ratio": ratio,
        }
        args.json.write_text(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()
