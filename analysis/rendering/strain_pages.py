"""The files of ``binn strain``: CSV, JSON, PNG curves, bull's-eye plots, contour GIFs, HTML.

Everything goes into one folder that appears complete or not at all
(:func:`binn.io.staged_folder`: written into a hidden folder beside the destination and
renamed onto it at the end; an existing folder is replaced only with ``force``, and only
when it holds nothing but binn's outputs). Files (``docs/interfaces.md``):

- ``strain.csv``: one row per AHA segment (and ``global``) x tracked frame; ``frame``
  counts from ED (0 = ED), ``cine_frame`` is the cine's 1-based number, ``time_ms`` the
  time from ED where the cine header gives the frame time (else empty);
- ``strain.json``: every number (curves, peaks, values at ES, time-to-peak, R_VAE, AHA
  anchors, notes), the strain definition, how frames and times are given (``display``),
  and the published normal values with the values outside them (``reference``);
- ``strain_global.png``, ``strain_segments.png``: strain curves over the cycle, ES marked;
- ``aha_segments.png``: the ED slices with each myocardium pixel's AHA segment;
- ``bullseye_peak_radial.png``, ``bullseye_peak_circ.png``: 16-segment bull's-eye plots
  (fixed colour scale unless ``colour_scale="subject"``);
- ``contours_z{z}.gif`` per slice with myocardium: the ED contours moved by the tracked
  field over every tracked frame (:mod:`binn.analysis.rendering.strain_gif`);
- ``index.html``: one self-contained page showing all of the above
  (:mod:`binn.analysis.rendering.strain_html`).
Strain is dimensionless in CSV/JSON and in percent in figures and HTML. A 30-frame,
10-slice subject on the 64 px grid writes about 3 MB in all (tested below 5 MB).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from binn.analysis.measures.reference import (
    NORMAL_BANDS,
    PUBLISHED_NORMALS,
    strain_flags,
)
from binn.analysis.measures.strain import (
    N_ROWS,
    STRAIN_DEFINITION,
    StrainAnalysis,
    row_level,
    row_name,
)
from binn.analysis.rendering.strain_figures import (
    bullseye_figure,
    curves_figures,
    segments_figure,
)
from binn.analysis.rendering.strain_gif import GIF_ZOOM, contour_gif  # noqa: F401 (re-export)
from binn.analysis.rendering.strain_html import html_page
from binn.analysis.rendering.strain_view import FIXED, StrainView, strain_view
from binn.analysis.tables.io import write_csv
from binn.io import staged_folder, write_json, write_text
from binn.vocabulary import MYOCARDIUM

ORIENTATION = (
    "slices shown with row 0 at the top; AHA numbering assumes the standard short-axis "
    "view (seen from the apex, anterior up, RV on the viewer's left); screen angles: "
    "0 deg right, 90 deg up, counter-clockwise"
)
CSV_COLUMNS = (
    "subject", "method", "setting", "frame", "cine_frame", "time_ms", "phase", "segment_id",
    "segment", "level", "n_pixels", "radial_strain", "circ_strain", "radial_strain_gt",
    "circ_strain_gt", "r_vae",
)  # fmt: skip
STRAIN_FILES = ("strain.csv", "strain.json", "index.html", "*.png", "contours_z*.gif")
"""What a strain folder holds (:func:`binn.io.check_output`: ``--force`` replaces a folder
written before output manifests only when it holds nothing else)."""


def _finite_or_none(value: Any) -> Any:
    """JSON-safe copy: NaN/Inf -> ``None``, numpy scalars/arrays -> Python values."""
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, np.ndarray):
        return _finite_or_none(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def curves_table(a: StrainAnalysis, view: StrainView | None = None) -> pd.DataFrame:
    """The CSV table: one row per row id (0 global, 1-16 AHA) x tracked frame; ``view``
    numbers the frames as the cine does (default: ED is the cine's frame 1, no frame time).
    """
    view = view or strain_view(a, {}, a.aha.segments.shape[-1])
    c, gt = a.tracked, a.truth
    r_vae = a.r_vae_per_frame()
    rows = []
    for r in range(N_ROWS):
        for i, t in enumerate(c.frames):
            rows.append({
                "subject": a.subject, "method": a.method, "setting": a.setting,
                "frame": int(t), "cine_frame": view.frame(int(t)),
                "time_ms": int(t) * view.frame_time_ms if view.frame_time_ms else np.nan,
                "phase": t / a.n_frames, "segment_id": r,
                "segment": row_name(r), "level": row_level(r), "n_pixels": int(c.n_pixels[r]),
                "radial_strain": c.radial[r, i], "circ_strain": c.circ[r, i],
                "radial_strain_gt": np.nan if gt is None else gt.radial[r, i],
                "circ_strain_gt": np.nan if gt is None else gt.circ[r, i],
                "r_vae": np.nan if r_vae is None else r_vae[i],
            })  # fmt: skip
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS))


def _timed(row: dict[str, Any], view: StrainView) -> dict[str, Any]:
    """``row`` with each peak's 1-based cine frame and its time from ED in ms (``None``
    unknown)."""
    for key in ("radial", "circ"):
        t = row[f"time_to_peak_{key}_frame"]
        row[f"peak_{key}_cine_frame"] = None if t is None else view.frame(t)
        row[f"time_to_peak_{key}_ms"] = (
            None if t is None or not view.frame_time_ms else t * view.frame_time_ms
        )
    return row


def reference_record(rows: list[dict[str, Any]], n_frames: int) -> dict[str, Any]:
    """The JSON ``reference`` object of peak rows ``rows`` (global first): the normal bands,
    the published values with their citations, and the flags (values outside the bands)."""
    g = rows[0]
    segments = {
        f"{r['segment_id']} {r['segment']}": 100 * r["peak_radial_strain"]
        for r in rows[1:]
        if r["peak_radial_strain"] is not None
    }
    flags = strain_flags(
        100 * g["peak_radial_strain"] if g["peak_radial_strain"] is not None else math.nan,
        100 * g["peak_circ_strain"] if g["peak_circ_strain"] is not None else math.nan,
        segments,
        {"radial": g["peak_radial_minus_es_frames"],
         "circumferential": g["peak_circ_minus_es_frames"]},
        n_frames,
    )  # fmt: skip
    return {
        "bands": NORMAL_BANDS.text(),
        "band_values_pct": {
            "global_circ": list(NORMAL_BANDS.global_circ_pct),
            "global_radial": list(NORMAL_BANDS.global_radial_pct),
            "segment_radial_max": NORMAL_BANDS.segment_radial_max_pct,
        },
        "published": [dataclasses.asdict(p) for p in PUBLISHED_NORMALS],
        "flags": [f.as_dict() for f in flags],
        "within_normal": not flags,
    }


def summary(
    a: StrainAnalysis,
    inputs: dict[str, Any],
    notes: list[str],
    provenance: dict[str, Any],
    view: StrainView | None = None,
) -> dict[str, Any]:
    """The JSON object (NaN as ``null``): inputs, provenance, strain definition, display
    (frames, times, colour scale), AHA anchors, curves, peaks and values at ES, R_VAE, the
    normal ranges and the values outside them, notes."""
    view = view or strain_view(a, inputs, a.aha.segments.shape[-1])
    c, gt = a.tracked, a.truth
    rows = [_timed(row, view) for row in a.peak_rows()]
    for r, row in enumerate(rows):
        row["radial_strain"] = c.radial[r]
        row["circ_strain"] = c.circ[r]
        if gt is not None:
            row["radial_strain_gt"] = gt.radial[r]
            row["circ_strain_gt"] = gt.circ[r]
    rows = _finite_or_none(rows)
    per_frame = a.r_vae_per_frame()
    obj = {
        "subject": a.subject,
        "method": a.method,
        "setting": a.setting,
        "inputs": inputs,
        "provenance": provenance,
        "n_frames": a.n_frames,
        "es_index": a.es_index,
        "es_frame": None if a.es_index is None else view.frame(a.es_index),
        "frames": c.frames,
        "cine_frames": [view.frame(int(t)) for t in c.frames],
        "frame_time_ms": view.frame_time_ms,
        "spacing_mm": a.spacing,
        "strain": "Green-Lagrange, ED reference, radial/circumferential about the ED LV "
        "cavity centroid; dimensionless; peaks: radial max, circumferential min",
        "strain_definition": STRAIN_DEFINITION,
        "display": view.as_dict(),
        "orientation": ORIENTATION,
        "aha": {
            "levels": a.aha.levels,
            "anterior_insertion_angle_deg": a.aha.anterior_angle_deg,
            "anchor_source": a.aha.anchor_source,
            "centres_px": a.aha.centres,
        },
        "slices_without_myocardium": a.slices_without_myocardium,
        "ground_truth": gt is not None,
        "r_vae": {
            "available": a.r_vae is not None,
            "note": a.vae_note,
            "per_frame": per_frame,
            "per_frame_per_slice": a.r_vae,
        },
        "reference": reference_record(rows, a.n_frames),
        "global": rows[0],
        "segments": rows[1:],
        "notes": notes,
    }
    return _finite_or_none(obj)


def write_strain_outputs(
    a: StrainAnalysis,
    images: np.ndarray,
    fields: np.ndarray,
    labels_ed: np.ndarray,
    out: Path,
    inputs: dict[str, Any],
    notes: list[str],
    provenance: dict[str, Any],
    force: bool = False,
    *,
    ed_frame: int = 1,
    frame_time_ms: float | None = None,
    colour_scale: str = FIXED,
) -> list[Path]:
    """Write every output of one analysis into the folder ``out`` (see the module docstring).

    ``images (T, Z, H, W)`` [0, 1], ``fields (T', Z, 2, H, W)`` px (the analysed ones),
    ``labels_ed (Z, H, W)``; ``inputs``: what was read and ``provenance``
    (:func:`binn.provenance.provenance`), both recorded in the JSON; ``notes``: remarks for
    the JSON and HTML (the AHA notes are added here; the R_VAE note is said once, in its
    own place). ``ed_frame``: the cine's 1-based number of the ED frame (frames are shown
    in the cine's numbering); ``frame_time_ms``: the cine header's frame interval (``None``:
    times in frames); ``colour_scale``: ``fixed`` (default, the same for every subject) or
    ``subject`` (each bull's-eye scaled to its own values)."""
    view = strain_view(
        a, inputs, int(np.shape(labels_ed)[-1]), ed_frame=ed_frame,
        frame_time_ms=frame_time_ms, colour_scale=colour_scale,
    )  # fmt: skip
    all_notes = [*notes, *a.aha.notes]
    if a.slices_without_myocardium:
        all_notes.append(
            f"slices {a.slices_without_myocardium} have no ED myocardium: listed, no strain"
        )
    with staged_folder(out, force, STRAIN_FILES) as tmp:
        write_csv(tmp / "strain.csv", curves_table(a, view))
        obj = summary(a, inputs, all_notes, provenance, view)
        write_json(tmp / "strain.json", obj)
        curves_figures(a, view, tmp / "strain_global.png", tmp / "strain_segments.png")
        segments_figure(a, images[0], tmp / "aha_segments.png")
        rows = obj["segments"]
        for key, label in (("radial", "radial"), ("circ", "circumferential")):
            values = np.array([
                np.nan if r[f"peak_{key}_strain"] is None else r[f"peak_{key}_strain"]
                for r in rows
            ])  # fmt: skip
            title = f"peak {label} strain (%)"
            bullseye_figure(values, key, title, view, tmp / f"bullseye_peak_{key}.png")
        gifs = []
        frames = a.tracked.frames
        for z in range(labels_ed.shape[0]):
            myo = labels_ed[z] == MYOCARDIUM
            if myo.any():
                gifs.append(tmp / f"contours_z{z}.gif")
                level = a.aha.levels[z]
                contour_gif(images[:, z], fields[:, z], frames, myo, gifs[-1], f"z{z} {level}",
                            view)  # fmt: skip
        write_text(tmp / "index.html", html_page(a, obj, view, tmp, gifs))
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out) / n for n in names]
