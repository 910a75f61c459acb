"""Slice levels (basal / mid / apical): the one definition used by every table in binn.

Slices are ordered base (z = 0) to apex (ACDC, UK Biobank). Only the slices that hold
myocardium take part: with ``n`` such slices, the ``i``-th of them (``i = 0`` nearest the
base) sits at the relative position ``p = (i + 0.5) / n`` and is

- ``"basal"`` for ``p < 1/3``,
- ``"mid"`` for ``1/3 <= p < 2/3``,
- ``"apical"`` for ``p >= 2/3``,

i.e. the myocardial slices are cut into thirds from base to apex (one slice alone is
``"mid"``; two are basal and apical). A slice without myocardium has no level (``None``).
"""

from __future__ import annotations

import numpy as np

from binn.errors import BinnInputError

LEVELS = ("basal", "mid", "apical")


def slice_levels(myo: np.ndarray) -> list[str | None]:
    """Level of each slice of a ``(Z, H, W)`` myocardium mask stack (base first).

    Returns a list of length ``Z`` with ``"basal"``, ``"mid"``, ``"apical"`` or ``None``
    (no myocardium in that slice).
    """
    myo = np.asarray(myo)
    if myo.ndim != 3:
        raise BinnInputError(None, f"slice_levels: need a (Z, H, W) mask stack, got {myo.shape}")
    has_myo = myo.reshape(myo.shape[0], -1).astype(bool).any(axis=1)
    z_myo = np.flatnonzero(has_myo)
    n = len(z_myo)
    levels: list[str | None] = [None] * myo.shape[0]
    for i, z in enumerate(z_myo):
        levels[int(z)] = LEVELS[min(int(3 * (i + 0.5) / n), 2)]
    return levels
