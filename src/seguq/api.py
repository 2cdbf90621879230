"""The Python entry points: `seguq.train(data=..., out=..., method=..., **overrides)` plans and
trains as `seguq train` does; `seguq.Predictor` predicts in memory (see
`seguq.engine.predictor`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from seguq.config import RunConfig
from seguq.errors import SeguqError

_SECTIONS = [f.name for f in dataclasses.fields(RunConfig)]


def overrides_to_config(method: str, data: str | Path, overrides: dict[str, Any]) -> dict:
    """Nested config values from keyword overrides.

    A keyword is either a section ("data", "net", "method", "train", "predict") with a dict of
    its values, or a field name that exists in exactly one section (`epochs=5` is
    train.epochs, `patch_size=[96, 96]` data.patch_size, `widths=[...]` net.widths).

    Raises:
        SeguqError: an unknown or ambiguous name.
    """
    sections = {
        name: {f.name for f in dataclasses.fields(getattr(RunConfig(), name))} for name in _SECTIONS
    }
    user: dict[str, dict] = {"data": {"source": str(data)}, "method": {"name": method}}
    for key, value in overrides.items():
        if key in sections:
            if not isinstance(value, dict):
                raise SeguqError(f"{key}=: expected a dict of {key} values, got {value!r}")
            user.setdefault(key, {}).update(value)
            continue
        owners = [name for name, fields in sections.items() if key in fields]
        if len(owners) != 1:
            where = "no config section" if not owners else f"several sections ({', '.join(owners)})"
            raise SeguqError(
                f"{key}=: {where} has it; pass it as a section dict, e.g. train={{'{key}': ...}}"
            )
        user.setdefault(owners[0], {})[key] = value
    return user


def train(
    data: str | Path,
    out: str | Path,
    method: str = "deterministic",
    *,
    plan: bool = True,
    minutes: float = 25.0,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = False,
    **overrides: Any,
):
    """Train `method` on `data` into the run folder `out`, planned from the data unless
    `plan=False` (values given here beat the plan, as options do on the command line).

    Args:
        data: a manifest, a data folder in a known layout, or "synthetic[:key=value,...]".
        out: the run folder to create.
        method: deterministic, mc_dropout, ensemble, tta, hue, pixelwise, prob_unet, phiseg.
        plan: derive patch, network, normalisation, augmentation and budget from the data.
        minutes: the plan's training time.
        overwrite, resume: as `--overwrite` and `--resume`.
        progress: show Lightning's progress bar.
        **overrides: config values (see `overrides_to_config`).

    Returns:
        `seguq.engine.train.TrainResult` (run_dir, val_dice, seconds, ...).

    Raises:
        SeguqError: bad data, option or config value; an existing run without `overwrite`.
    """
    from seguq.engine.quiet import quiet_lightning
    from seguq.engine.train import train as train_run

    quiet_lightning()

    user = overrides_to_config(method, data, overrides)
    user.setdefault("train", {}).setdefault("progress", progress)
    if plan:
        from seguq.plan import plan_run
        from seguq.plan.planner import machine_for

        config, made = plan_run(user, machine=machine_for(user, minutes))
    else:
        config, made = RunConfig.from_dict(user), None
    return train_run(config, Path(out), overwrite=overwrite, resume=resume, plan=made)
