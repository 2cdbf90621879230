"""seguq's own procedural multi-site fundus data: the embedded default for the demo and tests.

Each case is a fundus-like RGB photograph: a dark-red/orange retina with smooth texture, a dark
macula and vignetting inside a black-surrounded field of view; a bright optic disc (a rotated
ellipse of random position, size and eccentricity whose rim wobbles with low-frequency radial
harmonics) holding a brighter, paler cup; and a branching vessel tree (smooth random walks from
the disc, splatted and blurred). Mask classes: 0 background, 1 disc rim (disc minus cup), 2 cup.

Annotators: rater 1 (index 0) draws the true shapes; every other rater dilates or erodes the
disc by up to ~6% of its radius (1-2 px at 128 px) plus a smooth random radial offset, and the
cup by twice that, so raters disagree within a few pixels of the boundaries and agree
elsewhere. The cup is always inside the disc, surrounded by at least one pixel of rim.

Sites differ only in the camera (fixed parameters; lengths in pixels of a 128-pixel image):

=====  ===================  ==========  ========  =====  ====  =====  ==========  ========
site   colour gain (R,G,B)  brightness  contrast  gamma  blur  noise  vignetting  gradient
=====  ===================  ==========  ========  =====  ====  =====  ==========  ========
site1  1.00, 1.00, 1.00     1.00        1.00      1.00   0.5   0.015  0.35        0.10
site2  1.12, 0.80, 0.70     0.95        1.20      0.90   0.3   0.030  0.45        0.15
site3  0.95, 1.12, 1.10     1.10        0.90      1.10   0.9   0.020  0.20        0.30
site4  0.70, 0.85, 1.40     0.95        0.70      1.20   1.6   0.035  0.55        0.10
=====  ===================  ==========  ========  =====  ====  =====  ==========  ========

site1 is the reference; site2 redder, sharper, grainier and more contrasted; site3 paler and
yellower with a strong one-sided illumination gradient; site4 the clear shift for unseen-site
tests: darker, bluer, low-contrast and blurred, the disc still the brightest structure.

The hard mode (`synthetic:hard=true`) photographs site4 with gain 0.50, 1.00, 1.90, brightness
2.20, contrast 0.45, gamma 2.60, blur 2.6, noise 0.060, vignetting 0.60 and gradient 0.50: a
dark, blue, blurred and grainy picture in which the disc is still the brightest structure. These
shifts survive per-image normalisation: a U-Net trained on sites 1-3 reached Dice 0.742 on it
(one seed, `benchmarks/configs/lodo-synthetic.yaml`; 0.94-0.95 on the usual site4), so
domain-generalisation methods have room to show something. Sites 1-3 are as in the usual mode.

OOD sets: `ood_anatomy` (grey chest-X-ray-like and ultrasound-like images, no masks) and
`ood_corrupt` (site1 cases with heavy noise, strong blur or a bright square patch; masks kept).

Every case is seeded from (seed, domain, index), so any subset is reproducible on its own.
"""

from seguq.data.synthetic.cache import synthetic_manifest
from seguq.data.synthetic.fundus import CLASS_NAMES, SITES, generate_case
from seguq.data.synthetic.options import GENERATOR_VERSION
from seguq.data.synthetic.sites import SITE_STYLES
from seguq.data.synthetic.writer import generate_synthetic

__all__ = [
    "CLASS_NAMES",
    "GENERATOR_VERSION",
    "SITES",
    "SITE_STYLES",
    "generate_case",
    "generate_synthetic",
    "synthetic_manifest",
]
