"""From a data source and the machine to a run config: every value the plan decides, with its
reason, unless the user gave it (an option or `--config`); the user's values always win."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seguq.config import RunConfig, merge_nested
from seguq.data.io import atomic_write
from seguq.data.sources import Source, load_source
from seguq.devices import accelerator_device, default_threads
from seguq.engine.splits import split_cases
from seguq.plan import decisions as rules
from seguq.plan.fingerprint import Fingerprint, dataset_fingerprint
from seguq.plan.throughput import seconds_per_step


@dataclass
class Plan:
    """What the planner decided and why.

    Attributes:
        decisions: (key, value, reason, given) in the order they were taken; `given` marks a
            value the user set (the plan keeps it).
        fingerprint: the data's fingerprint.
        machine: what the budget was sized for.
        seconds_per_step: the measured training step (0 when not measured).
    """

    decisions: list[tuple[str, Any, str, bool]] = field(default_factory=list)
    fingerprint: Fingerprint | None = None
    machine: rules.Machine = field(default_factory=rules.Machine)
    seconds_per_step: float = 0.0

    def values(self) -> dict[str, dict[str, Any]]:
        """The decided (not given) values as nested config sections."""
        nested: dict[str, dict[str, Any]] = {}
        for key, value, _, given in self.decisions:
            if not given:
                section, name = key.split(".")
                nested.setdefault(section, {})[name] = value
        return nested

    def lines(self) -> list[str]:
        """One line per decision, for the command line."""
        out = []
        for key, value, reason, given in self.decisions:
            out.append(f"{key} = {value!r}: {'given' if given else reason}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "decisions": [
                {"key": k, "value": v, "reason": r, "given": g} for k, v, r, g in self.decisions
            ],
            "machine": self.machine.__dict__,
            "seconds_per_step": self.seconds_per_step,
        }

    def save(self, run_dir: Path) -> None:
        """plan.json and fingerprint.json in the run folder."""
        atomic_write(
            (Path(run_dir) / "plan.json"),
            lambda tmp: tmp.write_text(json.dumps(self.to_dict(), indent=2)),
        )
        if self.fingerprint is not None:
            text = json.dumps(self.fingerprint.to_dict())
            atomic_write((Path(run_dir) / "fingerprint.json"), lambda tmp: tmp.write_text(text))


class _Decider:
    """Collects decisions, keeping what the user gave."""

    def __init__(self, user: dict[str, Any], plan: Plan):
        self.user, self.plan = user, plan

    def given(self, key: str) -> Any:
        section, name = key.split(".")
        return (self.user.get(section) or {}).get(name)

    def take(self, key: str, decision: rules.Decision) -> Any:
        value, reason = decision
        mine = self.given(key)
        if mine is not None:
            self.plan.decisions.append((key, mine, reason, True))
            return mine
        self.plan.decisions.append((key, value, reason, False))
        return value


def plan_run(
    user: dict[str, Any],
    *,
    source: Source | None = None,
    machine: rules.Machine | None = None,
    measure: bool = True,
) -> tuple[RunConfig, Plan]:
    """The run config for `user`'s data and choices, the rest planned.

    Args:
        user: nested config values the user set (an option or the YAML); `data.source` names
            the data.
        source: the loaded source (default: loaded from `data.source`).
        machine: the machine to size for (default: this one, 25 minutes of training).
        measure: time training steps to size the budget (off, or `train.epochs` given: no
            timing; a fixed 100 epochs unless given).

    Returns:
        (the resolved config, the plan).

    Raises:
        SeguqError: bad data or config values.
    """
    user = copy.deepcopy(user)
    base = user_config(user)
    if source is None:
        source = load_source(
            base.data.source, label_map=base.data.label_map, class_names=base.data.class_names
        )
    machine = machine or _this_machine(base)
    train_cases, _ = split_cases(source, base)
    fingerprint = dataset_fingerprint(source, train_cases)
    plan = Plan(fingerprint=fingerprint, machine=machine)
    decide = _Decider(user, plan)
    dims = decide.take("data.dims", rules.choose_dims(fingerprint, machine))
    slice_axis = base.data.slice_axis
    if fingerprint.dims == 3 and dims == 2:
        slice_axis = decide.take("data.slice_axis", rules.choose_slice_axis(fingerprint))
    spacing = decide.take(
        "data.target_spacing", rules.choose_target_spacing(fingerprint, dims, machine)
    )
    shape = rules.network_shape(fingerprint, dims, slice_axis, list(spacing))
    patch_decision, pools_decision = rules.choose_patch_and_depth(shape, dims, machine)
    patch = decide.take("data.patch_size", patch_decision)
    widths_given = decide.given("net.widths")
    pools = len(widths_given) - 1 if widths_given else pools_decision[0]
    decide.take("net.widths", rules.choose_widths(pools, dims, machine))
    decide.take("data.batch_size", rules.choose_batch(list(patch), dims, fingerprint, machine))
    normalization, stats = rules.choose_normalization(fingerprint)
    if decide.take("data.normalization", normalization) == "ct":
        decide.take("data.ct_stats", stats)
    decide.take(
        "data.foreground_fraction",
        (rules.FOREGROUND_FRACTION, "a third of the patches centred on a foreground voxel"),
    )
    flips, rotation = rules.choose_flips_and_rotation(fingerprint, dims, slice_axis)
    decide.take("data.flip_axes", flips)
    decide.take("data.rotation", rotation)
    decide.take("data.scaling", ([0.7, 1.4], "zoom between 0.7 and 1.4 (nnU-Net's range)"))
    decide.take(
        "data.intensity_augment",
        ("standard", "brightness, contrast, gamma, noise and blur (nnU-Net's set)"),
    )
    planned = RunConfig.from_dict(merge_nested(plan.values(), user))
    if measure and decide.given("train.epochs") is None:  # a given budget needs no timing
        item = _item_shape(shape, planned.data.patch_size)
        plan.seconds_per_step = seconds_per_step(
            planned, item, fingerprint.channels, max(source.num_classes, 2)
        )
        epochs, steps, patience = rules.choose_budget(plan.seconds_per_step, machine)
    else:
        epochs = (100, "budget not measured")
        steps = (100, "steps per epoch, validation after each")
        patience = (20, "early stopping: epochs without a better validation Dice")
    decide.take("train.epochs", epochs)
    decide.take("train.steps_per_epoch", steps)
    decide.take("train.patience", patience)
    return RunConfig.from_dict(merge_nested(plan.values(), user)), plan


def user_config(user: dict[str, Any]) -> RunConfig:
    """The user's values as a config (for the data selection and the machine); a placeholder
    patch of the right length where the user set the dimensions but not the patch."""
    data = dict(user.get("data") or {})
    if "dims" in data and "patch_size" not in data:
        data["patch_size"] = [64] * int(data["dims"])
    return RunConfig.from_dict({**user, "data": data})


def _this_machine(config: RunConfig) -> rules.Machine:
    device = accelerator_device(config.train.accelerator)
    threads = config.train.threads or default_threads()
    return rules.Machine(device=device.type, threads=threads)


def machine_for(user: dict[str, Any], minutes: float) -> rules.Machine:
    """This machine as the user's accelerator and threads leave it, with a training budget of
    `minutes`."""
    machine = _this_machine(user_config(user))
    return rules.Machine(device=machine.device, threads=machine.threads, budget_minutes=minutes)


def _item_shape(shape: list[float], patch: list[int]) -> list[int]:
    """A typical training item: the median shape, at least the patch."""
    return [max(int(round(s)), int(p)) for s, p in zip(shape, patch, strict=True)]
