"""One synthetic fundus case: the anatomy, its rendering by a site's camera, and rater masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from seguq.data.synthetic.fields import ZERO_PROFILE, RadialProfile, WobblyEllipse, smooth_field
from seguq.data.synthetic.options import MAX_RATERS, check_int, check_size
from seguq.data.synthetic.sites import apply_camera, illumination, site_style
from seguq.data.synthetic.vessels import vessel_map
from seguq.errors import SeguqError

CLASS_NAMES = ("background", "disc_rim", "cup")
SITES = ("site1", "site2", "site3", "site4")

# Scene colours (linear 0..1 RGB) before the site's camera.
_RETINA = np.array([0.80, 0.34, 0.13], dtype=np.float32)
_DISC = np.array([0.93, 0.62, 0.36], dtype=np.float32)
_CUP = np.array([1.00, 0.93, 0.78], dtype=np.float32)
_VESSEL_DEPTH = np.array([0.40, 0.60, 0.55], dtype=np.float32)  # per-channel darkening


@dataclass(frozen=True)
class FundusAnatomy:
    """The true shapes of one eye: a disc with a cup nested inside it.

    Attributes:
        disc: the optic disc outline.
        cup: the cup outline, before being clipped to the inside of the disc.
        macula_side: +1 when the macula lies to the right of the disc, -1 when to the left.
    """

    disc: WobblyEllipse
    cup: WobblyEllipse
    macula_side: float

    @property
    def disc_radius(self) -> float:
        """Mean semi-axis of the disc in pixels."""
        return 0.5 * (self.disc.ru + self.disc.rv)


def sample_anatomy(rng: np.random.Generator, shape: tuple[int, int]) -> FundusAnatomy:
    """Draw a disc (position, size, eccentricity, irregular rim) and a cup nested inside it.

    The disc centre lies within 22% of the image extent from the centre and its radius is at
    most about 23% of the shorter side, so the disc stays inside the field of view.
    """
    h, w = shape
    side = min(h, w)
    phi = rng.uniform(0.0, 2 * np.pi)
    reach = 0.22 * np.sqrt(rng.uniform())
    cy, cx = h / 2 + reach * h * np.sin(phi), w / 2 + reach * w * np.cos(phi)
    radius = rng.uniform(0.12, 0.19) * side
    aspect = rng.uniform(0.78, 1.0)  # minor / major axis
    angle = rng.uniform(0.0, np.pi)
    disc = WobblyEllipse(
        cy, cx, radius, radius * aspect, angle,
        RadialProfile.random(rng, bias=0.0, amplitude=0.05, n_harmonics=4),
    )  # fmt: skip
    cup_to_disc = rng.uniform(0.35, 0.65)
    shift = rng.uniform(0.0, 0.12 * radius)
    shift_dir = rng.uniform(0.0, 2 * np.pi)
    cup = WobblyEllipse(
        cy + shift * np.sin(shift_dir),
        cx + shift * np.cos(shift_dir),
        radius * cup_to_disc * rng.uniform(0.9, 1.1),
        radius * aspect * cup_to_disc * rng.uniform(0.9, 1.1),
        angle + rng.normal(0.0, 0.2),
        RadialProfile.random(rng, bias=0.0, amplitude=0.06, n_harmonics=3),
    )
    macula_side = 1.0 if cx < w / 2 else -1.0
    return FundusAnatomy(disc, cup, macula_side)


def label_map(
    anatomy: FundusAnatomy,
    shape: tuple[int, int],
    disc_change: RadialProfile,
    cup_change: RadialProfile,
) -> np.ndarray:
    """Class map (H, W) uint8 of the anatomy with the rater's relative boundary changes.

    The cup is clipped to the disc eroded by one pixel, so it is always surrounded by rim.
    """
    disc_shape = anatomy.disc
    # Only the window around the disc can hold labels: evaluate the shapes there.
    reach = disc_shape.bounding_radius(disc_change) + 2
    top, left = max(int(disc_shape.cy - reach), 0), max(int(disc_shape.cx - reach), 0)
    bottom = min(int(disc_shape.cy + reach) + 2, shape[0])
    right = min(int(disc_shape.cx + reach) + 2, shape[1])
    yy, xx = np.mgrid[top:bottom, left:right].astype(np.float32)
    disc = disc_shape.inside(yy, xx, disc_change)
    cup = anatomy.cup.inside(yy, xx, cup_change)
    cup &= ndimage.binary_erosion(disc, structure=np.ones((3, 3), dtype=bool))
    labels = np.zeros(shape, dtype=np.uint8)
    window = labels[top:bottom, left:right]
    window[disc] = 1
    window[cup] = 2
    return labels


def rater_masks(
    rng: np.random.Generator, anatomy: FundusAnatomy, shape: tuple[int, int], n_raters: int
) -> list[np.ndarray]:
    """Masks of `n_raters` annotators: rater 0 draws the true shapes, the others perturb them.

    Each other rater dilates or erodes the disc by up to ~6% of its radius (about 1-2 pixels at
    128 pixels) and adds a smooth low-frequency radial offset; the cup, harder to see, gets
    twice the relative change. Far from the boundaries all raters agree.
    """
    masks = [label_map(anatomy, shape, ZERO_PROFILE, ZERO_PROFILE)]
    for _ in range(n_raters - 1):
        disc_change = RadialProfile.random(rng, bias=0.06, amplitude=0.025)
        cup_change = RadialProfile.random(rng, bias=0.10, amplitude=0.04)
        masks.append(label_map(anatomy, shape, disc_change, cup_change))
    return masks


def render_fundus(
    rng: np.random.Generator,
    anatomy: FundusAnatomy,
    truth: np.ndarray,
    site: str,
    hard: bool = False,
) -> np.ndarray:
    """Render the anatomy, with true class map `truth` (H, W), as the site photographs it.

    Returns:
        (H, W, 3) uint8 image.
    """
    h, w = shape = truth.shape
    scale = min(h, w) / 128.0
    style = site_style(site, hard)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ny, nx = (yy - h / 2) / (h / 2), (xx - w / 2) / (w / 2)
    fov_r = np.sqrt(ny * ny + nx * nx) / 0.97
    fov = np.clip((1.0 - fov_r) * min(h, w) / 3.0 + 0.5, 0.0, 1.0)

    # Retina: smooth choroidal texture (coarse and fine), a dark macula, a bright halo at the disc.
    texture = 0.07 * smooth_field(rng, shape, 0.3) + 0.035 * smooth_field(rng, shape, 0.06)
    scene = _RETINA * (1.0 + texture[..., None] * np.array([1.0, 1.3, 1.5], dtype=np.float32))
    disc, r_disc = anatomy.disc, anatomy.disc_radius
    my = disc.cy + rng.normal(0.0, 0.3 * r_disc)
    mx = disc.cx + anatomy.macula_side * rng.uniform(2.2, 2.8) * 2 * r_disc
    d2_macula = ((yy - my) ** 2 + (xx - mx) ** 2) / (1.6 * r_disc) ** 2
    macula = 1.0 - 0.35 * np.exp(-0.5 * d2_macula) - 0.15 * np.exp(-4.0 * d2_macula)
    d2_disc = ((yy - disc.cy) ** 2 + (xx - disc.cx) ** 2) / (1.8 * r_disc) ** 2
    halo = 1.0 + 0.18 * np.exp(-0.5 * d2_disc)
    scene = scene * (macula * halo)[..., None]

    # Disc and cup with soft edges; the disc is pinker towards its rim.
    soft = 0.6 * scale + 0.3
    disc_alpha = ndimage.gaussian_filter((truth >= 1).astype(np.float32), soft)
    cup_alpha = ndimage.gaussian_filter((truth == 2).astype(np.float32), 1.5 * soft)
    pallor = 1.0 + 0.05 * smooth_field(rng, shape, 0.08)[..., None]
    disc_strength = rng.uniform(0.75, 0.9)
    scene = scene * (1 - disc_strength * disc_alpha[..., None]) + (
        _DISC * pallor * disc_strength * disc_alpha[..., None]
    )
    cup_strength = rng.uniform(0.8, 0.95)
    scene = scene * (1 - cup_strength * cup_alpha[..., None]) + (
        _CUP * cup_strength * cup_alpha[..., None]
    )

    # Vessels on top of everything, slightly fainter inside the cup.
    vessels = vessel_map(rng, shape, (disc.cy, disc.cx), r_disc, anatomy.macula_side)
    vessels *= 1.0 - 0.3 * cup_alpha
    depth = _VESSEL_DEPTH * rng.uniform(0.75, 1.0)
    scene = scene * (1.0 - vessels[..., None] * depth)

    scene = scene * illumination(rng, style, ny, nx, fov_r)[..., None]
    return apply_camera(rng, scene, style, fov)


def generate_case(
    rng: np.random.Generator, site: str, size: tuple[int, int], n_raters: int, hard: bool = False
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Generate one fundus-like image and its annotators' masks.

    Args:
        rng: random generator; the case is a pure function of its state.
        site: one of SITES; sets the camera style.
        size: (height, width) in pixels, each side in 32..2048 (an int means a square).
        n_raters: number of annotators, 1..8.
        hard: the hard mode (site4 photographed as `sites.HARD_SITE4`).

    Returns:
        The image (H, W, 3) uint8 and one (H, W) uint8 mask per rater with classes
        0 background, 1 disc rim, 2 cup; rater 0 is the reference (the true shapes).

    Raises:
        SeguqError: unknown site, bad size or bad n_raters.
    """
    if site not in SITES:
        raise SeguqError(f"synthetic: unknown site {site!r} (known: {', '.join(SITES)})")
    shape = check_size(size)
    n_raters = check_int("n_raters", n_raters, 1, MAX_RATERS)
    anatomy = sample_anatomy(rng, shape)
    masks = rater_masks(rng, anatomy, shape, n_raters)
    image = render_fundus(rng, anatomy, masks[0], site, hard)
    return image, masks
