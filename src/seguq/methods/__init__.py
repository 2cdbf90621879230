"""Uncertainty methods: one file each, all under the contract in `base.py`."""

from seguq.methods import deterministic, ensemble, hue, mc_dropout, pixelwise, tta  # noqa: F401  (registers)
from seguq.methods.base import REGISTRY, Method, build_method, method_names, register

__all__ = ["REGISTRY", "Method", "build_method", "method_names", "register"]
