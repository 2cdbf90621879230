"""Per-pixel diagonal Gaussians: the 1x1 heads and the closed-form KL used by latent methods."""

from __future__ import annotations

import torch
from torch import nn

from seguq.nets.layers import conv

LOG_SIGMA_RANGE = (-6.0, 3.0)  # keeps exp() finite and the KL bounded early in training


class GaussianHead(nn.Module):
    """1x1 convolution from features to a per-pixel Gaussian over `latent_channels` channels.

    Input (B, C, *spatial) -> (mu, log_sigma), each (B, latent_channels, *spatial). Initialised
    to the standard normal (zero weights), so prior and posterior start equal and the KL starts
    at 0.
    """

    def __init__(self, in_channels: int, latent_channels: int, dims: int = 2):
        super().__init__()
        self.conv = conv(dims, in_channels, 2 * latent_channels, 1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_sigma = self.conv(features).chunk(2, dim=1)
        return mu, log_sigma.clamp(*LOG_SIGMA_RANGE)


def gaussian_kl(
    mu_q: torch.Tensor, log_sigma_q: torch.Tensor, mu_p: torch.Tensor, log_sigma_p: torch.Tensor
) -> torch.Tensor:
    """KL(q || p) of diagonal Gaussians, elementwise (same shape as the inputs), >= 0; in
    32-bit whatever the inputs' precision."""
    mu_q, log_sigma_q, mu_p, log_sigma_p = (
        t.float() for t in (mu_q, log_sigma_q, mu_p, log_sigma_p)
    )
    var_q, var_p = torch.exp(2 * log_sigma_q), torch.exp(2 * log_sigma_p)
    return log_sigma_p - log_sigma_q + (var_q + (mu_q - mu_p) ** 2) / (2 * var_p) - 0.5
