"""Building blocks of the synthetic generators: smooth noise, wobbly ellipses, line splats."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def _rbf_basis(n: int, length: float) -> np.ndarray:
    """Gaussian bumps every `length / 2` pixels, evaluated at pixel centres: (n, n_bumps)."""
    spacing = max(length / 2.0, 1.0)
    centres = np.arange(-length, n + length + spacing, spacing)
    offsets = (np.arange(n)[:, None] - centres[None, :]) / spacing
    return np.exp(-0.5 * offsets**2)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """A zero-mean, unit-variance random field with features about `scale * min(shape)` wide.

    A random weighted sum of separable Gaussian bumps: two small matrix products, so it costs
    far less than blurring white noise with a wide kernel.

    Args:
        rng: random generator.
        shape: (H, W) of the field.
        scale: feature size as a fraction of the shorter side.

    Returns:
        (H, W) float32 array.
    """
    h, w = shape
    length = scale * min(h, w)
    basis_y = _rbf_basis(h, length)
    basis_x = _rbf_basis(w, length)
    weights = rng.standard_normal((basis_y.shape[1], basis_x.shape[1]))
    field = basis_y @ weights @ basis_x.T
    field -= field.mean()
    field /= field.std() + 1e-12
    return field.astype(np.float32)


@dataclass(frozen=True)
class RadialProfile:
    """A smooth periodic function of angle: `bias + sum_k amp_k * cos(k * theta + phase_k)`."""

    bias: float
    amplitudes: tuple[float, ...]
    phases: tuple[float, ...]

    @classmethod
    def random(
        cls, rng: np.random.Generator, *, bias: float, amplitude: float, n_harmonics: int = 3
    ) -> RadialProfile:
        """Draw a profile with a uniform bias in [-bias, bias] and harmonics 1..n_harmonics.

        Args:
            rng: random generator.
            bias: largest absolute constant offset (a uniform erosion / dilation).
            amplitude: largest amplitude of each harmonic.
            n_harmonics: number of harmonics (low frequencies only, so the boundary stays smooth).

        Returns:
            The profile.
        """
        return cls(
            bias=float(rng.uniform(-bias, bias)),
            amplitudes=tuple(float(a) for a in rng.uniform(0.0, amplitude, n_harmonics)),
            phases=tuple(float(p) for p in rng.uniform(0.0, 2 * np.pi, n_harmonics)),
        )

    def upper_bound(self) -> float:
        """An upper bound of the profile over all angles."""
        return abs(self.bias) + sum(self.amplitudes)

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        """Evaluate the profile at angles `theta` (radians), any shape."""
        out = np.full(theta.shape, self.bias, dtype=np.float32)
        for k, (amp, phase) in enumerate(zip(self.amplitudes, self.phases, strict=True), start=1):
            out += amp * np.cos(k * theta + phase)
        return out


ZERO_PROFILE = RadialProfile(bias=0.0, amplitudes=(), phases=())


@dataclass(frozen=True)
class WobblyEllipse:
    """A rotated ellipse whose radius is modulated by a radial profile.

    Attributes:
        cy: centre row (pixels).
        cx: centre column (pixels).
        ru: semi-axis along the rotated u axis (pixels).
        rv: semi-axis along the rotated v axis (pixels).
        angle: rotation of the u axis from the column axis (radians).
        profile: relative radius change as a function of the polar angle.
    """

    cy: float
    cx: float
    ru: float
    rv: float
    angle: float
    profile: RadialProfile = ZERO_PROFILE

    def bounding_radius(self, extra: RadialProfile = ZERO_PROFILE) -> float:
        """A radius (pixels) around the centre beyond which `inside(..., extra)` is False."""
        return max(self.ru, self.rv) * (1 + self.profile.upper_bound()) * (1 + extra.upper_bound())

    def normalised_distance(self, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        """Distance from the centre divided by the local boundary radius (< 1 inside)."""
        dy, dx = yy - self.cy, xx - self.cx
        cos_a, sin_a = np.cos(self.angle), np.sin(self.angle)
        u = (dx * cos_a + dy * sin_a) / self.ru
        v = (-dx * sin_a + dy * cos_a) / self.rv
        rho = np.sqrt(u * u + v * v)
        return rho / (1.0 + self.profile(np.arctan2(v, u)))

    def inside(
        self, yy: np.ndarray, xx: np.ndarray, extra: RadialProfile = ZERO_PROFILE
    ) -> np.ndarray:
        """Boolean mask of the shape, its radius further scaled by `1 + extra(theta)`."""
        if extra is ZERO_PROFILE:
            return self.normalised_distance(yy, xx) <= 1.0
        dy, dx = yy - self.cy, xx - self.cx
        cos_a, sin_a = np.cos(self.angle), np.sin(self.angle)
        u = (dx * cos_a + dy * sin_a) / self.ru
        v = (-dx * sin_a + dy * cos_a) / self.rv
        theta = np.arctan2(v, u)
        radius = (1.0 + self.profile(theta)) * (1.0 + extra(theta))
        return np.sqrt(u * u + v * v) <= radius


def splat_polyline(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear splat of densely sampled curve points (N, 2) as (row, col) onto an (H, W) grid.

    Points should be about half a pixel apart; each carries weight 0.5 so that a line has about
    unit mass per pixel of length, and blurring it with a Gaussian of width sigma followed by
    multiplication with sqrt(2 pi) sigma gives a profile peaking near 1.

    Args:
        points: (N, 2) curve samples in pixel coordinates; points outside the grid are dropped.
        shape: (H, W) of the grid.

    Returns:
        (H, W) float32 density.
    """
    h, w = shape
    out = np.zeros(h * w, dtype=np.float64)
    if len(points) == 0:
        return out.reshape(h, w).astype(np.float32)
    r0 = np.floor(points[:, 0]).astype(np.int64)
    c0 = np.floor(points[:, 1]).astype(np.int64)
    fr = points[:, 0] - r0
    fc = points[:, 1] - c0
    for dr, dc, weight in (
        (0, 0, (1 - fr) * (1 - fc)),
        (0, 1, (1 - fr) * fc),
        (1, 0, fr * (1 - fc)),
        (1, 1, fr * fc),
    ):
        rows, cols = r0 + dr, c0 + dc
        ok = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        out += np.bincount(rows[ok] * w + cols[ok], weights=0.5 * weight[ok], minlength=h * w)
    return out.reshape(h, w).astype(np.float32)


def draw_lines(density: np.ndarray, sigma: float) -> np.ndarray:
    """Blur a splatted line density into lines whose centre value is about 1, clipped to [0, 1]."""
    blurred = ndimage.gaussian_filter(density, sigma, mode="constant")
    return np.clip(blurred * (np.sqrt(2 * np.pi) * sigma), 0.0, 1.0)
