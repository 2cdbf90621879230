"""The plan's decisions: pure functions of the fingerprint and the machine, each returning its
value and the reason a user reads (`seguq plan`). nnU-Net's lessons in small pieces: patch from
the median case, depth from the patch, normalisation from the modality, foreground oversampling,
augmentation that respects a canonical orientation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seguq.plan.fingerprint import Fingerprint

# A volume whose largest spacing is this many times its smallest is treated slice by slice.
ANISOTROPY = 3.0
# A class whose centre lies on one side of an axis in this share of cases fixes the orientation.
CANONICAL = 0.9
# Structures kept at least this thick (voxels, fingerprint's measure) when images shrink.
MIN_THICKNESS = 4.0
FOREGROUND_FRACTION = 0.33


@dataclass(frozen=True)
class Machine:
    """What the plan sizes the network and the budget for.

    Attributes:
        device: "cpu" or "cuda".
        threads: CPU threads.
        budget_minutes: the training time the budget aims at.
    """

    device: str = "cpu"
    threads: int = 1
    budget_minutes: float = 25.0

    @property
    def gpu(self) -> bool:
        return self.device == "cuda"

    def max_patch_voxels(self, dims: int) -> int:
        if dims == 2:
            return 1024**2 if self.gpu else 256**2
        return 160**3 if self.gpu else 64**3

    def voxels_per_step(self, dims: int) -> int:
        if dims == 2:
            return 2**21 if self.gpu else 2**17
        return 2**22 if self.gpu else 2**18

    @property
    def base_width(self) -> int:
        return 32 if self.gpu else 16

    def max_width(self, dims: int) -> int:
        return (512 if dims == 2 else 320) if self.gpu else 256


Decision = tuple[object, str]


def choose_dims(fp: Fingerprint, machine: Machine) -> Decision:
    """2D for images and anisotropic volumes; 3D for isotropic volumes on a GPU, and on a CPU
    when one 3D patch holds the median case (MSD hippocampus on 2 CPU cores: 3D test Dice 0.882
    in 14 minutes, 2D slices 0.870 in 22; docs/TARGETS.md). Larger volumes go slice by slice on
    a CPU, where a 3D patch would see a small part of the case."""
    if fp.dims == 2:
        return 2, "2D images"
    spacing = fp.median_spacing
    ratio = max(spacing) / max(min(spacing), 1e-6)
    if ratio >= ANISOTROPY:
        return 2, f"anisotropic volumes (spacing ratio {ratio:.1f}): a 2D network on slices"
    if machine.gpu:
        return 3, "isotropic volumes and a GPU: a 3D network"
    if math.prod(fp.median_shape) <= machine.max_patch_voxels(3):
        return 3, "isotropic volumes whose median case fits one 3D patch here: a 3D network"
    return 2, "large volumes on a CPU: 2D slices see whole planes (--dims 3 for a 3D network)"


def choose_slice_axis(fp: Fingerprint) -> Decision:
    """Slices across the axis with the largest spacing; for isotropic data the shortest axis,
    so that each slice shows the most."""
    spacing, shape = fp.median_spacing, fp.median_shape
    largest = max(spacing)
    candidates = [a for a in range(3) if spacing[a] >= largest * 0.95]
    axis = min(candidates, key=lambda a: shape[a])
    why = "the thick axis" if len(candidates) == 1 else "the shortest axis (isotropic spacing)"
    return axis, f"slices along axis {axis}: {why}"


def choose_target_spacing(fp: Fingerprint, dims: int, machine: Machine) -> Decision:
    """Volumes: the median spacing when cases differ; 2D images: shrink large images on a CPU
    while the thinnest structure stays MIN_THICKNESS voxels thick."""
    spacings = np.array(fp.spacings)
    median = np.median(spacings, axis=0)
    if fp.dims == 3:
        spread = np.abs(spacings / median - 1).max()
        if spread <= 0.05:
            return [], "every case already has the median spacing: no resampling"
        target = [float(round(v, 4)) for v in median]
        return (
            target,
            f"cases differ in spacing by up to {spread:.0%}: resampled to the median {target}",
        )
    thinnest = min([t for t in fp.thickness[1:] if t > 0] or [math.inf])
    long_side = max(fp.median_shape)
    limit = math.sqrt(machine.max_patch_voxels(2))
    factor = min(long_side / limit, thinnest / MIN_THICKNESS)
    if factor < 1.5:
        return [], "images at their own resolution (thin structures, or already small)"
    factor = float(round(factor * 2) / 2)  # steps of 0.5
    target = [float(s * factor) for s in median]
    return target, (
        f"images shrunk {factor:g}x (median {long_side:.0f} px; the thinnest class stays "
        f"{thinnest / factor:.0f} px thick); outputs restored to the input's grid"
    )


def network_shape(
    fp: Fingerprint, dims: int, slice_axis: int, target_spacing: list[float]
) -> list[float]:
    """The median shape the network sees (after resampling, and as slices for dims 2)."""
    shape = np.array(fp.median_shape, dtype=float)
    if target_spacing:
        shape = shape * np.array(fp.median_spacing) / np.array(target_spacing)
    if fp.dims == 3 and dims == 2:
        shape = np.delete(shape, slice_axis)
    return [float(v) for v in shape]


def choose_patch_and_depth(
    shape: list[float], dims: int, machine: Machine
) -> tuple[Decision, Decision]:
    """Patch covering the median case where the machine allows (never mostly padding), and the
    number of poolings that leaves a bottleneck of at least 4 voxels."""
    target = [max(8.0, s) for s in shape]
    cap = machine.max_patch_voxels(dims)
    capped = False
    while math.prod(target) > cap:
        longest = int(np.argmax(target))
        target[longest] *= 0.9
        capped = True
    pools = max(1, min(6 if dims == 2 else 5, int(math.floor(math.log2(min(target) / 4)))))
    multiple = 2**pools
    # Rounded up to the pooling multiple (covering the median case) unless capped.
    rounding = math.floor if capped else math.ceil
    patch = [int(max(multiple, rounding(t / multiple) * multiple)) for t in target]
    why = "the largest the machine allows" if capped else "covers the median case"
    median = " x ".join(f"{s:.0f}" for s in shape)
    return (
        (patch, f"{why} (median {median} on the network's grid)"),
        (pools, f"{pools} poolings: the bottleneck keeps >= 4 voxels on the patch's shortest side"),
    )


def choose_widths(pools: int, dims: int, machine: Machine) -> Decision:
    widths = [min(machine.base_width * 2**i, machine.max_width(dims)) for i in range(pools + 1)]
    device = "GPU" if machine.gpu else "CPU"
    return widths, f"{pools} poolings, {machine.base_width} features doubled per level ({device})"


def choose_batch(patch: list[int], dims: int, fp: Fingerprint, machine: Machine) -> Decision:
    """Patches per step from the machine's voxels per step, 2 to 64."""
    per_step = machine.voxels_per_step(dims)
    batch = int(max(2, min(64, per_step // math.prod(patch))))
    return batch, f"about {per_step:,} voxels per step on this machine"


def choose_normalization(fp: Fingerprint) -> tuple[Decision, Decision]:
    """CT: clip to the foreground's [0.5, 99.5] percentiles, z-score with its mean and std;
    everything else (MRI, photographs, X-ray): z-score per image."""
    if fp.modalities and fp.modalities[0].upper() == "CT":
        stats = fp.intensity[0]
        values = [stats["p00_5"], stats["p99_5"], stats["mean"], max(stats["std"], 1e-6)]
        return (
            "ct",
            "CT: intensities clipped to the foreground's 0.5-99.5 percentiles, "
            "z-scored with its mean and std",
        ), (values, "CT statistics of the foreground")
    kind = fp.modalities[0] if fp.modalities and fp.modalities[0] else "not CT"
    return ("zscore", f"{kind}: z-score per image and channel"), ([], "")


def choose_flips_and_rotation(
    fp: Fingerprint, dims: int, slice_axis: int
) -> tuple[Decision, Decision]:
    """No flip along an axis where a common class always lies on one side (a canonical
    orientation: lungs at the top, anterior before posterior); rotations small then."""
    axes = list(range(fp.dims))
    if fp.dims == 3 and dims == 2:
        axes.remove(slice_axis)
    fixed = []
    for k in range(1, len(fp.low_side)):
        if fp.class_presence[k] < 0.5:
            continue
        for data_axis in axes:
            share = fp.low_side[k][data_axis]
            if (share >= CANONICAL or share <= 1 - CANONICAL) and data_axis not in fixed:
                fixed.append(data_axis)
    flips = [axes.index(a) for a in axes if a not in fixed]
    if fixed:
        rotation = 15.0
        why = f"no flips along data axes {sorted(fixed)}: classes lie on one side of them"
        turn = "rotations up to 15 degrees: the images have a canonical orientation"
    else:
        rotation = 180.0 if dims == 2 else 30.0
        why = "flips along every axis"
        turn = f"rotations up to {rotation:g} degrees (no canonical orientation)"
    return (flips, why), (rotation, turn)


def choose_budget(seconds_per_step: float, machine: Machine) -> tuple[Decision, Decision, Decision]:
    """Epochs of a fixed number of steps filling the machine's time budget, with early stopping
    once validation Dice stops improving."""
    steps_per_epoch = 250 if machine.gpu else 100
    total = machine.budget_minutes * 60 / max(seconds_per_step, 1e-4) * 0.85  # validation time
    epochs = int(max(5, min(1000, total // steps_per_epoch)))
    patience = int(max(10, epochs // 5))
    why = (
        f"about {machine.budget_minutes:g} minutes of training at "
        f"{seconds_per_step * 1e3:.0f} ms per step measured here"
    )
    return (
        (epochs, why),
        (steps_per_epoch, "steps per epoch, validation after each"),
        (patience, "early stopping: epochs without a better validation Dice"),
    )
