"""Segmental and global Lagrangian strain per frame, peaks and time-to-peak, R_VAE per frame.

Strain is the Green-Lagrange strain with ED as reference, projected on the radial and
circumferential directions about each slice's ED LV cavity centroid
(:func:`binn.analysis.measures.metrics.radial_circumferential_strain_maps`, the
definition binn's evaluation uses). A segment's strain in a frame is the mean over all its
ED myocardium pixels, pooled over the slices of its level; the global strain is the mean
over every pixel that has a segment (all levelled slices): the **pixel-mean** definition
(:data:`STRAIN_DEFINITION`), neither mid-wall nor contour-based. Peaks over the tracked
frames: radial the maximum, circumferential the minimum (most negative); the time-to-peak is
the frame of the peak (0 = ED) and its phase ``frame / T`` in the cycle; the values at the
labelled ES frame stand beside them. Missing values are NaN.

Frame numbers inside binn count from ED (0 = ED); pages and people use the cine's own 1-based
numbers (as ACDC's ``Info.cfg``): :func:`cine_frame` converts.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from binn.analysis.measures.aha import AHA_NAMES, SEGMENT_LEVEL, AhaAssignment
from binn.analysis.measures.metrics import radial_circumferential_strain_maps
from binn.errors import BinnInputError
from binn.vocabulary import MYOCARDIUM

N_ROWS = 17  # row 0 = global, rows 1..16 = AHA segments
STRAIN_DEFINITION = {
    "name": "pixel mean",
    "text": "Green-Lagrange strain E = (F^T F - I)/2 with ED as reference, F = I + grad u "
    "from the tracked displacement on the image grid; projected on the radial and "
    "circumferential unit vectors about each slice's ED LV cavity centroid; averaged over "
    "every ED myocardium pixel of a segment (global: every pixel with a segment), border "
    "pixels included; not mid-wall, not contour-based. Dimensionless (x100 = %). Peak: "
    "radial maximum, circumferential minimum over the tracked frames",
}


def cine_frame(index: int | np.ndarray, n_frames: int, ed_frame: int = 1) -> int | np.ndarray:
    """The cine's 1-based frame number of frame ``index`` counted from ED (0 = ED) in a
    ``n_frames`` cycle whose ED is the cine's frame ``ed_frame`` (1-based)."""
    out = (np.asarray(index, np.int64) + ed_frame - 1) % n_frames + 1
    return int(out) if out.ndim == 0 else out


def row_name(row: int) -> str:
    """``global`` for row 0, else the AHA segment name."""
    return "global" if row == 0 else AHA_NAMES[row]


def row_level(row: int) -> str:
    """``all`` for the global row, else the segment's level."""
    return "all" if row == 0 else SEGMENT_LEVEL[row]


@dataclasses.dataclass(frozen=True)
class StrainCurves:
    """Radial and circumferential strain ``(17, T')`` (row 0 global, rows 1-16 segments),
    dimensionless, over ``frames (T',)``; ``n_pixels (17,)`` ED myocardium pixels per row."""

    frames: np.ndarray
    radial: np.ndarray
    circ: np.ndarray
    n_pixels: np.ndarray


def segment_strain_curves(
    fields: np.ndarray, frames: np.ndarray, aha: AhaAssignment, spacing: np.ndarray
) -> StrainCurves:
    """Strain curves of tracked ``fields (T', Z, 2, H, W)`` px (ED grid) per AHA segment.

    ``frames``: ``(T',)`` frame indices of the fields; ``aha``: the ED segment assignment;
    ``spacing``: ``(2,)`` in-plane mm. A pixel at a centroid has no radial direction and is
    left out.
    """
    fields = np.asarray(fields)
    if fields.ndim != 5 or fields.shape[1:] != (aha.segments.shape[0], 2, *aha.segments.shape[1:]):
        raise BinnInputError(
            None, f"fields {fields.shape} do not fit the labels {aha.segments.shape} (Z, H, W)"
        )
    t_n = fields.shape[0]
    sums = np.zeros((2, N_ROWS, t_n))
    counts = np.zeros(N_ROWS)
    for z in range(fields.shape[1]):
        seg = aha.segments[z]
        if not seg.any():
            continue
        err, ecc, has_dir = radial_circumferential_strain_maps(
            fields[:, z], aha.centres[z], spacing
        )
        valid = (seg > 0) & has_dir
        onehot = np.zeros((int(valid.sum()), N_ROWS))
        onehot[np.arange(len(onehot)), seg[valid]] = 1.0
        onehot[:, 0] = 1.0
        sums[0] += (err[:, valid] @ onehot).T
        sums[1] += (ecc[:, valid] @ onehot).T
        counts += onehot.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts[None, :, None] > 0, sums / counts[None, :, None], np.nan)
    return StrainCurves(np.asarray(frames, np.int64), means[0], means[1], counts.astype(np.int64))


def peak(curves: np.ndarray, frames: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Peak of each row of ``curves (R, T')`` over ``frames (T',)``: ``kind`` ``max`` (radial)
    or ``min`` (circumferential). Returns ``(values (R,), peak_frames (R,) int)``; a row
    without finite values gets NaN and frame -1."""
    curves = np.asarray(curves, dtype=np.float64)
    finite = np.isfinite(curves)
    fill = -np.inf if kind == "max" else np.inf
    masked = np.where(finite, curves, fill)
    idx = np.argmax(masked, axis=1) if kind == "max" else np.argmin(masked, axis=1)
    has = finite.any(axis=1)
    values = np.where(has, curves[np.arange(len(curves)), idx], np.nan)
    return values, np.where(has, np.asarray(frames)[idx], -1).astype(np.int64)


def r_vae_per_slice(vae, fields: np.ndarray, labels_ed: np.ndarray) -> np.ndarray:
    """R_VAE (:func:`binn.learn.score.r_vae`) of every tracked field: ``(T', Z)``, NaN on slices
    without ED myocardium. ``fields``: ``(T', Z, 2, H, W)`` px; ``labels_ed``: ``(Z, H, W)``."""
    import torch

    from binn.learn.score import r_vae

    t_n, z_n = fields.shape[:2]
    out = np.full((t_n, z_n), np.nan)
    device = next(vae.parameters()).device
    with torch.no_grad():
        for z in range(z_n):
            myo = np.asarray(labels_ed[z]) == MYOCARDIUM
            if not myo.any():
                continue
            field = torch.from_numpy(np.ascontiguousarray(fields[:, z], np.float32)).to(device)
            mask = torch.from_numpy(myo).to(device)
            out[:, z] = r_vae(vae, field, mask.expand(t_n, *myo.shape)).cpu().numpy()
    return out


@dataclasses.dataclass(frozen=True)
class StrainAnalysis:
    """Everything ``binn strain`` reports for one subject and one tracking.

    ``tracked``/``truth``: curves of the tracked fields and of the ground-truth motion
    (phantoms; ``None`` otherwise); ``r_vae``: ``(T', Z)`` or ``None`` (no VAE given,
    ``vae_note`` says why); ``n_frames``: frames in the cycle (T); ``es_index``: ES frame or
    ``None`` when unknown; ``spacing``: ``(3,)`` mm (z, y, x).
    """

    subject: str
    method: str
    setting: str
    n_frames: int
    es_index: int | None
    spacing: np.ndarray
    aha: AhaAssignment
    tracked: StrainCurves
    truth: StrainCurves | None
    r_vae: np.ndarray | None
    vae_note: str
    slices_without_myocardium: list[int]

    def r_vae_per_frame(self) -> np.ndarray | None:
        """Mean R_VAE over the slices with myocardium, per tracked frame ``(T',)``."""
        if self.r_vae is None:
            return None
        ok = np.isfinite(self.r_vae).any(axis=0)
        return self.r_vae[:, ok].mean(axis=1) if ok.any() else np.full(len(self.r_vae), np.nan)

    def es_position(self) -> int | None:
        """Position of the ES frame among the tracked frames, ``None`` when ES is unknown or
        not tracked."""
        if self.es_index is None:
            return None
        pos = np.flatnonzero(self.tracked.frames == self.es_index)
        return int(pos[0]) if len(pos) else None

    def peak_rows(self) -> list[dict]:
        """One dict per row (global, segments 1-16): peaks, time-to-peak (frame and phase),
        the value at ES (NaN when ES is unknown or not tracked) and the peak's offset from ES
        in frames (``None`` then), the ground truth's and the absolute peak errors (NaN
        without ground truth)."""
        c = self.tracked
        rows = []
        stats = {
            "radial": peak(c.radial, c.frames, "max"),
            "circ": peak(c.circ, c.frames, "min"),
        }
        gt = {}
        if self.truth is not None:
            gt = {
                "radial": peak(self.truth.radial, self.truth.frames, "max"),
                "circ": peak(self.truth.circ, self.truth.frames, "min"),
            }
        es = self.es_position()
        for r in range(N_ROWS):
            row = {
                "segment_id": r,
                "segment": row_name(r),
                "level": row_level(r),
                "n_pixels": int(c.n_pixels[r]),
            }
            for key, (values, frames) in stats.items():
                found = frames[r] >= 0
                row[f"peak_{key}_strain"] = float(values[r])
                row[f"time_to_peak_{key}_frame"] = int(frames[r]) if found else None
                row[f"time_to_peak_{key}_phase"] = (
                    float(frames[r]) / self.n_frames if found else float("nan")
                )
                curve = getattr(c, key)[r]
                row[f"{key}_strain_es"] = float(curve[es]) if es is not None else float("nan")
                row[f"peak_{key}_minus_es_frames"] = (
                    int(frames[r]) - int(self.es_index) if found and es is not None else None
                )
                if gt:
                    row[f"peak_{key}_strain_gt"] = float(gt[key][0][r])
                    row[f"peak_{key}_strain_error"] = float(abs(values[r] - gt[key][0][r]))
                    truth = getattr(self.truth, key)[r]
                    row[f"{key}_strain_es_gt"] = (
                        float(truth[es]) if es is not None else float("nan")
                    )
            rows.append(row)
        return rows


def analyse_strain(
    subject: str,
    method: str,
    setting: str,
    labels_ed: np.ndarray,
    spacing: np.ndarray,
    n_frames: int,
    fields: np.ndarray,
    frames: np.ndarray,
    aha: AhaAssignment,
    es_index: int | None = None,
    motion: np.ndarray | None = None,
    vae=None,
    vae_note: str = "",
) -> StrainAnalysis:
    """Strain analysis of one tracking: ``fields (T', Z, 2, H, W)`` px over ``frames (T',)``
    of a ``n_frames``-frame cycle, on the grid of ``labels_ed (Z, H, W)`` (ACDC values),
    ``spacing (3,)`` mm. ``motion (T, Z, 2, H, W)`` px is the ground truth (optional);
    ``vae`` a loaded :func:`binn.learn.score.load_vae` model (optional)."""
    labels_ed = np.asarray(labels_ed)
    frames = np.asarray(frames, np.int64)
    if len(frames) != fields.shape[0] or frames.min() < 0 or frames.max() >= n_frames:
        raise BinnInputError(
            subject,
            f"{fields.shape[0]} fields for frames {frames.tolist()} do not fit a "
            f"{n_frames}-frame cine",
        )
    sp = np.asarray(spacing, dtype=np.float64)
    tracked = segment_strain_curves(fields, frames, aha, sp[1:])
    truth = None
    if motion is not None:
        truth = segment_strain_curves(np.asarray(motion)[frames], frames, aha, sp[1:])
    scores = None if vae is None else r_vae_per_slice(vae, fields, labels_ed)
    empty = [z for z in range(labels_ed.shape[0]) if not (labels_ed[z] == MYOCARDIUM).any()]
    return StrainAnalysis(
        subject=subject,
        method=method,
        setting=setting,
        n_frames=int(n_frames),
        es_index=es_index,
        spacing=sp,
        aha=aha,
        tracked=tracked,
        truth=truth,
        r_vae=scores,
        vae_note=vae_note,
        slices_without_myocardium=empty,
    )
