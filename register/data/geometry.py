"""Where a subject's grid sits in its original image, and the way back.

A real cine is loaded from NIfTI, flipped along z when stored apex first
(:mod:`register.data.orientation`), resampled in-plane to the grid's spacing
(:mod:`register.data.resample`) and cropped around the LV (:mod:`register.data.crop`).
:class:`Geometry` records each step (``meta["geometry"]`` of the subject file, and the
fields file of its tracking), and composes them into one affine: ``affine`` maps an index
``(col, row, slice)`` of the stored grid to world mm, as the NIfTI file's ``original_affine``
maps its voxel ``(x, y, z)``. Mapping a tracked field back to the original image is then
one matrix, ``inv(affine) @ original_affine`` (original voxel -> grid index), and a
bilinear interpolation (:func:`displacement_in_original`).

Displacement convention (the registration's, ``docs/interfaces.md``): ``u_t`` is defined
on the ED grid and ``I_t(x + u_t(x)) ~ I_ED(x)``: the point at ``x`` in ED is at
``x + u_t(x)`` in frame ``t``. In the original image's space, ``u`` is a vector in world
mm (the NIfTI world, RAS+: x to the subject's right, y anterior, z superior) at each
original voxel centre, three components ``(x, y, z)``; it lies in the slice plane (binn
tracks in-plane), so the through-plane component of the slice frame is zero.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from binn.errors import BinnInputError
from binn.resample import InPlaneGrid, resampled_affine


def _diag_affine(spacing_zyx: np.ndarray) -> np.ndarray:
    """The affine ``diag(sx, sy, sz)`` binn gives arrays without an original image."""
    s = np.asarray(spacing_zyx, dtype=np.float64)
    return np.diag([s[2], s[1], s[0], 1.0])


@dataclasses.dataclass(frozen=True)
class Geometry:
    """The original image of a subject and how its grid was made from it.

    ``original_shape``: ``(Z, H, W)`` voxels of the original image (z, y, x);
    ``original_spacing_mm``: ``(3,)`` mm (z, y, x); ``original_affine``: its ``(4, 4)``
    voxel ``(x, y, z)`` -> world mm matrix; ``flipped``: the slice axis was reversed (stored
    apex first); ``resample_origin_mm``: ``(2,)`` (row, col) of the resampled grid's first
    pixel centre in the original in-plane mm frame (pixel ``i`` at ``i * s``);
    ``crop_origin``: ``(2,)`` (row, col) of the crop's first pixel on the resampled grid
    (negative where the window starts outside the image); ``shape``: ``(Z, H, W)`` and
    ``spacing_mm``: ``(3,)`` (z, y, x) of the stored grid; ``affine``: its index
    ``(col, row, slice)`` -> world mm matrix; ``ed_frame``: the 0-based frame of the
    original cine that is the grid's frame 0 (ED), None when not a cine;
    ``original_frames``: the original cine's frame count (None when not a cine).
    """

    original_shape: tuple[int, int, int]
    original_spacing_mm: tuple[float, float, float]
    original_affine: np.ndarray
    flipped: bool
    resample_origin_mm: tuple[float, float]
    crop_origin: tuple[int, int]
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    affine: np.ndarray
    ed_frame: int | None = None
    original_frames: int | None = None

    @classmethod
    def native(
        cls,
        shape: tuple[int, int, int],
        spacing_zyx: np.ndarray,
        affine: np.ndarray | None = None,
        ed_frame: int | None = None,
        original_frames: int | None = None,
    ) -> Geometry:
        """The geometry of an image as stored (``affine`` None: ``diag(sx, sy, sz)``)."""
        spacing = tuple(float(v) for v in np.asarray(spacing_zyx, dtype=np.float64))
        aff = _diag_affine(np.asarray(spacing)) if affine is None else np.asarray(affine, float)
        shape = tuple(int(v) for v in shape)
        return cls(
            original_shape=shape,  # type: ignore[arg-type]
            original_spacing_mm=spacing,  # type: ignore[arg-type]
            original_affine=aff.copy(),
            flipped=False,
            resample_origin_mm=(0.0, 0.0),
            crop_origin=(0, 0),
            shape=shape,  # type: ignore[arg-type]
            spacing_mm=spacing,  # type: ignore[arg-type]
            affine=aff.copy(),
            ed_frame=ed_frame,
            original_frames=original_frames,
        )

    def flipped_z(self) -> Geometry:
        """This geometry with the grid's slice axis reversed."""
        from binn.register.data.orientation import flip_affine

        return dataclasses.replace(
            self, flipped=not self.flipped, affine=flip_affine(self.affine, self.shape[0])
        )

    def resampled(self, grid: InPlaneGrid) -> Geometry:
        """This geometry after an in-plane resampling of the grid onto ``grid``."""
        origin = (
            np.asarray(self.resample_origin_mm)
            + np.asarray(grid.origin_mm)
            + (np.asarray(self.crop_origin) * np.asarray(self.spacing_mm[1:]))
        )
        return dataclasses.replace(
            self,
            resample_origin_mm=(float(origin[0]), float(origin[1])),
            crop_origin=(0, 0),
            shape=(self.shape[0], int(grid.shape[0]), int(grid.shape[1])),
            spacing_mm=(self.spacing_mm[0], float(grid.spacing_mm[0]), float(grid.spacing_mm[1])),
            affine=resampled_affine(self.affine, grid),
        )

    def cropped(self, origin: np.ndarray, size: int) -> Geometry:
        """This geometry after a ``size x size`` crop starting at ``origin`` (row, col) px."""
        oy, ox = (int(v) for v in origin)
        shift = np.eye(4)
        shift[0, 3], shift[1, 3] = ox, oy
        return dataclasses.replace(
            self,
            crop_origin=(self.crop_origin[0] + oy, self.crop_origin[1] + ox),
            shape=(self.shape[0], int(size), int(size)),
            affine=self.affine @ shift,
        )

    def record(self) -> dict[str, Any]:
        """The JSON record (``meta["geometry"]``); :meth:`from_record` reads it back."""
        return {
            "original_shape_zyx": list(self.original_shape),
            "original_spacing_mm_zyx": list(self.original_spacing_mm),
            "original_affine": np.asarray(self.original_affine).tolist(),
            "flipped_z": bool(self.flipped),
            "resample_origin_mm_rc": list(self.resample_origin_mm),
            "crop_origin_rc": list(self.crop_origin),
            "shape_zyx": list(self.shape),
            "spacing_mm_zyx": list(self.spacing_mm),
            "affine": np.asarray(self.affine).tolist(),
            "ed_frame_0based": self.ed_frame,
            "original_frames": self.original_frames,
            "convention": (
                "affine: grid index (col, row, slice) -> world mm (NIfTI RAS+); "
                "original_affine: original voxel (x, y, z) -> world mm"
            ),
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any], source: object = None) -> Geometry:
        """Read a :meth:`record`; a malformed one raises :class:`BinnInputError`."""
        try:
            geometry = cls(
                original_shape=tuple(int(v) for v in rec["original_shape_zyx"]),  # type: ignore[arg-type]
                original_spacing_mm=tuple(float(v) for v in rec["original_spacing_mm_zyx"]),  # type: ignore[arg-type]
                original_affine=np.asarray(rec["original_affine"], dtype=np.float64),
                flipped=bool(rec["flipped_z"]),
                resample_origin_mm=tuple(float(v) for v in rec["resample_origin_mm_rc"]),  # type: ignore[arg-type]
                crop_origin=tuple(int(v) for v in rec["crop_origin_rc"]),  # type: ignore[arg-type]
                shape=tuple(int(v) for v in rec["shape_zyx"]),  # type: ignore[arg-type]
                spacing_mm=tuple(float(v) for v in rec["spacing_mm_zyx"]),  # type: ignore[arg-type]
                affine=np.asarray(rec["affine"], dtype=np.float64),
                ed_frame=rec.get("ed_frame_0based"),
                original_frames=rec.get("original_frames"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BinnInputError(source, f"malformed geometry record ({exc})") from exc
        for name in ("original_affine", "affine"):
            if getattr(geometry, name).shape != (4, 4):
                raise BinnInputError(source, f"geometry {name} is not a 4x4 matrix")
        return geometry

    def original_to_grid(self) -> np.ndarray:
        """``(4, 4)``: original voxel ``(x, y, z, 1)`` -> grid index ``(col, row, slice, 1)``."""
        return np.linalg.inv(self.affine) @ self.original_affine


def subject_geometry(subject: Any) -> Geometry:
    """The geometry a subject records (``meta["geometry"]``), else, for a subject made on
    the grid (a phantom: no source image), its own grid with the diagonal affine of its
    spacing. A subject imported from an image before binn recorded the geometry (its
    ``meta`` names a crop or an affine but no geometry) raises :class:`BinnInputError`:
    the way back to its image is not known."""
    meta = subject.meta if hasattr(subject, "meta") else {}
    name = getattr(subject, "name", None)
    rec = meta.get("geometry")
    if rec:
        return Geometry.from_record(rec, name)
    if "crop_origin" in meta or "affine" in meta:
        raise BinnInputError(
            name,
            "was imported before binn recorded the geometry back to its image: import it "
            "again (binn import-cine)",
        )
    z, h, w = np.asarray(subject.labels_ed).shape
    return Geometry.native((z, h, w), np.asarray(subject.spacing))


def displacement_in_original(
    fields: np.ndarray, geometry: Geometry, source: object = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fields on the grid, in px, as world-mm vectors at the original image's voxels.

    ``fields``: ``(T, Z, 2, H, W)`` px on the grid (channel 0 rows, 1 columns; the
    registration convention, see the module docstring). Returns ``disp (X, Y, Z', T, 3)``
    float32 mm, world (NIfTI RAS+) components at each original voxel ``(x, y, z)`` (bilinear
    in-plane; zero outside the tracked window) and ``inside (X, Y, Z')`` bool: the voxels
    the window covers. Raises :class:`BinnInputError` naming ``source`` when the fields do
    not fit the grid or the geometry mixes slices (not an in-plane resampling).
    """
    from scipy.ndimage import map_coordinates

    fields = np.asarray(fields)
    zg, hg, wg = geometry.shape
    if fields.ndim != 5 or fields.shape[1:] != (zg, 2, hg, wg):
        raise BinnInputError(
            source, f"fields {fields.shape} do not fit the grid (T, {zg}, 2, {hg}, {wg})"
        )
    zo, ho, wo = geometry.original_shape
    m = geometry.original_to_grid()
    linear = geometry.affine[:3, :3]  # grid index steps (col, row, slice) -> world mm
    xs, ys = np.meshgrid(np.arange(wo, dtype=np.float64), np.arange(ho, dtype=np.float64),
                         indexing="ij")  # fmt: skip
    t_count = fields.shape[0]
    disp = np.zeros((wo, ho, zo, t_count, 3), dtype=np.float32)
    inside = np.zeros((wo, ho, zo), dtype=bool)
    eps = 1e-6
    for k in range(zo):
        pts = m @ np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, float(k)), np.ones(xs.size)])
        col, row, sl = (pts[i].reshape(xs.shape) for i in range(3))
        kz = round(float(sl.flat[0]))
        if not np.allclose(sl, kz, atol=1e-3):
            raise BinnInputError(source, "the geometry mixes slices: not an in-plane grid")
        if not 0 <= kz < zg:
            continue
        win = (row >= -eps) & (row <= hg - 1 + eps) & (col >= -eps) & (col <= wg - 1 + eps)
        inside[:, :, k] = win
        if not win.any():
            continue
        coords = np.stack([row[win], col[win]])
        for t in range(t_count):
            u_row = map_coordinates(fields[t, kz, 0].astype(np.float64), coords, order=1,
                                    mode="nearest")  # fmt: skip
            u_col = map_coordinates(fields[t, kz, 1].astype(np.float64), coords, order=1,
                                    mode="nearest")  # fmt: skip
            world = linear @ np.stack([u_col, u_row, np.zeros_like(u_col)])  # (3, N) mm
            disp[win, k, t, :] = world.T
    return disp, inside


def original_frame_order(frames: np.ndarray, geometry: Geometry) -> tuple[np.ndarray, bool]:
    """The time axis of an export: ``order`` (indices into ``frames``) and whether it is the
    original cine's frame order.

    When the fields hold every frame of a cine whose ED frame is known, the frames are put
    back in the file's order (its frame 1 first); otherwise they stay as tracked (ED first).
    """
    frames = np.asarray(frames, dtype=np.int64)
    n = geometry.original_frames
    if geometry.ed_frame is None or n is None or sorted(frames.tolist()) != list(range(n)):
        return np.arange(len(frames)), False
    original = (frames + int(geometry.ed_frame)) % n  # original 0-based frame of each field
    return np.argsort(original), True
