"""Out-of-distribution cases: other anatomy (no masks) and corrupted fundus images (masks kept).

`ood_anatomy` alternates two grey modalities: even indices look like a chest X-ray (lung
fields, spine, ribs, diaphragm), odd indices like an ultrasound sector (speckle, dark cysts,
depth attenuation). `ood_corrupt` renders a site1 case and then, cycling with the index,
adds heavy Gaussian noise, a strong blur, or a bright square patch.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from seguq.data.synthetic.fields import draw_lines, smooth_field, splat_polyline
from seguq.data.synthetic.fundus import generate_case
from seguq.data.synthetic.sites import to_uint8

CORRUPTIONS = ("noise", "blur", "patch")


def _grey(img: np.ndarray) -> np.ndarray:
    """A 0..1 float (H, W) image as a uint8 RGB image with equal channels."""
    return np.repeat(to_uint8(img)[..., None], 3, axis=2)


def chest_xray(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A grey chest-X-ray-like image (H, W, 3) uint8: dark lungs, bright spine, ribs, diaphragm."""
    h, w = shape
    scale = min(h, w) / 128.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # patient position and size: a shift and zoom of the normalised body coordinates
    shift, lift, zoom = rng.uniform(-0.08, 0.08), rng.uniform(-0.05, 0.05), rng.uniform(0.85, 1.1)
    ny = (yy / h - 0.5) / zoom + 0.5 - lift
    nx = (xx - w / 2) / (w / 2) / zoom - shift
    body = np.clip(1.3 - np.abs(nx) ** 4, 0.0, 1.0) * 0.65
    img = body + 0.04 * smooth_field(rng, shape, 0.2)
    for side in (-1.0, 1.0):
        # a tall rounded lung field whose floor is the dome of the diaphragm
        cx, cy = side * rng.uniform(0.45, 0.52), rng.uniform(0.48, 0.52)
        rx, ry = rng.uniform(0.28, 0.34), rng.uniform(0.36, 0.4)
        u, v = (nx - cx) / rx, (ny - cy) / ry
        dome = 0.75 - 0.25 * (1.0 - u**2)
        lung = (u**2 + np.minimum(v, 0.0) ** 2 < 1.0) & (v < dome)
        img -= 0.4 * ndimage.gaussian_filter(lung.astype(np.float32), 2.0 * scale)
    # spine: a bright vertical band with vertebra bumps
    spine = np.exp(-0.5 * (nx / 0.07) ** 2) * (0.85 + 0.15 * np.cos(ny * 2 * np.pi * 12))
    img += 0.25 * spine
    # ribs: bright arcs across each side
    density = np.zeros(shape, dtype=np.float32)
    t = np.linspace(0.0, 1.0, int(2 * w))
    spacing = rng.uniform(0.062, 0.078)
    for k in range(9):
        rib_y = 0.12 + spacing * k + rng.normal(0.0, 0.006) - 0.04 * np.sin(np.pi * t) + 0.16 * t**2
        for side in (-1.0, 1.0):
            cols = w / 2 + (side * t * 0.9 + shift) * zoom * w / 2
            rows = h * ((rib_y - 0.5 + lift) * zoom + 0.5)
            density += splat_polyline(np.stack([rows, cols], axis=1), shape)
    img += 0.18 * draw_lines(density, 1.2 * scale)
    img += rng.normal(0.0, 0.02, shape)
    img = np.clip(ndimage.gaussian_filter(img, 0.6 * scale), 0.0, 1.0) ** rng.uniform(0.8, 1.25)
    return _grey(img * rng.uniform(0.85, 1.1))


def ultrasound(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A grey ultrasound-like sector (H, W, 3) uint8: speckle, dark cysts, depth attenuation."""
    h, w = shape
    scale = min(h, w) / 128.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    apex_y, apex_x = -0.05 * h, w / 2
    depth = np.sqrt((yy - apex_y) ** 2 + (xx - apex_x) ** 2) / h
    angle = np.arctan2(xx - apex_x, yy - apex_y)
    half_angle = rng.uniform(0.55, 0.7)
    sector = (np.abs(angle) < half_angle) & (depth > 0.1) & (depth < 1.0)
    # Rayleigh-distributed speckle, slightly blurred, modulated by smooth tissue echogenicity
    speckle = ndimage.gaussian_filter(rng.rayleigh(1.0, shape).astype(np.float32), 0.7 * scale)
    tissue = 0.45 + 0.12 * smooth_field(rng, shape, 0.25)
    img = tissue * speckle * np.exp(-1.2 * depth)
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.uniform(0.35, 0.8) * h, w / 2 + rng.uniform(-0.25, 0.25) * w
        ry, rx = rng.uniform(0.05, 0.12) * h, rng.uniform(0.06, 0.15) * w
        d = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        img = img * np.clip(0.15 + 0.85 * (d - 0.8) / 0.4, 0.15, 1.0)
        img += 0.25 * np.exp(-((d - 1.2) ** 2) / 0.05) * (yy > cy)  # bright posterior wall
    return _grey(img * ndimage.gaussian_filter(sector.astype(np.float32), 1.0))


def anatomy_case(rng: np.random.Generator, shape: tuple[int, int], index: int) -> np.ndarray:
    """The `index`-th `ood_anatomy` image: chest X-ray for even indices, ultrasound for odd."""
    return chest_xray(rng, shape) if index % 2 == 0 else ultrasound(rng, shape)


def corrupt(rng: np.random.Generator, image: np.ndarray, kind: str) -> np.ndarray:
    """Apply one strong corruption ("noise", "blur" or "patch") to a uint8 RGB image."""
    scale = min(image.shape[:2]) / 128.0
    img = image.astype(np.float32) / 255.0
    if kind == "noise":
        img = img + rng.normal(0.0, 0.25, img.shape)
    elif kind == "blur":
        img = ndimage.gaussian_filter(img, (4.0 * scale, 4.0 * scale, 0))
    else:
        h, w = img.shape[:2]
        side = int(rng.uniform(0.25, 0.35) * min(h, w))
        top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        img[top : top + side, left : left + side] = rng.uniform(0.9, 1.0, 3)
    return to_uint8(img)


def corrupt_case(
    rng: np.random.Generator, shape: tuple[int, int], n_raters: int, index: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The `index`-th `ood_corrupt` case: a site1 case, corruption cycling over CORRUPTIONS."""
    image, masks = generate_case(rng, "site1", shape, n_raters)
    return corrupt(rng, image, CORRUPTIONS[index % len(CORRUPTIONS)]), masks
