"""Uncertainty methods: one file each, all under the contract in `base.py`.

Importing a method's module registers it; add a new method's module to the list below.
"""

from seguq.methods import (  # noqa: F401  (imported to register the methods)
    deterministic,
    ensemble,
    hue,
    mc_dropout,
    phiseg,
    pixelwise,
    prob_unet,
    tta,
)
from seguq.methods.base import REGISTRY, Method, build_method, method_names, register

__all__ = ["REGISTRY", "Method", "build_method", "method_names", "register"]
