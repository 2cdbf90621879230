"""PHiSeg (Baumgartner et al., MICCAI 2019), scaled to the project's U-Net budget.

A hierarchy of L latent maps z_0 (finest) .. z_{L-1} (coarsest), at the L coarsest of the
len(net.widths) resolutions (default L = len(widths) - 1, the number of skip levels; the paper
uses 5 of 7). Three networks:
- prior p(z_l | z_{l+1}, x) and posterior q(z_l | z_{l+1}, x, y): each an encoder (one block per
  resolution) whose features at level l, concatenated with the upsampled (and convolved) latent
  of the coarser level l + 1, give a per-pixel Gaussian; the coarsest level reads the encoder
  alone. In training the prior is conditioned on the posterior's samples (as in the authors'
  code), so that each level's KL compares the two conditionals given the same coarser latent.
- likelihood: each z_l goes through a block, is raised to resolution l (L < len(widths)), and is
  combined with the upsampled features of level l + 1; a 1x1 head per level gives logits, which
  are upsampled (nearest) to the image and accumulated from coarse to fine: the logits of level
  l are the sum of the heads of levels l .. L-1, and level 0's are the prediction.
Loss = sum over levels of (CE + soft Dice) of the accumulated logits (deep supervision, the
paper's residual loss; option off = level 0 only) + beta * sum_l w_l KL(q_l || p_l), w_l = 1 by
default. Inference samples the prior coarse to fine: the prior's encoder runs once per image; the
conditional levels and the likelihood run per sample, in chunks. Deterministic prediction: every
level at its prior mean given the coarser means. Sampling one level (`sample_level`) draws that
level and keeps the others at their (conditional) means.

Several annotators: a batch with "labels" (B, R, H, W) (data.rater "all") gives each image R
posterior passes; the loss is the mean of the R per-annotator losses (the prior's encoder runs
once per image).

Where this departs from the paper and the authors' code (github.com/baumgach/PHiSeg-code):
- Widths: the encoders and the likelihood use `net.widths` at each resolution (the paper uses
  n0 * (1, 2, 4, 6, 6, 6, 6) with n0 = 32, and 2 * n0 channels for the upsampled latents); blocks
  are the project's two 3x3 convolutions with `net.norm` (the paper: three in the encoders, two
  elsewhere, batch norm); no residual blocks; `net.dropout` is not used.
- Latent channels: 2 per level by default, as the paper (option `latent_channels`).
- The Gaussian heads are 1x1 convolutions predicting log sigma (clamped to a finite range,
  zero-initialised to the standard normal); the paper predicts mu with a 3x3 convolution and sigma
  through a softplus.
- KL weights: 1 per level by default (option `kl_weights`: "equal", "exponential" = 4 ** l as in
  the authors' code, or a list, finest first). The paper sums the CE and each level's KL over
  pixels; the project's CE is a per-pixel mean, so by default (`kl_scale` "pixels") each KL,
  summed over its latent elements, is divided by the number of image pixels, which keeps the
  paper's balance at beta = 1.
- A soft Dice term is added to the CE at each supervised level (the project's default loss).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from seguq.errors import SeguqError
from seguq.methods.base import Batch, Method, merge_options, register
from seguq.methods.losses import ce_dice_loss, kl_regularised_loss
from seguq.methods.prob_unet import KL_SCALES, annotator_labels
from seguq.nets.gaussian import gaussian_kl
from seguq.nets.layers import crop_to, pad_labels, pad_to_multiple, repeat_batch
from seguq.nets.phiseg_nets import LatentHierarchy, Likelihood

DEFAULTS = {
    "latent_levels": None,  # L; None = len(net.widths) - 1 (the number of skip levels)
    "latent_channels": 2,
    "beta": 1.0,
    "warmup_steps": 0,  # linear warm-up of beta over this many steps; 0 = none (the paper)
    "kl_weights": "equal",  # "equal" | "exponential" (4 ** l) | a list of L numbers, finest first
    "kl_scale": "pixels",  # "pixels": KL / image pixels (paper balance); "image": KL per image
    "deep_supervision": True,  # CE + Dice on every level's accumulated logits (equal weights)
    "sample_chunk": 0,  # samples per batch through the likelihood; 0 = auto (2 on CPU, memory)
}


def phiseg_options(options: dict, resolutions: int) -> dict:
    """The method's options with defaults filled in and checked; `latent_levels` resolved.

    Args:
        options: `config.method.options`.
        resolutions: len(net.widths).

    Raises:
        SeguqError: an unknown option name or a value out of range.
    """
    opts = merge_options("phiseg", options, DEFAULTS)
    if opts["latent_levels"] is None:
        opts["latent_levels"] = resolutions - 1
    levels = opts["latent_levels"]
    if not isinstance(levels, int) or not 1 <= levels <= resolutions:
        raise SeguqError(
            f"phiseg latent_levels: expected an integer in 1..{resolutions} "
            f"(len(net.widths)), got {levels!r}"
        )
    if not isinstance(opts["latent_channels"], int) or opts["latent_channels"] < 1:
        raise SeguqError(
            f"phiseg latent_channels: expected a positive integer, got {opts['latent_channels']!r}"
        )
    for key in ("warmup_steps", "sample_chunk"):
        if not isinstance(opts[key], int) or opts[key] < 0:
            raise SeguqError(f"phiseg {key}: expected an integer >= 0, got {opts[key]!r}")
    if not isinstance(opts["beta"], int | float) or opts["beta"] < 0:
        raise SeguqError(f"phiseg beta: expected a number >= 0, got {opts['beta']!r}")
    if opts["kl_scale"] not in KL_SCALES:
        raise SeguqError(
            f"phiseg kl_scale: expected one of {', '.join(KL_SCALES)}, got {opts['kl_scale']!r}"
        )
    weights = opts["kl_weights"]
    if weights == "equal":
        opts["kl_weights"] = [1.0] * levels
    elif weights == "exponential":
        opts["kl_weights"] = [4.0**i for i in range(levels)]
    elif (
        isinstance(weights, list | tuple)
        and len(weights) == levels
        and all(isinstance(v, int | float) and v >= 0 for v in weights)
    ):
        opts["kl_weights"] = [float(v) for v in weights]
    else:
        raise SeguqError(
            f"phiseg kl_weights: expected equal, exponential or {levels} numbers >= 0, "
            f"got {weights!r}"
        )
    return opts


@register("phiseg")
class PHiSeg(Method):
    """Hierarchical latent maps (prior, posterior, likelihood nets), sampled coarse to fine."""

    default_samples = 16

    def __init__(self, config, in_channels: int, num_classes: int):
        super().__init__(config, in_channels, num_classes)
        widths, norm = list(config.net.widths), config.net.norm
        if len(widths) < 2:
            raise SeguqError(f"net.widths: need at least 2 levels, got {widths}")
        opts = phiseg_options(config.method.options, len(widths))
        levels, channels = opts["latent_levels"], opts["latent_channels"]
        self.latent_channels = channels
        self.multiple = 2 ** (len(widths) - 1)
        self.beta = float(opts["beta"])
        self.warmup_steps = opts["warmup_steps"]
        self.kl_weights = opts["kl_weights"]
        self.kl_per_pixel = opts["kl_scale"] == "pixels"
        self.deep_supervision = bool(opts["deep_supervision"])
        self.sample_chunk = opts["sample_chunk"]
        dims = self.spatial_dims
        self.prior = LatentHierarchy(in_channels, widths, levels, channels, norm, dims)
        self.posterior = LatentHierarchy(
            in_channels + num_classes, widths, levels, channels, norm, dims
        )
        self.likelihood = Likelihood(widths, levels, channels, num_classes, norm, dims)

    @property
    def levels(self) -> int:
        """Number of latent levels L."""
        return self.prior.levels

    @property
    def level_names(self) -> list[str]:
        """One name per latent level, finest first ("level0" = the finest latent)."""
        return [f"level{i}" for i in range(self.levels)]

    def _pad(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        """Pad (B, C, *spatial) at the ends to multiples of 2 ** (len(widths) - 1); old size too."""
        return pad_to_multiple(x, self.multiple)

    # --- training -----------------------------------------------------------------------------
    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """(CE + soft Dice) per supervised level + beta * sum_l w_l KL(q_l || p_l).

        Averaged over annotators when "labels" is present.

        Args:
            batch: "image" (B, C, *spatial); "label" (B, *spatial) int64, or "labels"
                (B, R, *spatial) int64 for R annotators; optional "step" (scalar) for the
                warm-up.
        """
        x, stack = batch["image"], annotator_labels(batch)
        r, b = stack.shape[1], x.shape[0]
        x_pad, size = self._pad(x)
        labels = stack.transpose(0, 1).flatten(0, 1)  # (R * B, *spatial), annotator-major
        labels_pad = pad_labels(labels, x_pad.shape[2:])
        onehot = F.one_hot(labels_pad, self.num_classes).movedim(-1, 1).to(x.dtype)
        posterior_in = torch.cat([repeat_batch(x_pad, r), onehot], 1)
        q, z = self.posterior.walk(
            self.posterior.encode(posterior_in),
            lambda _, mu, log_sigma: mu + torch.exp(log_sigma) * torch.randn_like(mu),
        )
        # The prior's conditionals are evaluated at the posterior's coarser samples.
        p, _ = self.prior.walk(self.prior.encode(x_pad), lambda level, *_: z[level], copies=r)
        outputs = self.likelihood(z)
        supervised = outputs if self.deep_supervision else outputs[:1]
        segmentation = x.new_zeros(())
        for logits in supervised:
            per_annotator = crop_to(logits, size).unflatten(0, (r, b))
            segmentation = (
                segmentation
                + torch.stack(
                    [ce_dice_loss(per_annotator[i], stack[:, i]) for i in range(r)]
                ).mean()
            )
        # KL per image (summed over the level's latent elements), averaged over images/annotators
        kls = [gaussian_kl(*q[i], *p[i]).flatten(1).sum(1).mean() for i in range(self.levels)]
        kl_total = sum(weight * kl for weight, kl in zip(self.kl_weights, kls, strict=True))
        return kl_regularised_loss(
            segmentation,
            kl_total,
            batch,
            beta=self.beta,
            warmup_steps=self.warmup_steps,
            kl_scale=1 / math.prod(size) if self.kl_per_pixel else 1.0,
            kl_levels=dict(enumerate(kls)),
        )

    # --- inference ----------------------------------------------------------------------------
    def encoder_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The prior net's encoder features at its latent levels."""
        return self.prior.encode(self._pad(x)[0])

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic prediction (B, K, *spatial): every level at its prior mean."""
        x_pad, size = self._pad(x)
        _, means = self.prior.walk(self.prior.encode(x_pad), lambda _, mu, __: mu)
        return crop_to(self.likelihood(means)[0], size)

    def noise_shapes(self, x_shape: tuple[int, ...], n: int) -> dict[str, tuple[int, ...]]:
        """level<l>: (S, B, c, *padded spatial / 2**(l + offset))."""
        m = self.multiple
        padded = [-(-s // m) * m for s in x_shape[2:]]
        offset = self.prior.offset
        return {
            f"level{i}": (
                n,
                x_shape[0],
                self.latent_channels,
                *[s // 2 ** (i + offset) for s in padded],
            )
            for i in range(self.levels)
        }

    def logit_samples(
        self,
        x: torch.Tensor,
        n: int,
        noise: dict[str, torch.Tensor] | None = None,
        sampled_levels: list[int] | None = None,
    ) -> torch.Tensor:
        """(S, B, K, *spatial) logits from ancestral prior samples; the prior's encoder runs
        once.

        Args:
            x: (B, C, *spatial).
            n: samples S.
            sampled_levels: levels drawn from their conditional prior; the others take their
                conditional mean (None = all levels).
        """
        sampled = set(range(self.levels) if sampled_levels is None else sampled_levels)
        x_pad, size = self._pad(x)
        b = x.shape[0]
        features = self.prior.encode(x_pad)
        # All noise is drawn up front so that chunking does not change the samples.
        if noise is None:
            noise = {
                i: torch.randn(
                    n,
                    b,
                    self.latent_channels,
                    *features[i].shape[2:],
                    device=x.device,
                    dtype=x.dtype,
                )
                for i in sorted(sampled)
            }
        else:
            noise = {i: noise[f"level{i}"] for i in sorted(sampled)}
        chunk = self.sample_chunk_size(x, self.sample_chunk, cpu_chunk=2)
        outputs = []
        for start in range(0, n, chunk):
            s = min(chunk, n - start)

            def draw(level: int, mu: torch.Tensor, log_sigma: torch.Tensor, start=start, s=s):
                if level not in noise:
                    return mu
                eps = noise[level][start : start + s].flatten(0, 1)
                return mu + torch.exp(log_sigma) * eps

            _, latents = self.prior.walk(features, draw, copies=s)
            logits = crop_to(self.likelihood(latents)[0], size)
            outputs.append(logits.unflatten(0, (s, b)))
        return torch.cat(outputs)

    @torch.no_grad()
    def sample_level(self, x: torch.Tensor, n: int | None, level: str) -> torch.Tensor:
        """(S, B, K, *spatial) probabilities sampling one level (`level_names`), the others at
        their mean.

        Raises:
            SeguqError: an unknown level name.
        """
        if level not in self.level_names:
            raise SeguqError(
                f"phiseg: unknown level '{level}' (known: {', '.join(self.level_names)})"
            )
        logits = self.logit_samples(
            x, n or self.default_samples, sampled_levels=[int(level.removeprefix("level"))]
        )
        return torch.softmax(logits.float() / self.temperature, dim=2)
