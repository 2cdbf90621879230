"""Hierarchical uncertainty estimation (HUE; Bai & Bai, arXiv 2308.08465).

A small stochastic latent z_l on each chosen skip connection of the U-Net, at that skip's
resolution: prior p(z_l | x) and posterior q(z_l | x, y) are per-pixel Gaussians from 1x1 heads on
the skip features; the decoder block of level l fuses cat(upsampled, skip, z_l). Training samples
q by reparameterisation; loss = CE + soft Dice + beta * sum_l mean_pixels KL(q_l || p_l), with a
linear warm-up of beta. Inference samples the prior: the encoder runs once per image and the S
samples go through the decoder as one batch, in chunks. Fixing every level but one at its prior
mean gives one uncertainty map per level.

Choices (METHODS.md §1, [choice] marks; see docs/HUE.md):
- posterior "shared" (default): the U-Net's own encoder reads cat(x, onehot(y)) through a widened
  first convolution (the input adapter); the prior pass feeds zeros in the label channels.
  "separate": a second encoder of the same shape reads cat(x, onehot(y)).
- posterior_input "image_label" (default) or "label" (the image channels are zeroed in the
  posterior pass, as in the authors' released code).
- prior_fraction 0.5 (default; an addition to the specification): half of the training images are
  decoded from prior samples instead of posterior ones. With 0 (the specification's objective) the
  decoder leaned on label information carried by the posterior latents and the prior-mean
  prediction fell 8-11 Dice points behind the U-Net; with 0.5 it is within 1 point.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seguq.errors import SeguqError
from seguq.methods.base import Batch, Method, merge_options, register
from seguq.methods.losses import ce_dice_loss, kl_regularised_loss
from seguq.nets import UNet
from seguq.nets.gaussian import GaussianHead, gaussian_kl
from seguq.nets.layers import crop_to, pad_labels, repeat_batch

DEFAULTS = {
    "beta": 1e-2,
    "warmup_steps": 200,
    "latent_channels": 1,  # an int for every level, or a list (finest first)
    "levels": "all",  # "all", "coarse", "fine", or a list of skip indices (0 = finest)
    "posterior": "shared",
    "posterior_input": "image_label",
    "sample_chunk": 0,  # samples decoded per batch; 0 = auto (2 on CPU, by free memory on GPU)
    # Fraction of training images decoded from prior instead of posterior samples (0 = the
    # specification's objective): the decoder then also learns from the latents it sees at
    # inference. 0.5 closed the Dice gap to the U-Net on JSRT and vessels (docs/HUE.md).
    "prior_fraction": 0.5,
    # Free bits (Kingma et al. 2016) per level: the loss counts max(KL_l, free_bits) nats per
    # latent position, so a level may carry this much information about the label at no cost
    # (0 = off). Against posterior collapse of a level.
    "free_bits": 0.0,
    # How each level's KL enters the loss. "level": averaged over that level's own positions, so
    # a nat costs 4^l (2D; 8^l in 3D) times more at level l than at full resolution. "image":
    # summed over the level's positions and divided by the image's pixels, so a nat costs the
    # same at every level, as in the ELBO and in PHiSeg's loss (docs/HUE.md).
    "kl_average": "level",
}

KL_AVERAGES = ("level", "image")


def hue_options(options: dict) -> dict:
    """The method's options with defaults filled in.

    Raises:
        SeguqError: an unknown option name.
    """
    return merge_options("HUE", options, DEFAULTS)


def resolve_levels(levels: object, depth: int) -> list[int]:
    """Skip indices (0 = finest) carrying a latent, from "all" / "coarse" / "fine" / a list.

    Raises:
        SeguqError: an unknown name or an index outside 0..depth-1.
    """
    half = max(1, depth // 2)
    named = {
        "all": list(range(depth)),
        "fine": list(range(half)),
        "coarse": list(range(depth - half, depth)),
    }
    if isinstance(levels, str):
        if levels not in named:
            raise SeguqError(f"HUE levels: unknown '{levels}' (known: all, coarse, fine, a list)")
        return named[levels]
    chosen = sorted({int(i) for i in levels})  # type: ignore[union-attr]
    if not chosen or chosen[0] < 0 or chosen[-1] >= depth:
        raise SeguqError(f"HUE levels: {levels} must be skip indices in 0..{depth - 1}")
    return chosen


@register("hue")
class HUE(Method):
    """U-Net with a stochastic latent on each chosen skip connection."""

    default_samples = 16

    def __init__(self, config, in_channels: int, num_classes: int):
        super().__init__(config, in_channels, num_classes)
        opts = hue_options(config.method.options)
        net_cfg = config.net
        depth = len(net_cfg.widths) - 1
        self.levels = resolve_levels(opts["levels"], depth)
        channels = opts["latent_channels"]
        per_level = list(channels) if isinstance(channels, list | tuple) else [channels] * depth
        if len(per_level) != depth or min(per_level) < 1:
            raise SeguqError(f"HUE latent_channels: need {depth} positive values, got {channels}")
        self.latent_channels = [per_level[i] if i in self.levels else 0 for i in range(depth)]
        self.beta = float(opts["beta"])
        self.warmup_steps = int(opts["warmup_steps"])
        self.prior_fraction = float(opts["prior_fraction"])
        if not 0.0 <= self.prior_fraction <= 1.0:
            raise SeguqError(f"HUE prior_fraction: expected 0..1, got {self.prior_fraction}")
        self.free_bits = float(opts["free_bits"])
        if self.free_bits < 0:
            raise SeguqError(f"HUE free_bits: expected >= 0, got {self.free_bits}")
        self.kl_average = opts["kl_average"]
        if self.kl_average not in KL_AVERAGES:
            raise SeguqError(
                f"HUE kl_average: expected one of {', '.join(KL_AVERAGES)}, got {self.kl_average!r}"
            )
        self.sample_chunk = int(opts["sample_chunk"])
        self.label_only = opts["posterior_input"] == "label"
        if opts["posterior_input"] not in ("image_label", "label"):
            raise SeguqError(
                f"HUE posterior_input: expected image_label or label, got "
                f"'{opts['posterior_input']}'"
            )
        if opts["posterior"] not in ("shared", "separate"):
            raise SeguqError(
                f"HUE posterior: expected shared or separate, got '{opts['posterior']}'"
            )
        unet_args = dict(
            widths=net_cfg.widths,
            norm=net_cfg.norm,
            dropout=net_cfg.dropout,
            dropout_placement=net_cfg.dropout_placement,
            spatial_dims=self.spatial_dims,
        )
        # The input adapter: the first convolution also reads K label channels.
        self.net = UNet(
            in_channels + num_classes,
            num_classes,
            skip_extra_channels=self.latent_channels,
            **unet_args,
        )
        self.posterior_net = (
            UNet(in_channels + num_classes, num_classes, **unet_args)
            if opts["posterior"] == "separate"
            else None
        )
        dims = self.spatial_dims
        self.prior_heads = nn.ModuleDict(
            {str(i): GaussianHead(net_cfg.widths[i], per_level[i], dims) for i in self.levels}
        )
        self.posterior_heads = nn.ModuleDict(
            {str(i): GaussianHead(net_cfg.widths[i], per_level[i], dims) for i in self.levels}
        )

    @property
    def level_names(self) -> list[str]:
        """One name per stochastic level, finest first ("level0" = full resolution)."""
        return [f"level{i}" for i in self.levels]

    # --- passes -------------------------------------------------------------------------------
    def _prior_pass(self, x: torch.Tensor) -> tuple[list[torch.Tensor], dict]:
        """Encoder features of cat(x, 0) and the prior (mu, log_sigma) per level."""
        zeros = x.new_zeros(x.shape[0], self.num_classes, *x.shape[2:])
        features = self.net.encode(torch.cat([x, zeros], 1))
        return features, {i: self.prior_heads[str(i)](features[i]) for i in self.levels}

    def _posterior(self, x: torch.Tensor, labels: torch.Tensor) -> dict:
        onehot = F.one_hot(labels, self.num_classes).movedim(-1, 1).to(x.dtype)
        image = torch.zeros_like(x) if self.label_only else x
        encoder = self.posterior_net or self.net
        # Only the skip levels carrying a latent are needed: the deeper blocks are not run.
        features = encoder.encode(torch.cat([image, onehot], 1), levels=max(self.levels) + 1)
        return {i: self.posterior_heads[str(i)](features[i]) for i in self.levels}

    def _decode(
        self, features: list[torch.Tensor], latents: dict[int, torch.Tensor]
    ) -> torch.Tensor:
        extras = [latents.get(i) for i in range(self.net.depth)]
        return self.net.head(self.net.decode(features, extras))

    # --- training -----------------------------------------------------------------------------
    def kl_per_level(self, prior: dict, posterior: dict) -> dict[int, torch.Tensor]:
        """KL(q_l || p_l) summed over latent channels, averaged over the batch and over the
        level's own positions (nats per latent position)."""
        return {i: gaussian_kl(*posterior[i], *prior[i]).sum(1).mean() for i in self.levels}

    def kl_weights(self, posterior: dict, image_size: torch.Size) -> dict[int, float]:
        """The factor of each level's per-position KL in the loss: 1 under kl_average "level";
        the level's positions over the image's pixels under "image" (a nat costs the same at
        every level)."""
        if self.kl_average == "level":
            return {i: 1.0 for i in self.levels}
        pixels = math.prod(image_size)
        return {i: math.prod(posterior[i][0].shape[2:]) / pixels for i in self.levels}

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """CE + soft Dice + beta * sum_l KL_l; averaged over annotators when "labels" is present.

        Args:
            batch: "image" (B, C, H, W); "label" (B, H, W) int64, or "labels" (B, R, H, W) int64
                for R annotators (data.rater "all"); optional "step" (scalar) for the warm-up.
        """
        x = batch["image"]
        stack = batch["labels"] if "labels" in batch else batch["label"].unsqueeze(1)
        r = stack.shape[1]
        labels = stack.transpose(0, 1).flatten(0, 1)  # (R * B, H, W), annotator-major
        x_pad, size = self.net.pad(x)
        labels_pad = pad_labels(labels, x_pad.shape[2:])
        features, prior = self._prior_pass(x_pad)  # once per image, shared by the annotators
        posterior = self._posterior(repeat_batch(x_pad, r), labels_pad)
        latents = {
            i: mu + torch.exp(log_sigma) * torch.randn_like(mu)
            for i, (mu, log_sigma) in posterior.items()
        }
        if self.prior_fraction > 0:
            latents = self._mix_prior_samples(latents, prior, r)
        repeated = [repeat_batch(f, r) for f in features]
        logits = crop_to(self._decode(repeated, latents), size).unflatten(0, (r, x.shape[0]))
        segmentation = torch.stack([ce_dice_loss(logits[i], stack[:, i]) for i in range(r)]).mean()
        prior = {i: (repeat_batch(mu, r), repeat_batch(ls, r)) for i, (mu, ls) in prior.items()}
        kls = self.kl_per_level(prior, posterior)
        # free bits: KL below the floor costs nothing (its gradient is zero there)
        weights = self.kl_weights(posterior, x_pad.shape[2:])
        kl_total = torch.stack(
            [weights[i] * kl.clamp_min(self.free_bits) for i, kl in kls.items()]
        ).sum()
        return kl_regularised_loss(
            segmentation,
            kl_total,
            batch,
            beta=self.beta,
            warmup_steps=self.warmup_steps,
            kl_levels=kls,
        )

    def _mix_prior_samples(self, latents: dict, prior: dict, r: int) -> dict:
        """Replace the posterior samples of a random `prior_fraction` of the (R * B) training
        images by prior samples (gradients reach the prior heads through them too)."""
        first = next(iter(latents.values()))
        chosen = torch.rand(first.shape[0], device=first.device) < self.prior_fraction
        mixed = {}
        for i, z in latents.items():
            mu, log_sigma = (repeat_batch(t, r) for t in prior[i])
            from_prior = mu + torch.exp(log_sigma) * torch.randn_like(mu)
            mixed[i] = torch.where(chosen.view(-1, *[1] * (z.ndim - 1)), from_prior, z)
        return mixed

    # --- inference ----------------------------------------------------------------------------
    def encoder_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The shared encoder's features of the prior pass (label channels zero)."""
        return self._prior_pass(self.net.pad(x)[0])[0]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic prediction: every latent at its prior mean."""
        x_pad, size = self.net.pad(x)
        features, prior = self._prior_pass(x_pad)
        return crop_to(self._decode(features, {i: mu for i, (mu, _) in prior.items()}), size)

    def noise_shapes(self, x_shape: tuple[int, ...], n: int) -> dict[str, tuple[int, ...]]:
        """level<i>: (S, B, k_i, *padded spatial / 2**i), the padded size a multiple of
        2**depth."""
        m = 2**self.net.depth
        padded = [-(-s // m) * m for s in x_shape[2:]]
        return {
            f"level{i}": (n, x_shape[0], self.latent_channels[i], *[s // 2**i for s in padded])
            for i in self.levels
        }

    def logit_samples(
        self,
        x: torch.Tensor,
        n: int,
        noise: dict[str, torch.Tensor] | None = None,
        sampled_levels: list[int] | None = None,
    ) -> torch.Tensor:
        """(S, B, K, *spatial) logits from prior samples; the encoder runs once.

        Args:
            x: (B, C, *spatial).
            n: samples S.
            noise: "level<i>" standard normal draws (`noise_shapes`); None: drawn here.
            sampled_levels: levels drawn from the prior; the others stay at their prior mean
                (None = all levels).
        """
        sampled = self.levels if sampled_levels is None else sampled_levels
        x_pad, size = self.net.pad(x)
        features, prior = self._prior_pass(x_pad)
        b = x.shape[0]
        # All noise is drawn up front so that chunking does not change the samples.
        if noise is None:
            noise = {
                i: torch.randn(n, *prior[i][0].shape, device=x.device, dtype=x.dtype)
                for i in sampled
            }
        else:
            noise = {i: noise[f"level{i}"] for i in sampled}
        # Small chunks are fastest on CPU (cache-sized activations); GPUs want large batches.
        chunk = self.sample_chunk_size(x, self.sample_chunk, cpu_chunk=2)
        outputs = []
        for start in range(0, n, chunk):
            s = min(chunk, n - start)
            latents: list[torch.Tensor | None] = [None] * self.net.depth
            for i, (mu, log_sigma) in prior.items():
                z = mu.unsqueeze(0).expand(s, *mu.shape)
                if i in noise:
                    z = z + torch.exp(log_sigma).unsqueeze(0) * noise[i][start : start + s]
                latents[i] = z.flatten(0, 1)
            decoded = self.net.decode_samples(features, latents, s)
            logits = crop_to(self.net.head(decoded), size)
            outputs.append(logits.unflatten(0, (s, b)))
        return torch.cat(outputs)

    @torch.no_grad()
    def sample_level(self, x: torch.Tensor, n: int | None, level: str) -> torch.Tensor:
        """(S, B, K, H, W) probabilities sampling one level (`level_names`), others at the mean."""
        if level not in self.level_names:
            raise SeguqError(f"HUE: unknown level '{level}' (known: {', '.join(self.level_names)})")
        logits = self.logit_samples(
            x, n or self.default_samples, sampled_levels=[int(level.removeprefix("level"))]
        )
        return torch.softmax(logits.float() / self.temperature, dim=2)
