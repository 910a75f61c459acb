"""The figures of a strain page: strain curves, bull's-eye plots and the AHA segment map.

Each figure names the subject and the method with its setting (:class:`StrainView`), marks
and labels ES, and gives time in ms where known. Bull's-eye numbers are printed in white on
dark segments and black on light ones (:func:`text_colour`, by the colour's luminance), the
walls are named around the plot, and the colour scale is fixed by default
(:data:`binn.analysis.rendering.strain_view.FIXED_SCALE_PCT`). PNGs are written with a
256-colour palette (a third of the size, no visible loss on plots).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np

from binn.analysis.measures.aha import AHA_NAMES, SEGMENT_LEVEL
from binn.analysis.measures.strain import StrainAnalysis
from binn.analysis.rendering.strain_view import COLOUR_MAPS, StrainView
from binn.io import atomic_path

DPI = 100
RING_WIDTH = 0.27
PNG_COLOURS = 256
# the walls of the 16-segment plot (seen from the apex, anterior up, septum left): screen
# angle of the middle of each basal/mid wall, and of each apical one
WALLS = {90.0: "anterior", 150.0: "anteroseptal", 210.0: "inferoseptal", 270.0: "inferior",
         330.0: "inferolateral", 30.0: "anterolateral"}  # fmt: skip
APICAL_WALLS = {13: "anterior", 14: "septal", 15: "inferior", 16: "lateral"}
CONTRAST_LUMINANCE = 0.179  # white and black text contrast equally at this luminance


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    """Write ``fig`` as a 256-colour PNG (atomically) and close it."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    buf.seek(0)
    with Image.open(buf) as image:
        small = image.convert("RGB").quantize(colors=PNG_COLOURS)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(out.getvalue())


def relative_luminance(rgb: tuple[float, ...]) -> float:
    """WCAG relative luminance of an sRGB colour ``(r, g, b[, a])`` in [0, 1]."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def text_colour(rgb: tuple[float, ...]) -> str:
    """``white`` or ``black``: the text colour with the higher contrast on ``rgb`` (WCAG
    contrast ratio; white below a luminance of about 0.18)."""
    lum = relative_luminance(rgb)
    return "white" if (1.05 / (lum + 0.05)) > ((lum + 0.05) / 0.05) else "black"


def _mark_es(ax, view: StrainView, label: bool = True) -> None:
    """A dotted vertical line at ES, labelled along the line near the bottom."""
    if view.es_index is None:
        return
    x = float(view.x(np.array([view.es_index]))[0])
    ax.axvline(x, color="0.35", lw=1.0, ls=":")
    if label:
        ax.annotate(view.es_text, (x, 0.03), xycoords=("data", "axes fraction"),
                    xytext=(-3, 0), textcoords="offset points", rotation=90, fontsize=7,
                    ha="right", va="bottom", color="0.25")  # fmt: skip


def _mark_peak(ax, x: float, y: float, text: str) -> None:
    ax.plot([x], [y], marker="*", ms=9, color="tab:red", zorder=5)
    ax.annotate(text, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)


def curves_figures(
    a: StrainAnalysis, view: StrainView, global_png: Path, segments_png: Path
) -> None:
    """Global curves (radial, circumferential, R_VAE when known) with ES and the peaks
    marked, and per-segment curves per level."""
    plt = _pyplot()
    c, gt = a.tracked, a.truth
    r_vae = a.r_vae_per_frame()
    x = view.x(c.frames)
    n = 3 if r_vae is not None else 2
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 3.4))
    for ax, key, label, fn in zip(
        axes[:2],
        ("radial", "circ"),
        ("radial", "circumferential"),
        (np.nanargmax, np.nanargmin),
        strict=True,
    ):
        y = 100 * getattr(c, key)[0]
        ax.plot(x, y, "o-", ms=3, label=a.method)
        if gt is not None:
            ax.plot(view.x(gt.frames), 100 * getattr(gt, key)[0], "k--", label="ground truth")
        if np.isfinite(y).any():
            i = int(fn(y))
            _mark_peak(ax, x[i], y[i], f"peak {y[i]:.1f} % ({view.when(int(c.frames[i]))})")
        ax.axhline(0, color="0.8", lw=0.8)
        _mark_es(ax, view)
        ax.set(xlabel=view.x_label, ylabel="strain (%)", title=f"global {label} strain")
        ax.legend(fontsize=7, loc="best")
    if r_vae is not None:
        axes[2].plot(x, r_vae, "o-", ms=3, color="tab:purple")
        _mark_es(axes[2], view)
        axes[2].set(xlabel=view.x_label, ylabel="R_VAE (low = plausible)", title="R_VAE")
    fig.suptitle(f"{a.subject}: {view.method_text}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, global_png)

    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5), sharex=True)
    for j, level in enumerate(("basal", "mid", "apical")):
        ids = [k for k in AHA_NAMES if SEGMENT_LEVEL[k] == level]
        for i, (key, label) in enumerate((("radial", "radial"), ("circ", "circumferential"))):
            ax = axes[i, j]
            for k in ids:
                if c.n_pixels[k]:
                    ax.plot(x, 100 * getattr(c, key)[k], lw=1.2, label=f"{k} {AHA_NAMES[k]}")
            ax.axhline(0, color="0.8", lw=0.8)
            _mark_es(ax, view, label=i == 0)
            ax.set(title=f"{level} {label}", ylabel="strain (%)")
            if i == 1:
                ax.set_xlabel(view.x_label)
            if not any(c.n_pixels[k] for k in ids):
                ax.text(0.5, 0.5, "no slices", ha="center", va="center", transform=ax.transAxes)
            elif i == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"{a.subject}: segmental strain, {view.method_text}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, segments_png)


def segment_wedge(k: int) -> tuple[float, float, float, float]:
    """Bull's-eye wedge of segment ``k``: ``(theta1, theta2, r_outer, width)``, degrees.

    Standard layout: segment 1 (basal anterior) at the top, numbering counter-clockwise,
    basal outer ring, apical inner ring (the apex, segment 17, is not assessed)."""
    if k <= 12:
        centre = 90.0 + ((k - 1) % 6) * 60.0
        half, outer = 30.0, 1.0 if k <= 6 else 0.73
    else:
        centre, half, outer = 90.0 + (k - 13) * 90.0, 45.0, 0.47
    return centre - half, centre + half, outer, RING_WIDTH


@dataclasses.dataclass(frozen=True)
class BullseyeDrawn:
    """What :func:`bullseye_figure` drew: the text colour per segment 1-16, every text in
    the plot (segments, walls, title) and the colour limits (percent)."""

    inks: list[str]
    texts: list[str]
    limits: tuple[float, float]


def bullseye_figure(
    values: np.ndarray, kind: str, title: str, view: StrainView, path: Path
) -> BullseyeDrawn:
    """Bull's-eye plot of ``values (16,)`` (segments 1-16, dimensionless; NaN = n/a).

    ``kind``: ``radial`` (0 up, darker = more thickening) or ``circ`` (0 down, darker =
    more shortening); the colour limits come from ``view``. Each segment shows its number
    and value in percent in the text colour of its face (:func:`text_colour`); the six
    walls are named around the plot, the apical ring's four inside it."""
    plt = _pyplot()
    from matplotlib import colors
    from matplotlib.cm import ScalarMappable
    from matplotlib.patches import Circle, Wedge

    pct = 100 * np.asarray(values, dtype=np.float64)
    lo, hi = view.limits(kind, pct)
    norm = colors.Normalize(lo, hi, clip=True)
    cm = plt.get_cmap(COLOUR_MAPS[kind])
    fig, ax = plt.subplots(figsize=(5.4, 4.9))
    used = []
    for k in range(1, 17):
        t1, t2, r, w = segment_wedge(k)
        v = pct[k - 1]
        face = cm(norm(v)) if np.isfinite(v) else (0.85, 0.85, 0.85, 1.0)
        ink = text_colour(face)
        used.append(ink)
        ax.add_patch(Wedge((0, 0), r, t1, t2, width=w, facecolor=face, edgecolor="k", lw=0.8))
        mid = np.radians(0.5 * (t1 + t2))
        rr = r - w / 2
        value = f"{v:.1f}" if np.isfinite(v) else "n/a"
        text = f"{k}\n{APICAL_WALLS[k]}\n{value}" if k in APICAL_WALLS else f"{k}\n{value}"
        ax.text(rr * np.cos(mid), rr * np.sin(mid), text, ha="center", va="center",
                fontsize=6.5 if k in APICAL_WALLS else 7.5, color=ink,
                fontweight="bold")  # fmt: skip
    for angle, name in WALLS.items():
        a = np.radians(angle)
        ax.text(1.13 * np.cos(a), 1.13 * np.sin(a), name, ha="center", va="center",
                fontsize=8, rotation=angle - 90 if 0 < angle < 180 else angle + 90)  # fmt: skip
    ax.add_patch(Circle((0, 0), 0.2, facecolor="white", edgecolor="k", lw=0.8))
    ax.text(0, 0, "apex\nn/a", ha="center", va="center", fontsize=6, color="0.4")
    ax.text(0, -1.36, "rings from outside: basal, mid, apical; seen from the apex, septum "
            "left", ha="center", va="center", fontsize=6.5, color="0.3")  # fmt: skip
    ax.set(xlim=(-1.3, 1.3), ylim=(-1.42, 1.3), aspect="equal")
    ax.set_title(f"{view.subject}: {title}\n{view.method_text}", fontsize=9)
    ax.axis("off")
    extend = "both" if view.colour_scale == "fixed" else "neither"
    fig.colorbar(ScalarMappable(norm, cm), ax=ax, label=view.scale_text(kind), shrink=0.75,
                 extend=extend)  # fmt: skip
    texts = [t.get_text() for t in ax.texts] + [ax.get_title()]
    save_figure(fig, path)
    return BullseyeDrawn(used, texts, (lo, hi))


def segments_figure(a: StrainAnalysis, images_ed: np.ndarray, path: Path) -> None:
    """ED slices ``images_ed (Z, H, W)`` with the AHA segment of every myocardium pixel (the
    number at each segment's centroid) and the anterior RV insertion direction."""
    plt = _pyplot()
    z_n = images_ed.shape[0]
    cols = min(z_n, 5)
    rows = -(-z_n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.5 * rows), squeeze=False)
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
    fig.suptitle(f"{a.subject}: AHA segments at ED (yellow: anterior RV insertion)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
