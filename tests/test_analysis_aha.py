"""Known-answer tests of the AHA segment assignment (binn.analysis.measures.aha)."""

from __future__ import annotations

import numpy as np
import pytest

from binn.analysis.measures.aha import (
    AHA_NAMES,
    assign_aha,
    rv_insertion_angles,
    screen_angle_deg,
    segment_of_angle,
)
from binn.errors import BinnInputError

N = 80
C = np.array([40.3, 39.6])
R_EN, R_EP = 12.0, 20.0


def _slice(rv_from: float | None, rv_to: float | None) -> np.ndarray:
    """ACDC labels of one slice: LV cavity, myocardial ring, and an RV crescent hugging the
    epicardium between screen angles ``rv_from`` and ``rv_to`` (deg, counter-clockwise)."""
    rows, cols = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    r = np.hypot(rows - C[0], cols - C[1])
    ang = screen_angle_deg(rows, cols, C, np.ones(2))
    lab = np.zeros((N, N), np.uint8)
    lab[r < R_EN] = 3
    lab[(r >= R_EN) & (r < R_EP)] = 2
    if rv_from is not None:
        inside = ((ang - rv_from) % 360.0) <= ((rv_to - rv_from) % 360.0)
        lab[(r >= R_EP) & (r < R_EP + 10) & inside] = 1
    return lab


def _stack(rv_from: float | None = 120.0, rv_to: float | None = 240.0) -> np.ndarray:
    return np.stack([_slice(rv_from, rv_to)] * 3)  # basal, mid, apical


def _segment_at(segments: np.ndarray, z: int, angle_deg: float) -> int:
    """Segment of the mid-wall pixel at screen angle ``angle_deg`` on slice ``z``."""
    rad = np.radians(angle_deg)
    r = 0.5 * (R_EN + R_EP)
    row = round(float(C[0] - r * np.sin(rad)))
    col = round(float(C[1] + r * np.cos(rad)))
    return int(segments[z, row, col])


def test_screen_angle_convention():
    c = np.array([10.0, 10.0])
    # right, up (smaller row), left, down
    got = screen_angle_deg(np.array([10, 5, 10, 15]), np.array([15, 10, 5, 10]), c, np.ones(2))
    assert got == pytest.approx([0.0, 90.0, 180.0, 270.0])


def test_insertion_points_of_a_known_rv():
    ant, inf = rv_insertion_angles(_slice(120.0, 240.0), C, np.ones(2))
    # contact pixels lie within a few degrees of the crescent's ends
    assert abs(ant - 120.0) < 6.0
    assert abs(inf - 240.0) < 6.0


@pytest.mark.parametrize(
    ("level_z", "expected"),
    [
        # basal: septum (left) is 2-3, anterior (top) 1, inferior (bottom) 4, lateral 5-6
        (0, {90: 1, 150: 2, 210: 3, 270: 4, 330: 5, 30: 6}),
        (1, {90: 7, 150: 8, 210: 9, 270: 10, 330: 11, 30: 12}),
        (2, {90: 13, 180: 14, 270: 15, 0: 16}),
    ],
)
def test_standard_view_numbering(level_z, expected):
    aha = assign_aha(_stack(), np.ones(2))
    assert aha.levels == ["basal", "mid", "apical"]
    assert aha.anchor_source == ["rv", "rv", "rv"]
    for angle, segment in expected.items():
        assert _segment_at(aha.segments, level_z, angle) == segment, (angle, segment)
    myo = _stack()[level_z] == 2
    assert set(np.unique(aha.segments[level_z][myo])) == set(expected.values())
    assert not aha.segments[level_z][~myo].any()


@pytest.mark.parametrize("delta", [40.0, 90.0, -75.0])
def test_rotating_the_rv_rotates_the_numbering(delta):
    ref = assign_aha(_stack(), np.ones(2))
    rot = assign_aha(_stack(120.0 + delta, 240.0 + delta), np.ones(2))
    for z in range(3):
        moved = rot.anterior_angle_deg[z] - ref.anterior_angle_deg[z] - delta
        assert abs((moved + 180.0) % 360.0 - 180.0) < 6.0  # pixelised crescent ends
        # sector centres (away from borders): angle a before = angle a + delta after
        centres = [90, 150, 210, 270, 330, 30] if z < 2 else [90, 180, 270, 0]
        for a in centres:
            assert _segment_at(rot.segments, z, a + delta) == _segment_at(ref.segments, z, a)


def test_segment_of_angle_borders():
    # the anterior insertion point is the border of segments 1 and 2
    assert segment_of_angle(120.0, "basal", 120.0) == 2
    assert segment_of_angle(119.0, "basal", 120.0) == 1
    assert segment_of_angle(60.0, "mid", 120.0) == 7
    assert segment_of_angle(59.0, "mid", 120.0) == 12
    assert segment_of_angle(135.0, "apical", 120.0) == 14
    assert segment_of_angle(134.0, "apical", 120.0) == 13
    assert sorted(AHA_NAMES) == list(range(1, 17))
    assert AHA_NAMES[1] == "basal anterior" and AHA_NAMES[14] == "apical septal"


def test_slice_without_rv_borrows_the_nearest_anchor():
    stack = _stack()
    stack[2][stack[2] == 1] = 0
    aha = assign_aha(stack, np.ones(2))
    assert aha.anchor_source == ["rv", "rv", "rv (slice 1)"]
    assert aha.anterior_angle_deg[2] == aha.anterior_angle_deg[1]
    assert any("slice 2" in n for n in aha.notes)


def test_no_rv_is_an_error_unless_an_angle_is_given():
    stack = _stack(None, None)
    with pytest.raises(BinnInputError, match="RV"):
        assign_aha(stack, np.ones(2), source="labels.nii.gz")
    aha = assign_aha(stack, np.ones(2), anterior_angle_deg=120.0)
    assert aha.anchor_source == ["manual"] * 3
    assert any("by hand" in n for n in aha.notes)
    assert _segment_at(aha.segments, 0, 90) == 1


def test_slices_without_myocardium_have_no_level_or_segments():
    stack = _stack()
    stack = np.concatenate([stack, np.zeros((1, N, N), np.uint8)])
    aha = assign_aha(stack, np.ones(2))
    assert aha.levels[3] is None and aha.anchor_source[3] is None
    assert not aha.segments[3].any()


def test_mirrored_image_is_flagged():
    aha = assign_aha(_stack(-60.0, 60.0), np.ones(2))  # RV on the viewer's right
    assert any("mirrored" in n for n in aha.notes)
