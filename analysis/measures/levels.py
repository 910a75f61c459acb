"""Slice levels (basal / mid / apical): the one definition used by every table in binn.

The loaders guarantee z = 0 basal (:mod:`binn.register.data.orientation` flips a stack stored
apex first, decided from the ED cavity-area trend). For a stack of unknown order pass
``base_first=None`` and the ED LV cavity masks: the order is then derived the same way (the
cavity shrinks from base to apex); ``base_first=False`` says the stack is apex first.
Only the slices that hold myocardium take part: with ``n`` such slices, the ``i``-th of
them (``i = 0`` nearest the base) sits at the relative position ``p = (i + 0.5) / n`` and is

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


def slice_levels(
    myo: np.ndarray, base_first: bool | None = True, cavity: np.ndarray | None = None
) -> list[str | None]:
    """Level of each slice of a ``(Z, H, W)`` myocardium mask stack.

    ``base_first``: ``True`` (default, binn's loaded subjects) when z = 0 is basal,
    ``False`` when z = 0 is apical, ``None`` to derive it from ``cavity`` (``(Z, H, W)`` ED
    LV cavity masks, required then) by the cavity-area trend; an undecidable trend (fewer
    than 3 myocardial slices or a flat one) raises :class:`BinnInputError`. Returns a list
    of length ``Z`` with ``"basal"``, ``"mid"``, ``"apical"`` or ``None`` (no myocardium).
    """
    myo = np.asarray(myo)
    if myo.ndim != 3:
        raise BinnInputError(None, f"slice_levels: need a (Z, H, W) mask stack, got {myo.shape}")
    if base_first is None:
        base_first = _base_first_from_cavity(myo, cavity)
    if not base_first:
        return slice_levels(myo[::-1])[::-1]
    has_myo = myo.reshape(myo.shape[0], -1).astype(bool).any(axis=1)
    z_myo = np.flatnonzero(has_myo)
    n = len(z_myo)
    levels: list[str | None] = [None] * myo.shape[0]
    for i, z in enumerate(z_myo):
        levels[int(z)] = LEVELS[min(int(3 * (i + 0.5) / n), 2)]
    return levels


def _base_first_from_cavity(myo: np.ndarray, cavity: np.ndarray | None) -> bool:
    """Slice order of ``myo`` from the ED cavity-area trend (see the module docstring)."""
    from binn.register.data.orientation import base_first
    from binn.vocabulary import LV_CAVITY, MYOCARDIUM

    if cavity is None or np.shape(cavity) != myo.shape:
        raise BinnInputError(
            None, "slice_levels: base_first=None needs ED cavity masks of the stack's shape"
        )
    labels = np.where(np.asarray(cavity, dtype=bool), LV_CAVITY, 0).astype(np.uint8)
    labels[myo.astype(bool)] = MYOCARDIUM
    order = base_first(labels)
    if order is None:
        raise BinnInputError(
            None,
            "slice_levels: slice order not decidable from the cavity areas (< 3 slices "
            "with myocardium or no trend); pass base_first",
        )
    return order
