"""The ED tissue map of a synthetic training slice: the simulated LV, an RV, trabeculae and
random surroundings (SynthMorph-style).

Tissues (:data:`TISSUES`) are finer than the stored labels: the rendering gives each its
own intensity, the stored label map (ACDC values, :func:`stored_labels`) merges them.
- LV myocardium: the simulated case's ED myocardium; LV cavity: what it encloses.
- Trabeculae and papillary muscles: 0-5 discs of radius 1-3.5 mm in the cavity touching the
  endocardium (stored as LV cavity, as ACDC's expert labels do).
- RV (probability :data:`RV_PROBABILITY`; absent towards the apex): an ellipse beside the LV
  in a random direction, its cavity wrapped around the septum, a 1-2 px wall.
- Surroundings: the argmax of 3-8 smoothed noise images (random blobs of 6-30 mm), each a
  tissue of its own, inside a body ellipse; air outside it (stored as background).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from binn.vocabulary import BACKGROUND, LV_CAVITY, MYOCARDIUM, RV_CAVITY

AIR, RV_BLOOD, LV_MYOCARDIUM, LV_BLOOD, TRABECULAE, RV_WALL = range(6)
FIRST_SURROUNDING = 6
TISSUES = {
    AIR: "air",
    RV_BLOOD: "RV blood",
    LV_MYOCARDIUM: "LV myocardium",
    LV_BLOOD: "LV blood",
    TRABECULAE: "trabeculae",
    RV_WALL: "RV wall",
}
"""Named tissues; ``FIRST_SURROUNDING`` and above are surrounding structures."""
RV_PROBABILITY = 0.85
SURROUNDINGS = (3, 8)
"""Range of the number of surrounding structures."""


def stored_labels(tissue: np.ndarray) -> np.ndarray:
    """The ACDC label map (uint8) of a tissue map: RV blood -> RV cavity, LV myocardium ->
    myocardium, LV blood and trabeculae -> LV cavity, the rest background."""
    out = np.full(tissue.shape, BACKGROUND, dtype=np.uint8)
    out[tissue == RV_BLOOD] = RV_CAVITY
    out[tissue == LV_MYOCARDIUM] = MYOCARDIUM
    out[(tissue == LV_BLOOD) | (tissue == TRABECULAE)] = LV_CAVITY
    return out


def surroundings(rng: np.random.Generator, shape: tuple[int, int], spacing: float) -> np.ndarray:
    """Random structures ``(H, W)`` int: tissues from ``FIRST_SURROUNDING`` on, air outside
    a random body ellipse."""
    count = int(rng.integers(SURROUNDINGS[0], SURROUNDINGS[1] + 1))
    sigma = rng.uniform(3.0, 15.0) / spacing
    noise = ndimage.gaussian_filter(rng.standard_normal((count, *shape)), (0, sigma, sigma))
    tissue = FIRST_SURROUNDING + np.argmax(noise, axis=0)
    yy, xx = np.meshgrid(
        np.linspace(-1.0, 1.0, shape[0]), np.linspace(-1.0, 1.0, shape[1]), indexing="ij"
    )
    radii = rng.uniform(0.8, 1.6, 2)
    centre = rng.uniform(-0.2, 0.2, 2)
    body = ((yy - centre[0]) / radii[0]) ** 2 + ((xx - centre[1]) / radii[1]) ** 2 <= 1.0
    tissue[~body] = AIR
    return tissue


def right_ventricle(
    rng: np.random.Generator, lv: np.ndarray, spacing: float
) -> tuple[np.ndarray, np.ndarray]:
    """RV ``(cavity, wall)`` ``(H, W)`` bool beside the LV ``lv`` (myocardium and cavity)."""
    shape = lv.shape
    if rng.uniform() >= RV_PROBABILITY:
        return np.zeros(shape, bool), np.zeros(shape, bool)
    centre = np.array(ndimage.center_of_mass(lv))
    radius = np.sqrt(lv.sum() / np.pi)
    direction = rng.uniform(-np.pi, np.pi)
    half_width = radius * rng.uniform(0.6, 1.0)
    half_length = radius * rng.uniform(1.1, 1.6)
    distance = radius + half_width * rng.uniform(0.2, 0.6)
    rv_centre = centre + distance * np.array([np.sin(direction), np.cos(direction)])
    yy, xx = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    along = (yy - rv_centre[0]) * np.sin(direction) + (xx - rv_centre[1]) * np.cos(direction)
    across = -(yy - rv_centre[0]) * np.cos(direction) + (xx - rv_centre[1]) * np.sin(direction)
    ellipse = (along / half_width) ** 2 + (across / half_length) ** 2 <= 1.0
    wall_px = max(1, round(rng.uniform(1.5, 4.0) / spacing))
    cavity = ellipse & ~ndimage.binary_dilation(lv, iterations=wall_px)
    wall = ndimage.binary_dilation(cavity, iterations=wall_px) & ~cavity & ~lv
    return cavity, wall


def trabeculae(
    rng: np.random.Generator, myocardium: np.ndarray, cavity: np.ndarray, spacing: float
) -> np.ndarray:
    """0-5 discs ``(H, W)`` bool in the cavity touching the endocardium."""
    out = np.zeros(cavity.shape, bool)
    border = cavity & ndimage.binary_dilation(myocardium, iterations=2)
    candidates = np.argwhere(border)
    count = int(rng.integers(0, 6))
    if count == 0 or len(candidates) == 0:
        return out
    yy, xx = np.meshgrid(np.arange(cavity.shape[0]), np.arange(cavity.shape[1]), indexing="ij")
    for y, x in candidates[rng.integers(0, len(candidates), count)]:
        radius = rng.uniform(1.0, 3.5) / spacing
        out |= (yy - y) ** 2 + (xx - x) ** 2 <= radius**2
    return out & cavity


def tissue_map(rng: np.random.Generator, myocardium: np.ndarray, spacing: float) -> np.ndarray:
    """The ED tissue map ``(H, W)`` int of a slice whose ED LV myocardium is ``myocardium``
    ``(H, W)`` bool; ``spacing`` mm."""
    filled = ndimage.binary_fill_holes(myocardium)
    cavity = filled & ~myocardium
    tissue = surroundings(rng, myocardium.shape, spacing)
    rv_cavity, rv_wall = right_ventricle(rng, filled, spacing)
    tissue[rv_wall] = RV_WALL
    tissue[rv_cavity] = RV_BLOOD
    tissue[myocardium] = LV_MYOCARDIUM
    tissue[cavity] = LV_BLOOD
    tissue[trabeculae(rng, myocardium, cavity, spacing)] = TRABECULAE
    return tissue
