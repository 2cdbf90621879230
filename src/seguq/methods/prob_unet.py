"""Probabilistic U-Net (Kohl et al., NeurIPS 2018), scaled to the project's U-Net budget.

One global latent vector z per image (default 6 dimensions). A prior net (an encoder of x) and a
posterior net (an encoder of cat(x, onehot(y))) each give an axis-aligned Gaussian from their
global-average-pooled last features. z is broadcast over the image and concatenated with the
U-Net's last decoder features; a stack of 1x1 convolutions ("fcomb") maps that to the K logits.
Training samples q(z | x, y) by reparameterisation; loss = CE + soft Dice + beta * KL(q || p),
beta with an optional linear warm-up. Inference samples the prior: the U-Net and the prior net
run once per image and only fcomb runs per sample. Deterministic prediction: z = prior mean.

Several annotators: a batch with "labels" (B, R, H, W) (data.rater "all") gives each image R
posteriors, one per annotator; the loss is the mean of the R per-annotator losses (the U-Net and
the prior run once per image).

Where this departs from the paper and the authors' code (github.com/SimonKohl/probabilistic_unet):
- Backbone: the project's U-Net (`config.net`: widths, norm, max-pooling, transposed-convolution
  upsampling, two convolutions per block) instead of the paper's (three convolutions per block,
  average pooling, bilinear upsampling, no normalisation). The prior and posterior encoders have
  the U-Net encoder's widths and blocks, with average pooling between levels as in the paper.
- fcomb: `fcomb_layers` 1x1 convolutions in all (default 3, as the paper's text says), ReLU between
  them, the last one to K; the authors' code has three hidden 1x1 convolutions plus the output
  one. The first convolution of cat(features, broadcast z) is computed as a convolution of the
  features plus a linear map of z: equal, because z is constant over the image, and that is what
  makes one more sample cost only the rest of fcomb.
- Loss: the paper's ELBO sums the cross-entropy over pixels; the project's CE is a per-pixel mean,
  so by default (`kl_scale` "pixels") the KL is divided by the number of image pixels, which keeps
  the paper's balance at beta = 1. A soft Dice term is added (the project's default loss).
- The Gaussian heads predict log sigma, clamped to a finite range (`max_log_sigma`, default 3),
  and start at the standard normal (zero weights), so the KL starts at 0.
- fcomb's map of z starts at zero, so the latent's influence grows from nothing. With the default
  (random) initialisation, short CPU budgets (60 steps, lr 2e-3) on the synthetic data often
  ended with one foreground class never predicted (Dice 0.000-0.46 against 0.92 for the U-Net);
  with the zero start two of three seeds trained like the U-Net (0.878, 0.923) and the third
  still missed the cup (0.459; docs/AMBIGUITY.md).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seguq.errors import SeguqError
from seguq.methods.base import Batch, Method, merge_options, register, unet_features
from seguq.methods.losses import ce_dice_loss, kl_regularised_loss
from seguq.nets import UNet
from seguq.nets.blocks import ConvBlock
from seguq.nets.gaussian import GaussianHead, gaussian_kl
from seguq.nets.layers import avg_pool, conv, crop_to, pad_labels, repeat_batch

DEFAULTS = {
    "latent_dim": 6,
    "beta": 1.0,
    "warmup_steps": 0,  # linear warm-up of beta over this many steps; 0 = none (the paper)
    "fcomb_layers": 3,  # 1x1 convolutions after cat(features, z), the last one to K
    "kl_scale": "pixels",  # "pixels": KL / image pixels (paper balance); "image": KL per image
    "sample_chunk": 0,  # samples through fcomb per batch; 0 = auto (8 on CPU, memory on GPU)
    # Upper bound of log sigma of the prior and posterior (3.0: the shared heads' own bound).
    "max_log_sigma": 3.0,
}
KL_SCALES = ("pixels", "image")


def prob_unet_options(options: dict) -> dict:
    """The method's options with defaults filled in and checked.

    Raises:
        SeguqError: an unknown option name or a value out of range.
    """
    opts = merge_options("prob_unet", options, DEFAULTS)
    for key in ("latent_dim", "fcomb_layers"):
        if not isinstance(opts[key], int) or opts[key] < 1:
            raise SeguqError(f"prob_unet {key}: expected a positive integer, got {opts[key]!r}")
    for key in ("warmup_steps", "sample_chunk"):
        if not isinstance(opts[key], int) or opts[key] < 0:
            raise SeguqError(f"prob_unet {key}: expected an integer >= 0, got {opts[key]!r}")
    if not isinstance(opts["beta"], int | float) or opts["beta"] < 0:
        raise SeguqError(f"prob_unet beta: expected a number >= 0, got {opts['beta']!r}")
    if not isinstance(opts["max_log_sigma"], int | float) or opts["max_log_sigma"] > 3.0:
        raise SeguqError(
            f"prob_unet max_log_sigma: expected a number <= 3, got {opts['max_log_sigma']!r}"
        )
    if opts["kl_scale"] not in KL_SCALES:
        raise SeguqError(
            f"prob_unet kl_scale: expected one of {', '.join(KL_SCALES)}, got {opts['kl_scale']!r}"
        )
    return opts


def annotator_labels(batch: Batch) -> torch.Tensor:
    """Every annotator's mask, (B, R, H, W) int64: "labels" when present, else "label" (R = 1)."""
    return batch["labels"] if "labels" in batch else batch["label"].unsqueeze(1)


class GlobalGaussianEncoder(nn.Module):
    """Encoder -> global average pool -> axis-aligned Gaussian over a latent vector.

    Input (B, C, *spatial) -> (mu, log_sigma), each (B, latent_dim). One `ConvBlock` per width
    with 2x average pooling between levels (as the paper's VGG-style encoder).
    """

    def __init__(
        self,
        in_channels: int,
        widths: list[int],
        latent_dim: int,
        norm: str,
        max_log_sigma: float = 3.0,
        dims: int = 2,
    ):
        super().__init__()
        self.max_log_sigma = max_log_sigma
        self.blocks = nn.ModuleList(
            [
                ConvBlock(cin, cout, norm, dims=dims)
                for cin, cout in zip([in_channels, *widths[:-1]], widths, strict=True)
            ]
        )
        self.head = GaussianHead(widths[-1], latent_dim, dims)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for i, block in enumerate(self.blocks):
            x = block(x if i == 0 else avg_pool(x, 2))
        mu, log_sigma = self.head(x.mean(tuple(range(2, x.ndim)), keepdim=True))
        return mu.flatten(1), log_sigma.clamp(max=self.max_log_sigma).flatten(1)


class Fcomb(nn.Module):
    """1x1 convolutions of cat(features, z broadcast over the image) -> logits.

    The first convolution is split into a convolution of the features (`features_part`, once per
    image) and a linear map of z (a per-sample bias), so that samples share the feature part.
    """

    def __init__(
        self, feature_channels: int, latent_dim: int, num_classes: int, layers: int, dims: int = 2
    ):
        super().__init__()
        first_out = feature_channels if layers > 1 else num_classes
        self.feature_conv = conv(dims, feature_channels, first_out, 1)
        self.latent_linear = nn.Linear(latent_dim, first_out, bias=False)
        nn.init.zeros_(self.latent_linear.weight)  # the latent's influence grows from zero
        rest: list[nn.Module] = []
        for i in range(1, layers):
            out = num_classes if i == layers - 1 else feature_channels
            rest += [nn.ReLU(inplace=True), conv(dims, feature_channels, out, 1)]
        self.rest = nn.Sequential(*rest)

    def features_part(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, *spatial) -> the feature half of the first convolution, (B, C', *spatial)."""
        return self.feature_conv(features)

    def forward(self, part: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Logits (S * B, K, *spatial) for `part` (B, C', *spatial) and z (S * B, L),
        sample-major."""
        s = z.shape[0] // part.shape[0]
        spatial = [None] * (part.ndim - 2)
        bias = self.latent_linear(z)[(Ellipsis, *spatial)].unflatten(0, (s, part.shape[0]))
        return self.rest((part.unsqueeze(0) + bias).flatten(0, 1))


@register("prob_unet")
class ProbUNet(Method):
    """U-Net + global latent vector from prior/posterior encoders, fused by 1x1 convolutions."""

    default_samples = 16
    image_level_latent = True

    def __init__(self, config, in_channels: int, num_classes: int):
        super().__init__(config, in_channels, num_classes)
        opts = prob_unet_options(config.method.options)
        net = config.net
        self.latent_dim = opts["latent_dim"]
        self.beta = float(opts["beta"])
        self.warmup_steps = opts["warmup_steps"]
        self.kl_per_pixel = opts["kl_scale"] == "pixels"
        self.sample_chunk = opts["sample_chunk"]
        self.unet = UNet(
            in_channels,
            num_classes,
            net.widths,
            norm=net.norm,
            dropout=net.dropout,
            dropout_placement=net.dropout_placement,
            spatial_dims=self.spatial_dims,
        )
        # fcomb replaces the U-Net's 1x1 head (an unused head would also break DDP).
        self.unet.head = nn.Identity()
        cap, dims = float(opts["max_log_sigma"]), self.spatial_dims
        self.prior = GlobalGaussianEncoder(
            in_channels, net.widths, self.latent_dim, net.norm, cap, dims
        )
        self.posterior = GlobalGaussianEncoder(
            in_channels + num_classes, net.widths, self.latent_dim, net.norm, cap, dims
        )
        self.fcomb = Fcomb(net.widths[0], self.latent_dim, num_classes, opts["fcomb_layers"], dims)

    def _shared(self, x_pad: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """The per-image work: fcomb's feature part (B, C', *spatial) and the prior."""
        features = self.unet.decode(self.unet.encode(x_pad))
        return self.fcomb.features_part(features), self.prior(x_pad)

    # --- training -----------------------------------------------------------------------------
    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """CE + soft Dice + beta * KL(q || p), averaged over annotators when "labels" is present.

        Args:
            batch: "image" (B, C, *spatial); "label" (B, *spatial) int64, or "labels"
                (B, R, *spatial) int64 for R annotators; optional "step" (scalar) for the
                warm-up.
        """
        x, stack = batch["image"], annotator_labels(batch)
        r = stack.shape[1]
        x_pad, size = self.unet.pad(x)
        labels = stack.transpose(0, 1).flatten(0, 1)  # (R * B, *spatial), annotator-major
        labels_pad = pad_labels(labels, x_pad.shape[2:])
        part, (mu_p, log_sigma_p) = self._shared(x_pad)
        onehot = F.one_hot(labels_pad, self.num_classes).movedim(-1, 1).to(x.dtype)
        mu_q, log_sigma_q = self.posterior(torch.cat([repeat_batch(x_pad, r), onehot], 1))
        z = mu_q + torch.exp(log_sigma_q) * torch.randn_like(mu_q)
        logits = crop_to(self.fcomb(part, z), size).unflatten(0, (r, x.shape[0]))
        segmentation = torch.stack([ce_dice_loss(logits[i], stack[:, i]) for i in range(r)]).mean()
        kl = gaussian_kl(mu_q, log_sigma_q, mu_p.repeat(r, 1), log_sigma_p.repeat(r, 1))
        kl = kl.sum(1).mean()  # per image, averaged over images and annotators
        return kl_regularised_loss(
            segmentation,
            kl,
            batch,
            beta=self.beta,
            warmup_steps=self.warmup_steps,
            kl_scale=1 / math.prod(size) if self.kl_per_pixel else 1.0,
        )

    # --- inference ----------------------------------------------------------------------------
    def encoder_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return unet_features(self.unet, x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic prediction (B, K, *spatial): z at the prior mean."""
        x_pad, size = self.unet.pad(x)
        part, (mu, _) = self._shared(x_pad)
        return crop_to(self.fcomb(part, mu), size)

    def noise_shapes(self, x_shape: tuple[int, ...], n: int) -> dict[str, tuple[int, ...]]:
        return {"z": (n, x_shape[0], self.latent_dim)}

    def logit_samples(
        self, x: torch.Tensor, n: int, noise: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """(S, B, K, *spatial) logits from S prior draws of z; the U-Net and the prior run once.

        Args:
            x: (B, C, *spatial).
            n: samples S.
        """
        x_pad, size = self.unet.pad(x)
        part, (mu, log_sigma) = self._shared(x_pad)
        b = x.shape[0]
        # All noise is drawn up front so that chunking does not change the samples.
        if noise is None:
            noise = {"z": torch.randn(n, *mu.shape, device=x.device, dtype=mu.dtype)}
        chunk = self.sample_chunk_size(x, self.sample_chunk, cpu_chunk=8)
        outputs = []
        for start in range(0, n, chunk):
            z = mu + torch.exp(log_sigma) * noise["z"][start : start + chunk]  # (s, B, L)
            logits = crop_to(self.fcomb(part, z.flatten(0, 1)), size)
            outputs.append(logits.unflatten(0, (z.shape[0], b)))
        return torch.cat(outputs)
