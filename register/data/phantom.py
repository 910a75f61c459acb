"""Synthetic cine phantom with ground-truth motion: the embedded default data of binn.

``make_phantom(seed, family)`` draws a random short-axis anatomy (:mod:`phantom_anatomy`)
and a random kinematic motion (:mod:`phantom_motion`, not the FEM), renders every frame
by evaluating the ED anatomy at the inverse map (so frame ``t`` is exactly the ED anatomy
moved by the ground truth), then images it: partial-volume blur, a smooth multiplicative
bias field fixed in the scanner frame, Rician noise of the requested SNR, and the same
robust [0, 1] normalisation as real data. Families ``A`` and ``B`` differ in anatomy
(wall thickness, cavity size), motion (ejection, twist, hypokinesis), appearance
(contrast, texture, bias, blur) and acquisition (slice thickness, SNR), for generalisation
tests. Both are generated on the physical grid (``spacing_mm``, default
:data:`binn.resample.DEFAULT_SPACING_MM`); every anatomical size is given in mm and matched
to the ACDC development set (``binn bench anatomy``; ED wall 8.5 +- 2.7 mm, ED cavity
radius 25.7 +- 6.5 mm over 200 slices of 30 subjects; normal subjects 8.0 and 23.1 mm):
family A is normal-like (thin wall, large cavity), family B hypertrophic-like.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
from scipy import ndimage

from binn.errors import BinnInputError
from binn.register.config import PhantomConfig
from binn.register.data import phantom_anatomy as pa
from binn.register.data import phantom_motion as pm
from binn.register.data.intensity import robust_window
from binn.register.data.subject import CineSubject, validate_subject
from binn.vocabulary import LV_CAVITY

log = logging.getLogger(__name__)

Range = tuple[float, float]


PHANTOM_DEFAULTS = PhantomConfig()


@dataclasses.dataclass(frozen=True)
class Family:
    """Distribution of one phantom family (ranges are uniform; mm, degrees, fractions).

    ``r_endo_base_mm``: ED endocardial radius of the basal slice (it shrinks by 45 % to the
    apex); ``wall_mm``: ED wall thickness (10 % thinner at the apex); ``kappa``: ES/ED
    wall-area ratio (through-plane shortening); ``texture_mm``: fine and coarse scale of
    the tissue texture; ``blur_px``: partial-volume blur, in pixels of the grid.
    """

    slice_mm: float
    snr_db: float
    r_endo_base_mm: Range
    wall_mm: Range
    ejection_mid: Range
    kappa: Range
    twist_base_deg: Range
    twist_apex_deg: Range
    hypo_probability: float
    hypo_depth: Range
    es_phase: Range
    blood: Range
    myocardium: Range
    background: Range
    texture_gain: float
    texture_mm: tuple[float, float]
    bias_amplitude: float
    blur_px: float
    perturbation_mm: float


FAMILIES: dict[str, Family] = {
    "A": Family(
        slice_mm=10.0,
        snr_db=22.0,
        r_endo_base_mm=(25.0, 31.0),
        wall_mm=(7.0, 9.5),
        ejection_mid=(0.45, 0.62),
        kappa=(1.10, 1.25),
        twist_base_deg=(-6.0, -3.0),
        twist_apex_deg=(6.0, 12.0),
        hypo_probability=0.5,
        hypo_depth=(0.3, 0.7),
        es_phase=(0.35, 0.40),
        blood=(0.80, 0.92),
        myocardium=(0.20, 0.30),
        background=(0.35, 0.50),
        texture_gain=0.12,
        texture_mm=(1.5, 6.0),
        bias_amplitude=0.15,
        blur_px=0.6,
        perturbation_mm=0.5,
    ),
    "B": Family(
        slice_mm=8.0,
        snr_db=17.0,
        r_endo_base_mm=(21.0, 27.0),
        wall_mm=(10.0, 13.0),
        ejection_mid=(0.50, 0.70),
        kappa=(1.10, 1.25),
        twist_base_deg=(-9.0, -5.0),
        twist_apex_deg=(10.0, 16.0),
        hypo_probability=0.8,
        hypo_depth=(0.4, 0.8),
        es_phase=(0.35, 0.40),
        blood=(0.65, 0.78),
        myocardium=(0.30, 0.40),
        background=(0.45, 0.60),
        texture_gain=0.20,
        texture_mm=(1.2, 5.0),
        bias_amplitude=0.30,
        blur_px=0.8,
        perturbation_mm=0.8,
    ),
}


def activation_curve(frames: int, es_index: int) -> np.ndarray:
    """Contraction activation ``(T,)`` over one cycle: 0 at ED (frame 0), 1 at ES.

    Systole: half-cosine rise to ``es_index``; diastole: rapid filling (to 0.2 within 20 %
    of the cycle), diastasis (0.2 -> 0.15) and atrial kick back towards 0.
    """
    p = np.arange(frames) / frames
    p_es = es_index / frames
    fill_end, kick = p_es + 0.2, 0.85
    a = np.empty(frames)
    sys = p <= p_es
    a[sys] = 0.5 * (1.0 - np.cos(np.pi * p[sys] / p_es))
    fill = (p > p_es) & (p <= fill_end)
    a[fill] = 0.2 + 0.8 * 0.5 * (1.0 + np.cos(np.pi * (p[fill] - p_es) / 0.2))
    dias = (p > fill_end) & (p <= kick)
    a[dias] = 0.2 - 0.05 * (p[dias] - fill_end) / (kick - fill_end)
    late = p > kick
    a[late] = 0.15 * 0.5 * (1.0 + np.cos(np.pi * (p[late] - kick) / (1.0 - kick)))
    return a


def _u(rng: np.random.Generator, r: Range, n: int | None = None):
    return rng.uniform(r[0], r[1], size=n)


def sample_anatomy(
    rng: np.random.Generator, fam: Family, slices: int, size: int, spacing: float
) -> pa.Anatomy:
    """Draw the ED anatomy of one subject (px on a ``size`` grid of ``spacing`` mm)."""
    level = np.linspace(0.0, 1.0, slices) if slices > 1 else np.array([0.5])
    mm = 1.0 / spacing
    centre = (size - 1) / 2.0 + rng.uniform(-2.0, 2.0, size=2)
    r_base = _u(rng, fam.r_endo_base_mm) * mm
    r_endo = r_base * (1.0 - 0.45 * level**1.5)
    wall = _u(rng, fam.wall_mm) * mm * (1.0 - 0.1 * level)
    rv_dir = rng.uniform(np.radians(150.0), np.radians(210.0))
    r_ep = r_endo + wall
    rv_a = r_ep * rng.uniform(0.75, 0.95) * (1.0 - 0.5 * level)
    rv_b = r_ep * rng.uniform(1.2, 1.5) * (1.0 - 0.3 * level)
    rv_dist = 0.6 * r_ep + 0.8 * rv_a
    shift = rng.normal(0.0, 0.3, size=(2, slices))
    blood = _u(rng, fam.blood)
    return pa.Anatomy(
        centre_y=centre[0] + shift[0],
        centre_x=centre[1] + shift[1],
        r_endo=r_endo,
        shape_e1=rng.uniform(0.0, 0.05, slices),
        shape_p1=rng.uniform(-np.pi, np.pi, slices),
        shape_e2=rng.uniform(0.0, 0.06, slices),
        shape_p2=rng.uniform(-np.pi, np.pi, slices),
        wall=wall,
        wall_e=rng.uniform(0.0, 0.15, slices),
        wall_p=np.full(slices, rv_dir) + rng.normal(0.0, 0.3, slices),
        rv_y=centre[0] + shift[0] + rv_dist * np.sin(rv_dir),
        rv_x=centre[1] + shift[1] + rv_dist * np.cos(rv_dir),
        rv_angle=np.full(slices, rv_dir),
        rv_a=rv_a,
        rv_b=rv_b,
        rv_wall=max(1.0, 3.0 * mm),
        pm_angles=rng.uniform(-np.pi, np.pi, size=(slices, 1)) + np.array([0.0, 2.2]),
        pm_radius=np.maximum(0.8, 0.11 * r_endo) * (level < 0.8),
        fat_angle=np.full(slices, rng.uniform(-np.pi, np.pi)),
        fat_half_width=rng.uniform(0.5, 1.2),
        fat_thickness=max(1.0, rng.uniform(2.0, 4.0) * mm),
        intensity={
            "blood": blood,
            "rv_blood": blood * rng.uniform(0.88, 1.0),
            "myocardium": _u(rng, fam.myocardium),
            "rv_wall": _u(rng, fam.myocardium),
            "background": _u(rng, fam.background),
            "fat": rng.uniform(0.85, 1.0),
        },
        texture_gain={
            "background": 2.5 * fam.texture_gain,
            "myocardium": 0.5 * fam.texture_gain,
            "blood": 0.4 * fam.texture_gain,
        },
        texture=pa.smooth_texture(
            rng, slices, size, (fam.texture_mm[0] * mm, fam.texture_mm[1] * mm)
        ),
    )


def sample_kinematics(
    rng: np.random.Generator,
    fam: Family,
    frames: int,
    es_index: int,
    slices: int,
    spacing: float,
) -> pm.Kinematics:
    """Draw the motion of one subject (ES at ``es_index``; px for a grid of ``spacing`` mm)."""
    level = np.linspace(0.0, 1.0, slices) if slices > 1 else np.array([0.5])
    ejection = _u(rng, fam.ejection_mid) * (1.0 + 0.15 * (level - 0.5))
    twist = np.radians(
        _u(rng, fam.twist_base_deg) * (1.0 - level) + _u(rng, fam.twist_apex_deg) * level
    )
    has_hypo = rng.uniform() < fam.hypo_probability
    hypo_depth = _u(rng, fam.hypo_depth) * has_hypo * np.clip(0.3 + level, 0.0, 1.0)
    n_modes = 3
    wavelength = rng.uniform(30.0, 60.0, n_modes) / spacing
    direction = rng.uniform(-np.pi, np.pi, n_modes)
    k = 2.0 * np.pi / wavelength[:, None] * np.stack([np.sin(direction), np.cos(direction)], 1)
    amp = fam.perturbation_mm / spacing / math.sqrt(n_modes)
    t = np.arange(frames)
    return pm.Kinematics(
        activation=activation_curve(frames, es_index),
        wobble=np.sin(2.0 * np.pi * t / frames),
        ejection=ejection,
        kappa=float(_u(rng, fam.kappa)),
        twist=twist,
        transmural=float(rng.uniform(0.1, 0.4)),
        hypo_angle=float(rng.uniform(-np.pi, np.pi)),
        hypo_depth=hypo_depth,
        hypo_concentration=float(rng.uniform(2.0, 5.0)),
        taper=float(rng.uniform(6.0, 10.0) * 1.8 / spacing),
        rv_contraction=float(rng.uniform(0.05, 0.10)),
        modes_k=k,
        modes_phase=rng.uniform(-np.pi, np.pi, n_modes),
        modes_amp=rng.normal(0.0, amp, (n_modes, 2)),
        modes_amp2=rng.normal(0.0, 0.3 * amp, (n_modes, 2)),
    )


def bias_field(rng: np.random.Generator, slices: int, size: int, amplitude: float) -> np.ndarray:
    """Smooth multiplicative bias ``(Z, H, W)``: exp of a random quadratic, ~+-``amplitude``."""
    c = np.linspace(-1.0, 1.0, size)
    yy, xx = np.meshgrid(c, c, indexing="ij")
    out = np.empty((slices, size, size))
    for z in range(slices):
        w = rng.normal(0.0, 1.0, 5)
        poly = w[0] * yy + w[1] * xx + 0.5 * (w[2] * yy * yy + w[3] * xx * xx + w[4] * yy * xx)
        out[z] = np.exp(amplitude * poly / max(np.abs(poly).max(), 1e-9))
    return out


def make_phantom(
    seed: int,
    family: str = PHANTOM_DEFAULTS.family,
    frames: int = PHANTOM_DEFAULTS.frames,
    slices: int = PHANTOM_DEFAULTS.slices,
    size: int = PHANTOM_DEFAULTS.size,
    spacing_mm: float = PHANTOM_DEFAULTS.spacing_mm,
    snr_db: float | None = None,
) -> CineSubject:
    """Generate one synthetic cine subject with ground-truth motion and labels per frame.

    Returns a :class:`CineSubject` with ``images (T, Z, H, W)`` float32 in [0, 1], ``motion
    (T, Z, 2, H, W)`` float32 px (registration convention, frame 0 exactly 0), ``labels (T,
    Z, H, W)``, ES at 35-40 % of the cycle. ``spacing_mm``: in-plane pixel spacing of the
    grid (the anatomy is drawn in mm, so a finer grid holds the same heart in more pixels);
    ``snr_db`` (dB of the blood signal over the noise sigma; ``inf`` for no noise) defaults
    to the family's own (``binn phantom`` passes :attr:`PhantomConfig.snr_db`).
    ``meta`` records the parameters and ``noise_sigma`` (noise std in normalised units).
    Same arguments -> bit-identical output.
    """
    if family not in FAMILIES:
        raise BinnInputError("phantom", f"unknown family {family!r} (known: {sorted(FAMILIES)})")
    if not 4 <= frames <= 200 or not 1 <= slices <= 64 or not 16 <= size <= 1024:
        raise BinnInputError(
            "phantom",
            f"needs 4-200 frames, 1-64 slices, 16-1024 px (got {frames}, {slices}, {size})",
        )
    fam = FAMILIES[family]
    spacing = float(spacing_mm)
    if not 0.3 <= spacing <= 5.0:
        raise BinnInputError("phantom", f"in-plane spacing {spacing} mm outside 0.3-5 mm")
    snr = fam.snr_db if snr_db is None else float(snr_db)
    rng = np.random.default_rng([seed, ord(family)])
    es_index = round(float(_u(rng, fam.es_phase)) * frames)
    anat = sample_anatomy(rng, fam, slices, size, spacing)
    kin = sample_kinematics(rng, fam, frames, es_index, slices, spacing)

    t, z, y, x = pm.frame_grid(frames, slices, size)
    shape = t.shape
    ed_y, ed_x = pm.invert(kin, anat, t, z, y, x)
    clean, labels = pa.evaluate(anat, z.ravel(), ed_y, ed_x)
    clean = clean.reshape(shape).astype(np.float64)
    labels = labels.reshape(shape)
    clean = ndimage.gaussian_filter(clean, sigma=(0, 0, fam.blur_px, fam.blur_px))
    clean *= bias_field(rng, slices, size, fam.bias_amplitude)[None]
    sigma = anat.intensity["blood"] / 10.0 ** (snr / 20.0)
    noise = rng.standard_normal((2, *shape)) * sigma
    noisy = np.hypot(clean + noise[0], noise[1])
    lo, hi = robust_window(noisy, f"phantom seed {seed}")
    images = np.clip((noisy - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
    motion = pm.displacement(kin, anat, frames, slices, size)

    cavity = (labels == LV_CAVITY).sum(axis=(2, 3)).astype(np.float64)
    subject = CineSubject(
        name=f"phantom{family}_{seed:04d}",
        images=images,
        labels_ed=labels[0].copy(),
        labels_es=labels[es_index].copy(),
        es_index=es_index,
        spacing=np.array([fam.slice_mm, spacing, spacing]),
        motion=motion,
        labels=labels,
        meta={
            "source": "phantom",
            "family": family,
            "seed": int(seed),
            "snr_db": snr,
            "noise_sigma": float(sigma / (hi - lo)),
            "intensity_window": [lo, hi],
            "es_cavity_area_ratio": (cavity[es_index] / np.maximum(cavity[0], 1.0)).tolist(),
            "hypokinetic_depth": kin.hypo_depth.tolist(),
            "hypokinetic_angle_rad": float(kin.hypo_angle),  # atan2(row, col) about the LV
            "hypokinetic_concentration": float(kin.hypo_concentration),
            "twist_deg": np.degrees(kin.twist).tolist(),
            "max_motion_px": float(np.abs(motion).max()),
        },
    )
    return validate_subject(subject)
