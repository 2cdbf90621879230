"""Deep ensembles (Lakshminarayanan et al. 2017): M independently seeded U-Nets; S = M."""

from __future__ import annotations

import torch
from torch import nn

from seguq.methods.base import Batch, Method, register, unet_features
from seguq.nets import build_unet


@register("ensemble")
class Ensemble(Method):
    """M deterministic U-Nets. Members are trained one after another as `deterministic` runs with
    seeds seed, seed + 1, ..., and their weights are then loaded here (see engine.train)."""

    member_method = "deterministic"

    def __init__(self, config, in_channels: int, num_classes: int):
        super().__init__(config, in_channels, num_classes)
        self.members = nn.ModuleList(
            build_unet(config.net, in_channels, num_classes, spatial_dims=self.spatial_dims)
            for _ in range(config.method.members)
        )

    @property
    def member_count(self) -> int:
        return len(self.members)

    @property
    def default_samples(self) -> int:  # type: ignore[override]
        return len(self.members)

    def load_members(self, member_state_dicts: list[dict[str, torch.Tensor]]) -> None:
        """Load the trained members' `deterministic` weights (keys prefixed "net.")."""
        for member, state in zip(self.members, member_state_dicts, strict=True):
            member.load_state_dict(
                {k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")}
            )

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        raise RuntimeError("ensemble members are trained as separate deterministic runs")

    def encoder_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The members' encoder features, averaged level by level."""
        per_member = [unet_features(member, x) for member in self.members]
        return [torch.stack(level).mean(0) for level in zip(*per_member, strict=True)]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit_samples(x, len(self.members)).mean(0)

    def logit_samples(
        self, x: torch.Tensor, n: int, noise: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        # S = M whatever n asks: each member is one sample.
        return torch.stack([member(x) for member in self.members])
