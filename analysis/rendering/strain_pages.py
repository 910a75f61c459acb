"""The files of ``binn strain``: CSV, JSON, PNG curves, bull's-eye plots, contour GIFs, HTML.

Everything goes into one folder that appears complete or not at all: the files are
written into a temporary folder beside the destination, which is renamed onto it at the
end (an existing folder is replaced only with ``force``). Files (``docs/interfaces.md``):

- ``strain.csv``: one row per AHA segment (and ``global``) x tracked frame;
- ``strain.json``: every number (curves, peaks, time-to-peak, R_VAE, AHA anchors, notes);
- ``strain_global.png``, ``strain_segments.png``: strain curves over the cycle;
- ``aha_segments.png``: the ED slices with each myocardium pixel's AHA segment;
- ``bullseye_peak_radial.png``, ``bullseye_peak_circ.png``: 16-segment bull's-eye plots;
- ``contours_z{z}.gif`` per slice with myocardium: the ED contours moved by the tracked
  field over every tracked frame;
- ``index.html``: one self-contained page showing all of the above.
Strain is dimensionless in CSV/JSON and in percent in figures and HTML.
"""

from __future__ import annotations

import base64
import contextlib
import html
import math
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from binn.analysis.measures.aha import AHA_NAMES, SEGMENT_LEVEL
from binn.analysis.measures.strain import N_ROWS, StrainAnalysis, row_level, row_name
from binn.analysis.tables.io import write_csv
from binn.errors import BinnInputError
from binn.io import write_json, write_text
from binn.vocabulary import MYOCARDIUM

ORIENTATION = (
    "slices shown with row 0 at the top; AHA numbering assumes the standard short-axis "
    "view (seen from the apex, anterior up, RV on the viewer's left); screen angles: "
    "0 deg right, 90 deg up, counter-clockwise"
)
CSV_COLUMNS = (
    "subject", "method", "setting", "frame", "phase", "segment_id", "segment", "level",
    "n_pixels", "radial_strain", "circ_strain", "radial_strain_gt", "circ_strain_gt", "r_vae",
)  # fmt: skip
DPI = 100
RING_WIDTH = 0.27
GIF_FPS = 8
GIF_ZOOM = 4  # screen px per image px
GIF_CONTOUR_RGB = (0, 255, 0)  # lime


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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


def curves_table(a: StrainAnalysis) -> pd.DataFrame:
    """The CSV table: one row per row id (0 global, 1-16 AHA) x tracked frame."""
    c, gt = a.tracked, a.truth
    r_vae = a.r_vae_per_frame()
    rows = []
    for r in range(N_ROWS):
        for i, t in enumerate(c.frames):
            rows.append({
                "subject": a.subject, "method": a.method, "setting": a.setting,
                "frame": int(t), "phase": t / a.n_frames, "segment_id": r,
                "segment": row_name(r), "level": row_level(r), "n_pixels": int(c.n_pixels[r]),
                "radial_strain": c.radial[r, i], "circ_strain": c.circ[r, i],
                "radial_strain_gt": np.nan if gt is None else gt.radial[r, i],
                "circ_strain_gt": np.nan if gt is None else gt.circ[r, i],
                "r_vae": np.nan if r_vae is None else r_vae[i],
            })  # fmt: skip
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS))


def summary(
    a: StrainAnalysis, inputs: dict[str, Any], notes: list[str], provenance: dict[str, Any]
) -> dict[str, Any]:
    """The JSON object (NaN as ``null``): inputs, provenance, AHA anchors, curves, peaks,
    R_VAE, notes."""
    c, gt = a.tracked, a.truth
    rows = a.peak_rows()
    for r, row in enumerate(rows):
        row["radial_strain"] = c.radial[r]
        row["circ_strain"] = c.circ[r]
        if gt is not None:
            row["radial_strain_gt"] = gt.radial[r]
            row["circ_strain_gt"] = gt.circ[r]
    per_frame = a.r_vae_per_frame()
    obj = {
        "subject": a.subject,
        "method": a.method,
        "setting": a.setting,
        "inputs": inputs,
        "provenance": provenance,
        "n_frames": a.n_frames,
        "es_index": a.es_index,
        "frames": c.frames,
        "spacing_mm": a.spacing,
        "strain": "Green-Lagrange, ED reference, radial/circumferential about the ED LV "
        "cavity centroid; dimensionless; peaks: radial max, circumferential min",
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
        "global": rows[0],
        "segments": rows[1:],
        "notes": notes,
    }
    return _finite_or_none(obj)


def _save_figure(fig, path: Path) -> None:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)


def _mark_es(ax, a: StrainAnalysis) -> None:
    if a.es_index is not None:
        ax.axvline(a.es_index, color="0.6", lw=0.8, ls=":")


def curves_figures(a: StrainAnalysis, global_png: Path, segments_png: Path) -> None:
    """Global curves (radial, circumferential, R_VAE when known) and per-segment curves."""
    plt = _pyplot()
    c, gt = a.tracked, a.truth
    r_vae = a.r_vae_per_frame()
    n = 3 if r_vae is not None else 2
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.2))
    for ax, key, label in zip(
        axes[:2], ("radial", "circ"), ("radial", "circumferential"), strict=True
    ):
        ax.plot(c.frames, 100 * getattr(c, key)[0], "o-", ms=3, label=a.method)
        if gt is not None:
            ax.plot(gt.frames, 100 * getattr(gt, key)[0], "k--", label="ground truth")
        ax.axhline(0, color="0.8", lw=0.8)
        _mark_es(ax, a)
        ax.set(xlabel="frame (0 = ED)", ylabel="strain (%)", title=f"global {label} strain")
        ax.legend(fontsize=8)
    if r_vae is not None:
        axes[2].plot(c.frames, r_vae, "o-", ms=3, color="tab:purple")
        _mark_es(axes[2], a)
        axes[2].set(xlabel="frame (0 = ED)", ylabel="R_VAE (low = plausible)", title="R_VAE")
    fig.suptitle(f"{a.subject}: {a.method} {a.setting}".strip(), fontsize=10)
    fig.tight_layout()
    _save_figure(fig, global_png)

    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5), sharex=True)
    for j, level in enumerate(("basal", "mid", "apical")):
        ids = [k for k in AHA_NAMES if SEGMENT_LEVEL[k] == level]
        for i, (key, label) in enumerate((("radial", "radial"), ("circ", "circumferential"))):
            ax = axes[i, j]
            for k in ids:
                if c.n_pixels[k]:
                    ax.plot(c.frames, 100 * getattr(c, key)[k], lw=1.2, label=f"{k} {AHA_NAMES[k]}")
            ax.axhline(0, color="0.8", lw=0.8)
            _mark_es(ax, a)
            ax.set(title=f"{level} {label}", ylabel="strain (%)")
            if i == 1:
                ax.set_xlabel("frame (0 = ED)")
            if not any(c.n_pixels[k] for k in ids):
                ax.text(0.5, 0.5, "no slices", ha="center", va="center", transform=ax.transAxes)
            elif i == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"{a.subject}: segmental strain ({a.method})", fontsize=10)
    fig.tight_layout()
    _save_figure(fig, segments_png)


def _segment_wedge(k: int) -> tuple[float, float, float, float]:
    """Bull's-eye wedge of segment ``k``: ``(theta1, theta2, r_outer, width)``, degrees.

    Standard layout: segment 1 (basal anterior) at the top, numbering counter-clockwise,
    basal outer ring, apical inner ring (the apex, segment 17, is not assessed)."""
    if k <= 12:
        centre = 90.0 + ((k - 1) % 6) * 60.0
        half, outer = 30.0, 1.0 if k <= 6 else 0.73
    else:
        centre, half, outer = 90.0 + (k - 13) * 90.0, 45.0, 0.47
    return centre - half, centre + half, outer, RING_WIDTH


def bullseye_figure(values: np.ndarray, title: str, path: Path, kind: str) -> None:
    """Bull's-eye plot of ``values (16,)`` (segments 1-16, dimensionless; NaN = n/a).

    ``kind``: ``radial`` (0 .. max, darker = more thickening) or ``circ`` (min .. 0,
    darker = more shortening)."""
    plt = _pyplot()
    from matplotlib import colors
    from matplotlib.cm import ScalarMappable
    from matplotlib.patches import Circle, Wedge

    pct = 100 * np.asarray(values, dtype=np.float64)
    finite = pct[np.isfinite(pct)]
    if kind == "radial":
        lo, hi, cmap = 0.0, max(float(finite.max()) if finite.size else 1.0, 1.0), "Reds"
    else:
        lo, hi, cmap = min(float(finite.min()) if finite.size else -1.0, -1.0), 0.0, "Blues_r"
    norm = colors.Normalize(lo, hi)
    cm = plt.get_cmap(cmap)
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    for k in range(1, 17):
        t1, t2, r, w = _segment_wedge(k)
        v = pct[k - 1]
        face = cm(norm(v)) if np.isfinite(v) else "0.85"
        ax.add_patch(Wedge((0, 0), r, t1, t2, width=w, facecolor=face, edgecolor="k", lw=0.8))
        mid = np.radians(0.5 * (t1 + t2))
        rr = r - w / 2
        text = f"{k}\n{v:.1f}" if np.isfinite(v) else f"{k}\nn/a"
        ax.text(rr * np.cos(mid), rr * np.sin(mid), text, ha="center", va="center", fontsize=7)
    ax.add_patch(Circle((0, 0), 0.2, facecolor="white", edgecolor="k", lw=0.8))
    ax.text(0, 0, "apex\nn/a", ha="center", va="center", fontsize=6, color="0.4")
    ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), aspect="equal", title=title)
    ax.axis("off")
    fig.colorbar(ScalarMappable(norm, cm), ax=ax, label="strain (%)", shrink=0.8)
    _save_figure(fig, path)


def segments_figure(a: StrainAnalysis, images_ed: np.ndarray, path: Path) -> None:
    """ED slices ``images_ed (Z, H, W)`` with the AHA segment of every myocardium pixel (the
    number at each segment's centroid) and the anterior RV insertion direction."""
    plt = _pyplot()
    z_n = images_ed.shape[0]
    cols = min(z_n, 4)
    rows = -(-z_n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols, 2.9 * rows), squeeze=False)
    cmap = plt.get_cmap("tab20", 16)
    for z, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if z >= z_n:
            continue
        ax.imshow(images_ed[z], cmap="gray", vmin=0.0, vmax=1.0)
        seg = a.aha.segments[z]
        ax.set_title(f"z{z} {a.aha.levels[z] or 'no myocardium'}", fontsize=8)
        if not seg.any():
            continue
        ax.imshow(np.ma.masked_equal(seg, 0), cmap=cmap, vmin=0.5, vmax=16.5, alpha=0.6)
        for k in np.unique(seg[seg > 0]):
            r, c = np.argwhere(seg == k).mean(axis=0)
            ax.text(c, r, str(k), fontsize=7, ha="center", va="center", color="k")
        ang = a.aha.anterior_angle_deg[z]
        if ang is not None:
            cy, cx = a.aha.centres[z]
            length = 0.45 * images_ed.shape[-1]
            ax.plot([cx, cx + length * np.cos(np.radians(ang))],
                    [cy, cy - length * np.sin(np.radians(ang))], "y-", lw=1.0)  # fmt: skip
    fig.suptitle("AHA segments at ED (yellow: anterior RV insertion)", fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path)


def _ed_contours(myo: np.ndarray) -> list[np.ndarray]:
    """Boundaries ``(N, 2)`` (row, col) px of an ED myocardium mask (endo- and epicardium)."""
    from skimage import measure

    padded = np.pad(myo.astype(np.float64), 1)
    return [c - 1.0 for c in measure.find_contours(padded, 0.5) if len(c) > 4]


def contour_gif(
    images: np.ndarray,
    fields: np.ndarray,
    frames: np.ndarray,
    myo: np.ndarray,
    path: Path,
    title: str,
) -> None:
    """Animated GIF: the ED myocardium contours moved to each tracked frame over its image.

    ``images (T, H, W)`` in [0, 1] (one slice), ``fields (T', 2, H, W)`` px, ``frames
    (T',)``, ``myo (H, W)`` ED myocardium. A contour point ``p`` (ED) is drawn at
    ``p + u_t(p)`` (the registration convention maps ED points to frame t), ``u`` sampled
    bilinearly. Each image pixel is ``GIF_ZOOM`` x ``GIF_ZOOM`` screen pixels under a
    caption strip; frames are drawn with Pillow directly (matplotlib's animation writer
    took 30 ms a frame, most of a strain job)."""
    from PIL import Image, ImageDraw
    from scipy import ndimage

    contours = _ed_contours(myo)
    h, w = images.shape[-2:]
    strip = 14  # caption height, screen px
    pictures = []
    for i, t in enumerate(frames):
        grey = np.clip(np.asarray(images[int(t)], dtype=np.float64), 0.0, 1.0)
        image = Image.fromarray((grey * 255).round().astype(np.uint8), mode="L")
        canvas = Image.new("RGB", (w * GIF_ZOOM, h * GIF_ZOOM + strip), "black")
        canvas.paste(image.resize((w * GIF_ZOOM, h * GIF_ZOOM), Image.NEAREST), (0, strip))
        draw = ImageDraw.Draw(canvas)
        for cc in contours:
            u = [
                ndimage.map_coordinates(fields[i, k], cc.T, order=1, mode="nearest") for k in (0, 1)
            ]
            # pixel (r, c) covers [c, c + 1) x [r, r + 1) in image px: its centre is c + 0.5
            xy = (cc[:, 1] + u[1] + 0.5) * GIF_ZOOM, (cc[:, 0] + u[0] + 0.5) * GIF_ZOOM + strip
            draw.line(list(zip(*xy, strict=True)), fill=GIF_CONTOUR_RGB, width=1)
        draw.text((2, 1), f"{title}, frame {int(t)}", fill="white")
        pictures.append(canvas)
    pictures[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=round(1000 / GIF_FPS),
        loop=0,
    )


def _embed(path: Path) -> str:
    mime = "image/gif" if path.suffix == ".gif" else "image/png"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:{mime};base64,{data}">'


def _pct(v: Any) -> str:
    return "—" if v is None or not math.isfinite(float(v)) else f"{100 * float(v):.1f}"


def html_page(a: StrainAnalysis, obj: dict[str, Any], folder: Path, gifs: list[Path]) -> str:
    """The self-contained HTML page (images inlined as data URIs)."""
    gt = a.truth is not None
    head = ["segment", "level", "pixels", "peak radial (%)", "time to peak (frame)",
            "peak circ. (%)", "time to peak (frame)"]  # fmt: skip
    if gt:
        head += ["peak radial GT (%)", "peak circ. GT (%)"]
    body = []
    for row in [obj["global"], *obj["segments"]]:
        cells = [
            f"{row['segment_id']} {row['segment']}" if row["segment_id"] else "global",
            row["level"],
            str(row["n_pixels"]),
            _pct(row["peak_radial_strain"]),
            str(
                row["time_to_peak_radial_frame"]
                if row["time_to_peak_radial_frame"] is not None
                else "—"
            ),
            _pct(row["peak_circ_strain"]),
            str(
                row["time_to_peak_circ_frame"]
                if row["time_to_peak_circ_frame"] is not None
                else "—"
            ),
        ]
        if gt:
            cells += [_pct(row["peak_radial_strain_gt"]), _pct(row["peak_circ_strain_gt"])]
        body.append("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in cells) + "</tr>")
    table = (
        "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
        + "".join(body) + "</table>"
    )  # fmt: skip
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in obj["notes"])
    r = obj["r_vae"]
    if r["available"]:
        vals = ", ".join("—" if v is None else f"{v:.4g}" for v in r["per_frame"])
        r_text = f"<p>R_VAE per tracked frame (mean over slices; low = plausible): {vals}</p>"
    else:
        r_text = f"<p>R_VAE not computed: {html.escape(r['note'])}</p>"
    anchors = ", ".join(
        f"z{z}: {lvl or '—'}, {f'{ang:.0f} deg' if ang is not None else '—'} ({src or '—'})"
        for z, (lvl, ang, src) in enumerate(
            zip(a.aha.levels, a.aha.anterior_angle_deg, a.aha.anchor_source, strict=True)
        )
    )
    gif_html = "".join(
        f"<figure>{_embed(g)}<figcaption>{html.escape(g.stem)}</figcaption></figure>" for g in gifs
    )
    title = f"Strain: {a.subject} ({a.method} {a.setting})".strip()
    empty = a.slices_without_myocardium or "none"
    figs = {
        name: _embed(folder / f"{name}.png")
        for name in (
            "bullseye_peak_radial",
            "bullseye_peak_circ",
            "strain_global",
            "strain_segments",
            "aha_segments",
        )
    }
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:1400px}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #bbb;padding:2px 6px}}
figure{{display:inline-block;margin:4px}}img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{a.n_frames} frames in the cycle, {len(a.tracked.frames)} tracked; ES frame:
{a.es_index if a.es_index is not None else "unknown"}. Strain: {html.escape(obj["strain"])}.
Orientation: {html.escape(ORIENTATION)}.</p>
<p>Slice levels and anterior RV insertion angles: {html.escape(anchors)}.</p>
<p>Slices without myocardium: {html.escape(str(empty))}.</p>
<h2>Notes</h2><ul>{notes or "<li>none</li>"}</ul>
<h2>Peaks per AHA segment</h2>{table}
<p>{figs["aha_segments"]}</p>
{r_text}
<h2>Bull's-eye</h2>{figs["bullseye_peak_radial"]}{figs["bullseye_peak_circ"]}
<h2>Strain curves</h2>{figs["strain_global"]}<br>{figs["strain_segments"]}
<h2>Tracked ED contours per slice</h2>{gif_html or "<p>no slice with myocardium</p>"}
</body></html>
"""


@contextlib.contextmanager
def staged_folder(out: Path, force: bool) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out``; rename it onto ``out`` on success.

    An existing ``out`` raises :class:`BinnInputError` unless ``force`` (then it is
    replaced only once the new folder is complete). On any error the temporary folder is
    removed and ``out`` is left as it was."""
    out = Path(out)
    if out.exists() and not force:
        raise BinnInputError(out, "output folder exists (use --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        tmp.chmod(0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            old.rmdir()
            out.rename(old)
            tmp.rename(out)
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
) -> list[Path]:
    """Write every output of one analysis into the folder ``out`` (see the module docstring).

    ``images (T, Z, H, W)`` [0, 1], ``fields (T', Z, 2, H, W)`` px (the analysed ones),
    ``labels_ed (Z, H, W)``; ``inputs``: what was read and ``provenance``
    (:func:`binn.provenance.provenance`), both recorded in the JSON; ``notes``: remarks for
    the JSON and HTML (the AHA notes and R_VAE note are added here)."""
    all_notes = [*notes, *a.aha.notes]
    if a.r_vae is None:
        all_notes.append(f"R_VAE not computed: {a.vae_note}")
    if a.slices_without_myocardium:
        all_notes.append(
            f"slices {a.slices_without_myocardium} have no ED myocardium: listed, no strain"
        )
    with staged_folder(out, force) as tmp:
        write_csv(tmp / "strain.csv", curves_table(a))
        obj = summary(a, inputs, all_notes, provenance)
        write_json(tmp / "strain.json", obj)
        curves_figures(a, tmp / "strain_global.png", tmp / "strain_segments.png")
        segments_figure(a, images[0], tmp / "aha_segments.png")
        rows = obj["segments"]
        for key, label in (("radial", "radial"), ("circ", "circumferential")):
            values = np.array(
                [
                    np.nan if r[f"peak_{key}_strain"] is None else r[f"peak_{key}_strain"]
                    for r in rows
                ]
            )
            bullseye_figure(
                values, f"peak {label} strain (%)", tmp / f"bullseye_peak_{key}.png", key
            )
        gifs = []
        frames = a.tracked.frames
        for z in range(labels_ed.shape[0]):
            myo = labels_ed[z] == MYOCARDIUM
            if myo.any():
                gifs.append(tmp / f"contours_z{z}.gif")
                level = a.aha.levels[z]
                contour_gif(images[:, z], fields[:, z], frames, myo, gifs[-1], f"z{z} {level}")
        write_text(tmp / "index.html", html_page(a, obj, tmp, gifs))
        names = sorted(p.name for p in tmp.iterdir())
    return [Path(out) / n for n in names]
