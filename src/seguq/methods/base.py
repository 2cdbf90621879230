"""The Method contract and the registry.

Every method answers `sample(x, n)` with S samples of class probabilities, a tensor (S, B, K, H, W).
Uncertainty maps, metrics, OOD scores and writers consume only that tensor. A new method is one file
that subclasses `Method` and registers itself with `@register("name")`.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

from seguq.config import RunConfig
from seguq.devices import chunk_for_memory
from seguq.errors import SeguqError

Batch = dict[str, torch.Tensor]


class Method(nn.Module):
    """Base class of every uncertainty method.

    Subclasses implement `loss` (training) and `logit_samples` (inference); the base class turns
    logit samples into probabilities through the fitted temperature.

    Attributes:
        name: registry name.
        default_samples: S used when the user does not choose.
        member_count: > 1 for methods trained as independent members (deep ensembles); the engine
            then trains `member_count` copies of `member_method` and loads them with `load_members`.
    """

    name: ClassVar[str] = ""
    default_samples: ClassVar[int] = 1
    # True for methods whose samples draw an image-level latent: sliding windows then share
    # their random numbers so that one sample is one draw over the whole image.
    image_level_latent: ClassVar[bool] = False
    member_method: ClassVar[str | None] = None

    def __init__(self, config: RunConfig, in_channels: int, num_classes: int):
        super().__init__()
        self.config = config
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.spatial_dims = config.data.dims  # 2 or 3: the network's spatial axes
        # Temperature scaling (1 = none); a buffer so it is saved with the weights.
        self.register_buffer("temperature", torch.ones(()))

    @property
    def member_count(self) -> int:
        """How many independently trained members this method needs (1 = trained as one)."""
        return 1

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss for a batch.

        Args:
            batch: "image" (B, C, *spatial) float, "label" (B, *spatial) int64.

        Returns:
            (scalar loss, named scalars to log).
        """
        raise NotImplementedError

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic logits (B, K, *spatial): the method's single best guess (validation)."""
        raise NotImplementedError

    def logit_samples(
        self, x: torch.Tensor, n: int, noise: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """S = n samples of logits, (S, B, K, *spatial). Methods with a fixed S may ignore n.

        Args:
            x: (B, C, *spatial).
            n: samples S.
            noise: the random numbers to use, by the names and shapes of `noise_shapes`
                (None: drawn here); exported graphs take them as inputs.
        """
        raise NotImplementedError

    def noise_shapes(self, x_shape: tuple[int, ...], n: int) -> dict[str, tuple[int, ...]]:
        """The random numbers n samples of an input of `x_shape` draw: name -> shape, all
        standard normal except dropout masks ("dropout<j>", Bernoulli keep masks). {} for
        methods whose samples are deterministic."""
        return {}

    def encoder_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder features per resolution level, finest first, (B, C_l, *spatial_l): what the
        feature-space OOD score compares with the training data."""
        raise NotImplementedError

    @property
    def auxiliary_map_names(self) -> list[str]:
        """Names of maps a method predicts directly (e.g. a learned variance); none by default."""
        return []

    def auxiliary_maps(self, x: torch.Tensor) -> torch.Tensor:
        """(B, len(auxiliary_map_names), H, W) maps predicted by the method itself."""
        return x.new_zeros(x.shape[0], 0, *x.shape[2:])

    @property
    def level_names(self) -> list[str]:
        """Names of the hierarchy levels that can be sampled on their own (none by default)."""
        return []

    def sample_level(self, x: torch.Tensor, n: int | None, level: str) -> torch.Tensor:
        """(S, B, K, H, W) probabilities sampling only `level`; for hierarchical methods.

        Raises:
            SeguqError: the method has no hierarchy levels.
        """
        raise SeguqError(f"method '{self.name}' has no hierarchical levels to sample one by one")

    def sample_chunk_size(self, x: torch.Tensor, configured: int, cpu_chunk: int) -> int:
        """Samples decoded per batch: `configured` when > 0; else `cpu_chunk` on the CPU and,
        on a GPU, as many as half its free memory holds (a decoded sample of x keeps about 32
        bytes per pixel and first-level channel)."""
        if configured > 0:
            return configured
        pixels = x.shape[0] * math.prod(x.shape[2:])
        per_sample = 32.0 * pixels * self.config.net.widths[0]
        return chunk_for_memory(x.device, per_sample, cpu_chunk)

    @torch.no_grad()
    def sample(self, x: torch.Tensor, n: int | None = None) -> torch.Tensor:
        """S samples of class probabilities.

        Args:
            x: (B, C, *spatial) normalised images (2 or 3 spatial axes, as `spatial_dims`).
            n: number of samples S (None = the method's default).

        Returns:
            (S, B, K, *spatial) probabilities summing to 1 over K.
        """
        n = n or self.default_samples
        logits = self.logit_samples(x, n).float()
        return torch.softmax(logits / self.temperature, dim=2)


def unet_features(net, x: torch.Tensor) -> list[torch.Tensor]:
    """A U-Net's encoder features of (B, C, *spatial) images (padded as the net pads them)."""
    return net.encode(net.pad(x)[0])


def merge_options(method: str, options: dict, defaults: dict) -> dict:
    """A method's `method.options` over its defaults.

    Raises:
        SeguqError: an option name the method does not know.
    """
    unknown = set(options) - set(defaults)
    if unknown:
        raise SeguqError(
            f"method.options: unknown {method} option(s) {sorted(unknown)} "
            f"(known: {sorted(defaults)})"
        )
    return {**defaults, **options}


REGISTRY: dict[str, type[Method]] = {}


def register(name: str):
    """Class decorator adding a Method subclass to the registry under `name`."""

    def add(cls: type[Method]) -> type[Method]:
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return add


def method_names() -> list[str]:
    """Registered method names, sorted."""
    _import_all()
    return sorted(REGISTRY)


def build_method(config: RunConfig, in_channels: int, num_classes: int) -> Method:
    """Instantiate the method named in `config.method.name`.

    Raises:
        SeguqError: unknown method name.
    """
    _import_all()
    name = config.method.name
    if name not in REGISTRY:
        raise SeguqError(
            f"--method: unknown method '{name}' (known: {', '.join(sorted(REGISTRY))})"
        )
    return REGISTRY[name](config, in_channels, num_classes)


def _import_all() -> None:
    # Importing the package registers every method file.
    import seguq.methods  # noqa: F401
