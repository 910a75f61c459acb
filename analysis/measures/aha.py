"""AHA segments of the left-ventricular myocardium on short-axis slices (16-segment model).

Orientation convention (stated once, used everywhere in binn's strain analysis): a slice
``[row, col]`` is looked at as ``matplotlib.imshow`` shows it, row 0 at the top, which for
ACDC and UK Biobank as binn loads them is the standard short-axis view (seen from the
apex, anterior wall up, RV on the viewer's left). Angles are **screen angles** in degrees
about the ED LV cavity centroid, measured in mm: 0 deg points right (+col), 90 deg up
(-row), increasing counter-clockwise on the screen.

Segment numbering (Cerqueira et al., Circulation 2002): the RV insertion points are the
ends of the arc along which the RV cavity (label 1) touches the LV myocardium (label 2).
Going counter-clockwise on the screen the arc runs anterior insertion -> septum ->
inferior insertion, so the anterior insertion is the arc's counter-clockwise start. With
``phi`` the screen angle counter-clockwise from the anterior insertion point:

- basal (1-6) and mid (7-12) slices: six 60-deg sectors; segment 2/8 (anteroseptal)
  covers ``phi`` in [0, 60), 3/9 [60, 120), 4/10 [120, 180), 5/11 [180, 240),
  6/12 [240, 300) and 1/7 (anterior) [300, 360): the anterior insertion point is the
  border of segments 1 and 2;
- apical slices (13-16): four 90-deg sectors centred on the same anterior, septal,
  inferior and lateral axes as the basal ones: 13 anterior [-75, 15), 14 septal [15, 105),
  15 inferior [105, 195), 16 lateral [195, 285).

Rotating the anatomy rotates the numbering with it. The insertion point is found on each
slice; a slice whose RV does not touch the myocardium borrows the anchor of the nearest
slice that has one (recorded as ``rv (slice k)``). When no slice has one, numbering is
undefined and :func:`assign_aha` raises, unless the caller gives the anterior insertion
angle (``anterior_angle_deg``, recorded as ``manual``). A mirrored image (RV on the
viewer's right) cannot be told apart from the image alone: it keeps the septum right but
swaps anterior and inferior; the assignment says so in its notes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from scipy import ndimage

from binn.analysis.measures.levels import slice_levels
from binn.errors import BinnInputError
from binn.vocabulary import LV_CAVITY, MYOCARDIUM, RV_CAVITY

AHA_NAMES: dict[int, str] = {
    1: "basal anterior",
    2: "basal anteroseptal",
    3: "basal inferoseptal",
    4: "basal inferior",
    5: "basal inferolateral",
    6: "basal anterolateral",
    7: "mid anterior",
    8: "mid anteroseptal",
    9: "mid inferoseptal",
    10: "mid inferior",
    11: "mid inferolateral",
    12: "mid anterolateral",
    13: "apical anterior",
    14: "apical septal",
    15: "apical inferior",
    16: "apical lateral",
}
SEGMENT_LEVEL = {k: ("basal" if k <= 6 else "mid" if k <= 12 else "apical") for k in AHA_NAMES}
# (first segment, number of sectors, phi where the first segment starts), degrees
LEVEL_SECTORS = {"basal": (1, 6, -60.0), "mid": (7, 6, -60.0), "apical": (13, 4, -75.0)}
MAX_RV_DILATION_PX = 3
MIN_CONTACT_PIXELS = 3


@dataclasses.dataclass(frozen=True)
class AhaAssignment:
    """AHA segment of every ED myocardium pixel of a stack.

    ``segments``: ``(Z, H, W)`` int8, 1-16, 0 outside the myocardium (or on slices without
    a level); ``levels``: per slice ``basal``/``mid``/``apical``/``None``; ``centres``:
    ``(Z, 2)`` px (row, col), the ED LV cavity centroid (NaN without myocardium);
    ``anterior_angle_deg``: per slice, the screen angle of the anterior insertion point
    used; ``anchor_source``: per slice ``rv``, ``rv (slice k)``, ``manual`` or ``None``;
    ``notes``: human-readable remarks (fallbacks used, suspicious orientation).
    """

    segments: np.ndarray
    levels: list[str | None]
    centres: np.ndarray
    anterior_angle_deg: list[float | None]
    anchor_source: list[str | None]
    notes: list[str]


def aha_levels(myo: np.ndarray) -> list[str | None]:
    """Basal/mid/apical level per slice of a ``(Z, H, W)`` ED myocardium stack (base first).

    The one call of :func:`binn.analysis.measures.levels.slice_levels` in the strain analysis.
    """
    return slice_levels(myo)


def screen_angle_deg(
    rows: np.ndarray, cols: np.ndarray, centre: np.ndarray, spacing: np.ndarray
) -> np.ndarray:
    """Screen angle (deg, [0, 360)) of pixels ``(rows, cols)`` about ``centre`` (row, col) px.

    Measured in mm with ``spacing (2,)``; 0 = right, 90 = up, counter-clockwise on screen.
    """
    dy = (np.asarray(rows, np.float64) - centre[0]) * spacing[0]
    dx = (np.asarray(cols, np.float64) - centre[1]) * spacing[1]
    return np.degrees(np.arctan2(-dy, dx)) % 360.0


def lv_centre(labels: np.ndarray) -> np.ndarray:
    """ED LV cavity centroid ``(2,)`` px of one ``(H, W)`` slice; the myocardium's if there is
    no cavity; NaN when there is neither."""
    for value in (LV_CAVITY, MYOCARDIUM):
        idx = np.argwhere(labels == value)
        if idx.size:
            return idx.mean(axis=0)
    return np.full(2, np.nan)


def rv_insertion_angles(
    labels: np.ndarray, centre: np.ndarray, spacing: np.ndarray
) -> tuple[float, float] | None:
    """Screen angles (deg) ``(anterior, inferior)`` of the RV insertion points of one slice.

    ``labels``: ``(H, W)`` ACDC values. The contact arc is the set of myocardium pixels
    within ``MAX_RV_DILATION_PX`` of the RV cavity (the RV is dilated one pixel at a time
    until it touches the myocardium); its ends are the insertion points, the anterior one
    the arc's counter-clockwise start (after the largest angular gap). ``None`` when the RV
    is absent or touches fewer than ``MIN_CONTACT_PIXELS`` myocardium pixels.
    """
    rv, myo = labels == RV_CAVITY, labels == MYOCARDIUM
    if not rv.any() or not myo.any():
        return None
    contact = np.zeros_like(myo)
    for _ in range(MAX_RV_DILATION_PX):
        rv = ndimage.binary_dilation(rv)
        contact = rv & myo
        if contact.sum() >= MIN_CONTACT_PIXELS:
            break
    if contact.sum() < MIN_CONTACT_PIXELS:
        return None
    rows, cols = np.nonzero(contact)
    angles = np.sort(screen_angle_deg(rows, cols, centre, spacing))
    gaps = np.diff(np.concatenate([angles, [angles[0] + 360.0]]))
    k = int(np.argmax(gaps))
    return float(angles[(k + 1) % len(angles)]), float(angles[k])


def segment_slice(
    myo: np.ndarray,
    level: str,
    centre: np.ndarray,
    anterior_angle_deg: float,
    spacing: np.ndarray,
) -> np.ndarray:
    """AHA segment (int8, 0 outside ``myo``) of every pixel of one ``(H, W)`` slice.

    ``level``: ``basal``/``mid``/``apical``; ``centre``: ``(2,)`` px; ``anterior_angle_deg``:
    screen angle of the anterior insertion point; ``spacing``: ``(2,)`` mm. See the module
    docstring for the sectors.
    """
    rows, cols = np.nonzero(myo)
    angles = screen_angle_deg(rows, cols, centre, spacing)
    out = np.zeros(myo.shape, dtype=np.int8)
    out[rows, cols] = segment_of_angle(angles, level, anterior_angle_deg)
    return out


def segment_of_angle(
    angle_deg: np.ndarray | float, level: str, anterior_angle_deg: float
) -> np.ndarray:
    """AHA segment (int) of screen angles ``angle_deg`` (deg) on a slice of ``level`` whose
    anterior insertion point is at ``anterior_angle_deg`` (see the module docstring)."""
    first, count, start = LEVEL_SECTORS[level]
    phi = (np.asarray(angle_deg, np.float64) - anterior_angle_deg) % 360.0
    sector = np.floor(((phi - start) % 360.0) / (360.0 / count)).astype(np.int64) % count
    return first + sector


def assign_aha(
    labels_ed: np.ndarray,
    spacing: np.ndarray,
    anterior_angle_deg: float | None = None,
    source: str | Path | None = None,
) -> AhaAssignment:
    """AHA segments of the ED myocardium of a ``(Z, H, W)`` ACDC label stack (base first).

    ``spacing``: ``(2,)`` in-plane mm (row, col). ``anterior_angle_deg``: if given, the
    anterior insertion angle (screen convention) used on every slice instead of the RV.
    Raises :class:`BinnInputError` naming ``source`` when no slice's RV touches the
    myocardium and no angle is given (segment numbering would be undefined).
    """
    labels_ed = np.asarray(labels_ed)
    if labels_ed.ndim != 3:
        raise BinnInputError(source, f"labels must be (Z, H, W), got {labels_ed.shape}")
    spacing = np.asarray(spacing, dtype=np.float64)
    myo = labels_ed == MYOCARDIUM
    levels = aha_levels(myo)
    z_n = labels_ed.shape[0]
    centres = np.stack([lv_centre(labels_ed[z]) for z in range(z_n)])
    notes: list[str] = []
    found: dict[int, tuple[float, float]] = {}
    if anterior_angle_deg is None:
        for z in range(z_n):
            if levels[z] is None:
                continue
            angles = rv_insertion_angles(labels_ed[z], centres[z], spacing)
            if angles is not None:
                found[z] = angles
        if not found:
            raise BinnInputError(
                source,
                "no slice has an RV cavity (label 1) touching the LV myocardium, so the AHA "
                "segment numbering is undefined; give the anterior RV insertion angle "
                "(--anterior-angle DEG, screen angle: 0 right, 90 up, counter-clockwise) "
                "to number the segments anyway",
            )
    anchors: list[float | None] = [None] * z_n
    sources: list[str | None] = [None] * z_n
    segments = np.zeros(labels_ed.shape, dtype=np.int8)
    for z in range(z_n):
        if levels[z] is None:
            continue
        if anterior_angle_deg is not None:
            anchors[z], sources[z] = float(anterior_angle_deg) % 360.0, "manual"
        elif z in found:
            anchors[z], sources[z] = found[z][0], "rv"
        else:
            near = min(found, key=lambda k: (abs(k - z), k))
            anchors[z], sources[z] = found[near][0], f"rv (slice {near})"
            notes.append(
                f"slice {z}: RV does not touch the myocardium; anterior insertion point "
                f"taken from slice {near}"
            )
        segments[z] = segment_slice(myo[z], levels[z], centres[z], anchors[z], spacing)
    if anterior_angle_deg is not None:
        notes.append(
            f"anterior insertion angle given by hand ({float(anterior_angle_deg):g} deg), "
            "RV label not used"
        )
    for z, (ant, inf) in sorted(found.items()):
        septum = np.radians(ant + ((inf - ant) % 360.0) / 2.0)
        if np.cos(septum) > 0:
            notes.append(
                f"slice {z}: the septum faces the viewer's right; if the image is mirrored, "
                "anterior and inferior segments are swapped"
            )
    return AhaAssignment(segments, levels, centres, anchors, sources, notes)
