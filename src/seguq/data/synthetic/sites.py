"""The fixed acquisition style of each synthetic site (camera, illumination, noise).

The values of SITE_STYLES are tabulated, with what sets the sites apart, in the docstring of
`seguq.data.synthetic`; a test keeps the table and the values in step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class SiteStyle:
    """How one site's camera turns a scene (0..1 RGB) into a photograph.

    Attributes:
        gain: per-channel colour balance (R, G, B).
        brightness: overall multiplier.
        contrast: scaling of the deviation from the mean inside the field of view.
        gamma: exponent applied to the 0..1 intensities.
        blur: Gaussian blur sigma in pixels of a 128-pixel image.
        noise: standard deviation of additive Gaussian noise.
        vignetting: fall-off of the illumination towards the rim of the field of view.
        gradient: strength of a linear illumination gradient in a random direction.
    """

    gain: tuple[float, float, float]
    brightness: float
    contrast: float
    gamma: float
    blur: float
    noise: float
    vignetting: float
    gradient: float


SITE_STYLES: dict[str, SiteStyle] = {
    "site1": SiteStyle((1.00, 1.00, 1.00), 1.00, 1.00, 1.00, 0.5, 0.015, 0.35, 0.10),
    "site2": SiteStyle((1.12, 0.80, 0.70), 0.95, 1.20, 0.90, 0.3, 0.030, 0.45, 0.15),
    "site3": SiteStyle((0.95, 1.12, 1.10), 1.10, 0.90, 1.10, 0.9, 0.020, 0.20, 0.30),
    "site4": SiteStyle((0.70, 0.85, 1.40), 0.95, 0.70, 1.20, 1.6, 0.035, 0.55, 0.10),
}


# The harder unseen site (`synthetic:hard=true`): much bluer, low-contrast, a strong gamma (dark
# retina, the disc still the brightest structure), heavy blur and noise, a strong gradient: shifts
# per-image normalisation does not undo (a U-Net trained on sites 1-3 loses ~20 Dice points).
HARD_SITE4 = SiteStyle((0.50, 1.00, 1.90), 2.20, 0.45, 2.60, 2.6, 0.060, 0.60, 0.50)


def site_style(site: str, hard: bool = False) -> SiteStyle:
    """The camera style of `site`; in the hard mode site4 is HARD_SITE4."""
    return HARD_SITE4 if hard and site == "site4" else SITE_STYLES[site]


def illumination(
    rng: np.random.Generator, style: SiteStyle, yy: np.ndarray, xx: np.ndarray, fov_r: np.ndarray
) -> np.ndarray:
    """Multiplicative illumination: vignetting towards the rim plus a random linear gradient.

    Args:
        rng: random generator (draws the gradient direction).
        style: the site's style.
        yy: (H, W) row coordinates normalised to -1..1.
        xx: (H, W) column coordinates normalised to -1..1.
        fov_r: (H, W) normalised distance from the centre of the field of view (1 at its rim).

    Returns:
        (H, W) float32 illumination factor.
    """
    direction = rng.uniform(0.0, 2 * np.pi)
    ramp = np.cos(direction) * xx + np.sin(direction) * yy
    light = (1.0 - style.vignetting * np.clip(fov_r, 0.0, 1.2) ** 2) * (1.0 + style.gradient * ramp)
    return np.clip(light, 0.05, None).astype(np.float32)


def apply_camera(
    rng: np.random.Generator, scene: np.ndarray, style: SiteStyle, fov: np.ndarray
) -> np.ndarray:
    """Turn a lit scene (H, W, 3) in 0..1 into the site's uint8 photograph.

    Colour balance (with a small per-image jitter), contrast about the mean inside the field of
    view, gamma, blur, noise, then the black surround outside the field of view.

    Args:
        rng: random generator (per-image jitter and noise).
        scene: (H, W, 3) float image, 0..1.
        style: the site's style.
        fov: (H, W) soft field-of-view mask, 0..1.

    Returns:
        (H, W, 3) uint8 image.
    """
    scale = min(scene.shape[:2]) / 128.0
    jitter = rng.uniform(0.97, 1.03, 3) * rng.uniform(0.95, 1.05)
    img = scene * (np.asarray(style.gain) * style.brightness * jitter).astype(np.float32)
    inside = fov > 0.5
    mean = img[inside].mean(axis=0)
    img = mean + style.contrast * (img - mean)
    img = np.clip(img, 0.0, 1.0) ** style.gamma
    sigma = style.blur * scale
    if sigma > 0.05:
        img = ndimage.gaussian_filter(img, (sigma, sigma, 0))
    img = img + rng.normal(0.0, style.noise, img.shape).astype(np.float32)
    img = img * fov[..., None]
    return to_uint8(img)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Clip a 0..1 float image and quantise it to uint8."""
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
