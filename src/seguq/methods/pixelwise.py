"""Pixel-wise uncertainty for generalisation (Wang et al., arXiv 2305.07883), as specified in
METHODS.md §2 (the paper body was not available: this formulation is a [choice], see
docs/PIXELWISE.md).

A variance head beside the segmentation head predicts the per-pixel logit log-variance s.
Training:
- uncertainty learning (heteroscedastic classification, Kendall & Gal 2017): T logit samples
  l_t = mu + exp(s / 2) * eps_t and L_unc = mean_pixels -log((1/T) sum_t softmax(l_t)[y]);
- highlighting: u = the per-pixel uncertainty, detached and normalised per image (u / mean(u)),
  weights the cross-entropy: L_seg = mean((1 + lambda * u) * CE(mu, y)) + Dice(softmax(mu), y);
- L = L_seg + gamma * L_unc.
Inference uses mu (S = 1) or S samples of logits mu + exp(s / 2) * eps, and writes exp(s / 2) as a
learned aleatoric map.

Options (`method.options`): source "variance" (learned; default) | "mc_dropout" (entropy of the mean
of `mc_passes` dropout passes) | "entropy" (softmax entropy of mu); weighting on/off; lambda_; T;
gamma.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seguq.errors import SeguqError
from seguq.methods.base import Batch, Method, merge_options, register, unet_features
from seguq.methods.losses import soft_dice_loss
from seguq.methods.mc_dropout import dropout_active
from seguq.nets import build_unet
from seguq.nets.layers import conv, crop_to

DEFAULTS = {
    "source": "variance",
    "weighting": True,
    "lambda_": 1.0,
    "T": 10,
    "gamma": 1.0,
    "mc_passes": 4,
    "mc_dropout": 0.2,
}
SOURCES = ("variance", "mc_dropout", "entropy")


def pixelwise_options(options: dict) -> dict:
    """The method's options with defaults filled in.

    Raises:
        SeguqError: an unknown option or uncertainty source.
    """
    merged = merge_options("pixelwise", options, DEFAULTS)
    if merged["source"] not in SOURCES:
        raise SeguqError(
            f"pixelwise source: unknown '{merged['source']}' (known: {', '.join(SOURCES)})"
        )
    if int(merged["T"]) < 1:
        raise SeguqError(f"pixelwise T: expected >= 1, got {merged['T']}")
    return merged


def sampled_logit_nll(
    mu: torch.Tensor, log_var: torch.Tensor, labels: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """Heteroscedastic classification loss, mean over pixels.

    Args:
        mu: (B, K, *spatial) mean logits.
        log_var: (B, 1, *spatial) logit log-variance s.
        labels: (B, *spatial) int64.
        noise: (T, B, K, *spatial) standard normal draws.

    Returns:
        mean_pixels -log((1/T) sum_t softmax(mu + exp(s/2) eps_t)[y]); with zero variance this is
        the cross-entropy of mu.
    """
    logits = mu.unsqueeze(0) + torch.exp(0.5 * log_var).unsqueeze(0) * noise
    log_probs = torch.log_softmax(logits, dim=2)
    index = labels.unsqueeze(0).unsqueeze(2).expand(noise.shape[0], -1, 1, *labels.shape[1:])
    picked = log_probs.gather(2, index).squeeze(2)  # (T, B, *spatial)
    return -(torch.logsumexp(picked, dim=0) - math.log(noise.shape[0])).mean()


def highlight_weights(uncertainty: torch.Tensor, lambda_: float) -> torch.Tensor:
    """1 + lambda * u / mean(u) per image, with no gradient into u.

    Args:
        uncertainty: (B, *spatial) non-negative.

    Returns:
        (B, *spatial) weights >= 1.
    """
    u = uncertainty.detach()
    mean = u.flatten(1).mean(1).clamp_min(1e-8)
    u = u / mean.view(-1, *[1] * (u.ndim - 1))
    return 1.0 + lambda_ * u


@register("pixelwise")
class PixelwiseUncertainty(Method):
    """A U-Net with a segmentation head and a per-pixel logit log-variance head."""

    default_samples = 1

    def __init__(self, config, in_channels: int, num_classes: int):
        super().__init__(config, in_channels, num_classes)
        self.opts = pixelwise_options(config.method.options)
        dropout = self.opts["mc_dropout"] if self.opts["source"] == "mc_dropout" else None
        self.net = build_unet(
            config.net, in_channels, num_classes, dropout=dropout, spatial_dims=self.spatial_dims
        )
        self.variance_head = conv(self.spatial_dims, config.net.widths[0], 1, 1)
        nn.init.zeros_(self.variance_head.weight)
        nn.init.constant_(self.variance_head.bias, -4.0)  # small initial variance

    def mean_and_log_var(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean logits (B, K, *spatial) and logit log-variance (B, 1, *spatial)."""
        x_pad, size = self.net.pad(x)
        features = self.net.decode(self.net.encode(x_pad))
        mu = crop_to(self.net.head(features), size).float()  # 32-bit under mixed precision
        log_var = crop_to(self.variance_head(features), size).float().clamp(-10.0, 10.0)
        return mu, log_var

    def _uncertainty(
        self, x: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor
    ) -> torch.Tensor:
        source = self.opts["source"]
        if source == "variance":
            return torch.exp(0.5 * log_var[:, 0])
        if source == "entropy":
            probs = mu.softmax(1)
            return -(probs * torch.log(probs.clamp_min(1e-12))).sum(1)
        with torch.no_grad(), dropout_active(self.net):
            probs = torch.stack(
                [self.net(x).softmax(1) for _ in range(self.opts["mc_passes"])]
            ).mean(0)
        return -(probs * torch.log(probs.clamp_min(1e-12))).sum(1)

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, labels = batch["image"], batch["label"]
        mu, log_var = self.mean_and_log_var(x)
        noise = torch.randn(int(self.opts["T"]), *mu.shape, device=mu.device, dtype=mu.dtype)
        unc_loss = sampled_logit_nll(mu, log_var, labels, noise)
        ce = F.cross_entropy(mu, labels, reduction="none")  # (B, *spatial)
        if self.opts["weighting"]:
            ce = highlight_weights(self._uncertainty(x, mu, log_var), self.opts["lambda_"]) * ce
        seg = ce.mean() + soft_dice_loss(mu.softmax(1), labels)
        loss = seg + self.opts["gamma"] * unc_loss
        return loss, {
            "loss": float(loss.detach()),
            "seg": float(seg.detach()),
            "unc": float(unc_loss.detach()),
            "sigma": float(torch.exp(0.5 * log_var).mean().detach()),
        }

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.mean_and_log_var(x)[0]

    def encoder_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return unet_features(self.net, x)

    def logit_samples(
        self, x: torch.Tensor, n: int, noise: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        mu, log_var = self.mean_and_log_var(x)
        if n <= 1:
            return mu.unsqueeze(0)
        eps = (
            torch.randn(n, *mu.shape, device=mu.device, dtype=mu.dtype)
            if noise is None
            else noise["logits"]
        )
        return mu.unsqueeze(0) + torch.exp(0.5 * log_var).unsqueeze(0) * eps

    def noise_shapes(self, x_shape: tuple[int, ...], n: int) -> dict[str, tuple[int, ...]]:
        if n <= 1:
            return {}
        return {"logits": (n, x_shape[0], self.num_classes, *x_shape[2:])}

    @property
    def auxiliary_map_names(self) -> list[str]:
        return ["learned_sigma"]

    @torch.no_grad()
    def auxiliary_maps(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W): the learned logit standard deviation exp(s / 2), an aleatoric map."""
        return torch.exp(0.5 * self.mean_and_log_var(x)[1])
