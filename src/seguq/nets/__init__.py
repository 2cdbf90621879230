"""Backbones and building blocks. Nets know nothing of losses, methods or files."""

from seguq.nets.unet import UNet, build_unet

__all__ = ["UNet", "build_unet"]
