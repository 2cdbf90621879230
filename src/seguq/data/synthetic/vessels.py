"""Branching retinal vessels: random walks from the optic disc, splatted and blurred."""

from __future__ import annotations

import numpy as np

from seguq.data.synthetic.fields import draw_lines, splat_polyline

# Gaussian width (pixels of a 128-pixel image) and darkness of each branching level.
_LEVEL_SIGMA = (0.9, 0.6, 0.45)
_LEVEL_DARKNESS = (1.0, 0.75, 0.5)
_STEP = 0.5  # pixels between curve samples (see splat_polyline)


def _walk(
    rng: np.random.Generator,
    start: np.ndarray,
    heading: float,
    length: float,
    turn: float,
    wiggle: float,
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random walk: returns points (N, 2) as (row, col) and the heading at each point."""
    n = max(int(length / _STEP), 2)
    # Smooth the angular noise so vessels curve gently instead of jittering every step.
    noise = rng.normal(0.0, wiggle, n)
    kernel = np.ones(9) / 9.0
    noise = np.convolve(noise, kernel, mode="same") * 3.0
    headings = heading + np.cumsum(turn / n + noise)
    steps = _STEP * np.stack([np.sin(headings), np.cos(headings)], axis=1)
    return start + np.cumsum(steps, axis=0), headings


def vessel_map(
    rng: np.random.Generator,
    shape: tuple[int, int],
    disc_centre: tuple[float, float],
    disc_radius: float,
    macula_side: float,
) -> np.ndarray:
    """Darkness map of a vessel tree rooted in the optic disc.

    Four main arcades leave the disc upwards and downwards, two bending towards the macula and
    two away from it, plus one or two smaller trunks; each vessel spawns thinner branches.

    Args:
        rng: random generator.
        shape: (H, W) of the image.
        disc_centre: (row, col) of the optic disc centre.
        disc_radius: mean disc radius in pixels.
        macula_side: +1 when the macula lies to the right of the disc, -1 when to the left.

    Returns:
        (H, W) float32 in 0..1, 1 at the centre of the darkest vessels.
    """
    size = float(min(shape))
    scale = size / 128.0
    centre = np.asarray(disc_centre, dtype=np.float64)
    # Headings and bends are drawn as if the macula lay to the right, then mirrored if needed.
    trunks = []
    for vertical in (-1.0, 1.0):  # up (-row), down (+row)
        # an arcade bending round the macula, and a nasal vessel bending away from it
        trunks.append((vertical * rng.uniform(0.9, 1.3), -vertical))
        trunks.append((vertical * rng.uniform(1.9, 2.4), vertical))
    for _ in range(rng.integers(0, 3)):
        trunks.append((rng.uniform(0, 2 * np.pi), rng.choice([-1.0, 1.0])))
    if macula_side < 0:
        trunks = [(np.pi - heading, -bend) for heading, bend in trunks]

    levels: list[list[np.ndarray]] = [[], [], []]
    # (start, heading, length, turn, level)
    # Headings follow the (row, col) convention: row grows with sin, so "up" is negative.
    pending = []
    for heading, bend in trunks:
        start = centre + rng.normal(0.0, 0.15 * disc_radius, 2)
        length = rng.uniform(0.55, 0.9) * size
        pending.append((start, heading, length, bend * rng.uniform(0.6, 1.3), 0))
    while pending:
        start, heading, length, turn, level = pending.pop()
        points, headings = _walk(rng, start, heading, length, turn, wiggle=0.02)
        levels[level].append(points)
        if level < 2:
            for _ in range(rng.integers(1, 3)):
                at = rng.integers(len(points) // 5, max(len(points) * 4 // 5, len(points) // 5 + 1))
                child_heading = headings[at] + rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.0)
                child_length = (len(points) - at) * _STEP * rng.uniform(0.4, 0.9)
                if child_length > 4 * scale:
                    pending.append(
                        (points[at], child_heading, child_length, rng.uniform(-0.8, 0.8), level + 1)
                    )

    darkness = np.zeros(shape, dtype=np.float32)
    for level, curves in enumerate(levels):
        if not curves:
            continue
        density = splat_polyline(np.concatenate(curves), shape)
        sigma = max(_LEVEL_SIGMA[level] * scale, 0.45)
        darkness += _LEVEL_DARKNESS[level] * draw_lines(density, sigma)
    return np.clip(darkness, 0.0, 1.0)
