"""Synthetic training cine driven by the FEM: ``binn synth-cine``.

A subject of ``slices`` slices, each made from one simulated case (``binn simulate``
output) drawn from a pool: the case rotated and mirrored at random
(:mod:`synth_motion`), an ED tissue map around its myocardium (:mod:`synth_anatomy`), the
case's motion over a cycle with a modelled motion outside the LV, and a randomised
appearance (:mod:`synth_appearance`). Frame ``t`` shows the ED tissue map moved by the
motion (each sub-pixel looks up where it was at ED), so the stored ``motion`` is the exact
ground truth in the registration convention and ``labels`` the exact label maps.

No real image or label enters: the anatomy comes from the simulated myocardium (itself from
synthetic rings or whatever masks the simulation was given) and random shapes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from binn.errors import BinnInputError
from binn.register.data import synth_anatomy as anatomy
from binn.register.data import synth_appearance as appearance
from binn.register.data import synth_motion as motion
from binn.register.data.subject import CineSubject, validate_subject

ES_PHASE = (0.30, 0.42)
"""Range of the ES frame as a fraction of the cycle."""
log = logging.getLogger(__name__)

SHIFT_PX = 2.0
"""Standard deviation of the LV's offset from the image centre (px)."""


def _slice(
    rng: np.random.Generator, case: motion.FemCase, frames: int, es_index: int, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """One slice from ``case``: images ``(T, H, W)``, labels ``(T, H, W)``, motion ``(T, 2,
    H, W)`` and what was drawn."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    mirror = bool(rng.uniform() < 0.5)
    shift = rng.normal(0.0, SHIFT_PX, 2)
    disp, myocardium = motion.rotate_case(case, motion.orthogonal(angle, mirror), shift)
    tissue = anatomy.tissue_map(rng, myocardium, case.spacing)
    lv = ndimage.binary_fill_holes(myocardium)
    rv = (tissue == anatomy.RV_BLOOD) | (tissue == anatomy.RV_WALL)
    lv_fields = motion.cycle_fields(disp, frames, es_index)
    fields = motion.outside_motion(rng, lv_fields, lv, rv, case.spacing, frames, es_index)
    look = appearance.sample_appearance(
        rng, int(tissue.max()) + 1, tissue.shape, np.array(ndimage.center_of_mass(lv))
    )
    shape = tissue.shape
    fine = appearance.fine_points(shape)
    centres = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij"))
    clean = np.empty((frames, *shape))
    labels = np.empty((frames, *shape), dtype=np.uint8)
    for t in range(frames):
        clean[t] = appearance.render_clean(tissue, look, motion.source_positions(fields[t], fine))
        where = motion.source_positions(fields[t], centres).reshape(2, -1)
        kind = ndimage.map_coordinates(tissue, where, order=0, mode="nearest").reshape(shape)
        labels[t] = anatomy.stored_labels(kind)
    images = appearance.acquire(rng, clean, look, case.spacing, name)
    drawn = {
        "case": case.name,
        "rotation_deg": float(np.degrees(angle)),
        "mirror": mirror,
        "bssfp_like": look.bssfp,
        "native_spacing_mm": look.native_spacing_mm,
        "snr_db": look.snr_db,
        "rv": bool(rv.any()),
    }
    return images, labels, fields, drawn


def make_synthetic_cine(
    cases: Sequence[motion.FemCase], seed: int, frames: int = 20, slices: int = 3
) -> CineSubject:
    """A synthetic training subject from the simulated ``cases`` (one drawn per slice).

    Returns a :class:`CineSubject` with ``images (T, Z, H, W)`` float32 in [0, 1], ``motion
    (T, Z, 2, H, W)`` float32 px (exact ground truth), ``labels (T, Z, H, W)`` ACDC values,
    on the cases' grid. Same cases and seed -> identical output. Raises
    :class:`BinnInputError` for no cases, cases on different grids, or a non-square grid.
    """
    if not cases:
        raise BinnInputError("synth-cine", "no simulated cases to draw from")
    if not 4 <= frames <= 200 or not 1 <= slices <= 64:
        raise BinnInputError(
            "synth-cine", f"needs 4-200 frames and 1-64 slices (got {frames}, {slices})"
        )
    shape, spacing = cases[0].myocardium.shape, cases[0].spacing
    for case in cases:
        if case.myocardium.shape != shape or not np.isclose(case.spacing, spacing):
            raise BinnInputError(
                case.name,
                f"grid {case.myocardium.shape} px at {case.spacing} mm differs from "
                f"{cases[0].name}'s {shape} px at {spacing} mm",
            )
    if shape[0] != shape[1]:
        raise BinnInputError(cases[0].name, f"grid {shape} px is not square")
    name = f"synthetic_{seed:06d}"
    rng = np.random.default_rng([seed, 0x5EED])
    es_index = int(np.clip(round(rng.uniform(*ES_PHASE) * frames), 1, frames - 1))
    slice_mm = float(rng.uniform(*appearance.SLICE_MM))
    parts = [
        _slice(rng, cases[int(rng.integers(len(cases)))], frames, es_index, name)
        for _ in range(slices)
    ]
    images = np.stack([p[0] for p in parts], axis=1)
    labels = np.stack([p[1] for p in parts], axis=1)
    fields = np.stack([p[2] for p in parts], axis=1)
    subject = CineSubject(
        name=name,
        images=images,
        labels_ed=labels[0].copy(),
        labels_es=labels[es_index].copy(),
        es_index=es_index,
        spacing=np.array([slice_mm, spacing, spacing]),
        motion=fields,
        labels=labels,
        meta={
            "source": "synthetic",
            "seed": int(seed),
            "slices": [p[3] for p in parts],
            "max_motion_px": float(np.abs(fields).max()),
        },
    )
    return validate_subject(subject)


def load_usable_cases(paths: Sequence[str | Path], spacing_mm: float) -> list[motion.FemCase]:
    """The simulated cases of ``paths`` that can drive a synthetic cine: failed simulations
    are skipped (logged); a case on another spacing than ``spacing_mm`` is refused, naming
    both; no usable case at all is an error."""
    cases = []
    for path in paths:
        try:
            case = motion.load_fem_case(path)
        except motion.FailedSimulation as exc:
            log.warning("skipped: %s", exc)
            continue
        if not np.isclose(case.spacing, spacing_mm, rtol=0.01):
            raise BinnInputError(
                path, f"simulated on {case.spacing} mm pixels, the grid is {spacing_mm} mm"
            )
        cases.append(case)
    if not cases:
        raise BinnInputError(paths[0] if paths else None, "none of the simulated cases succeeded")
    return cases
