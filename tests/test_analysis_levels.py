"""Slice levels (basal / mid / apical) and their orientation from the geometry."""

from __future__ import annotations

import numpy as np
import pytest

from binn.analysis.measures.levels import slice_levels
from binn.errors import BinnInputError


def ring_stack(cavity_radii: list[float], wall: float = 4.0, size: int = 48):
    """``(myo, cavity)`` ``(Z, H, W)`` bool stacks of concentric rings (radius 0: no slice)."""
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2.0
    r = np.hypot(yy, xx)
    cav = np.stack([(r < rc) if rc > 0 else np.zeros_like(r, bool) for rc in cavity_radii])
    myo = np.stack(
        [(r >= rc) & (r < rc + wall) if rc > 0 else np.zeros_like(r, bool) for rc in cavity_radii]
    )
    return myo, cav


def test_default_is_base_first_thirds_and_empty_slices_have_no_level():
    myo, _ = ring_stack([0, 12, 11, 10, 9, 8, 7, 0])
    assert slice_levels(myo) == [None, "basal", "basal", "mid", "mid", "apical", "apical", None]
    assert slice_levels(myo[:1]) == [None]
    assert slice_levels(ring_stack([10])[0]) == ["mid"]


def test_apex_first_stack_gets_the_levels_of_its_geometry():
    radii = [13, 12, 11, 9, 8, 6]
    myo, cav = ring_stack(radii)
    base = slice_levels(myo)
    assert base == ["basal", "basal", "mid", "mid", "apical", "apical"]
    # the same heart stored apex first: derived from the cavity-area trend, or told
    flipped_myo, flipped_cav = myo[::-1], cav[::-1]
    assert slice_levels(flipped_myo, base_first=None, cavity=flipped_cav) == base[::-1]
    assert slice_levels(flipped_myo, base_first=False) == base[::-1]
    assert slice_levels(myo, base_first=None, cavity=cav) == base
    # without the orientation the apex-first stack would be labelled the wrong way round
    assert slice_levels(flipped_myo) != base[::-1]


def test_undecidable_orientation_is_an_error():
    myo, cav = ring_stack([10, 10, 10])
    with pytest.raises(BinnInputError, match="not decidable"):
        slice_levels(myo, base_first=None, cavity=cav)
    with pytest.raises(BinnInputError, match="cavity masks"):
        slice_levels(myo, base_first=None)
