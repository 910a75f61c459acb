"""The self-contained HTML page of ``binn strain`` (images inlined as data URIs).

Top to bottom: the subject, method (with its setting and grid) and timing; the values
outside the normal range (:mod:`binn.analysis.measures.reference`), or a line saying there
are none; global strain at ES and at peak beside the normal range; the bull's-eyes; the
curves; the per-segment table (ES and peak); the AHA map; R_VAE (said once); notes; the
tracked contours; the definitions and references with their citations.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from binn.analysis.measures.reference import NORMAL_BANDS, PUBLISHED_NORMALS
from binn.analysis.measures.strain import StrainAnalysis
from binn.analysis.rendering.strain_gif import GIF_ZOOM
from binn.analysis.rendering.strain_view import StrainView

FIGURES = ("bullseye_peak_radial", "bullseye_peak_circ", "strain_global", "strain_segments",
           "aha_segments")  # fmt: skip
GIF_SHOWN_ZOOM = 2  # the page shows a GIF pixel as this many screen pixels
STYLE = """body{font-family:sans-serif;margin:1.5em;max-width:1400px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:0.4em 0}
td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}
td:first-child,th:first-child{text-align:left}
td.flag{background:#fde2c8;font-weight:bold}
.flags{border-left:5px solid #d9822b;background:#fff4e8;padding:0.4em 1em}
.ok{border-left:5px solid #3a8d3a;background:#eef8ee;padding:0.4em 1em}
figure{display:inline-block;margin:4px;text-align:center;font-size:12px}
img{max-width:100%}img.gif{image-rendering:pixelated}
.small{font-size:12px;color:#555}"""


def embed(path: Path, css_class: str = "", width: int | None = None) -> str:
    """An ``<img>`` holding ``path`` as a data URI (PNG or GIF)."""
    mime = "image/gif" if path.suffix == ".gif" else "image/png"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    extra = (f' class="{css_class}"' if css_class else "") + (f' width="{width}"' if width else "")
    return f'<img alt="{html.escape(path.name)}"{extra} src="data:{mime};base64,{data}">'


def pct(v: Any) -> str:
    """A dimensionless strain as percent text, ``—`` when missing."""
    return "—" if v is None or not math.isfinite(float(v)) else f"{100 * float(v):.1f}"


def _time(row: dict, key: str, view: StrainView) -> str:
    """When a row's peak is: ``frame 12`` or ``330 ms, frame 12``."""
    frame = row.get(f"peak_{key}_cine_frame")
    if frame is None:
        return "—"
    ms = row.get(f"time_to_peak_{key}_ms")
    return (f"{ms:.0f} ms, " if ms is not None else "") + f"frame {frame}"


def _offset(row: dict, key: str, view: StrainView) -> str:
    frames = row.get(f"peak_{key}_minus_es_frames")
    if frames is None:
        return "—"
    if view.frame_time_ms:
        return f"{frames * view.frame_time_ms:+.0f} ms ({frames:+d})"
    return f"{frames:+d}"


def _cells(cells: list[tuple[str, bool]], header: bool = False) -> str:
    tag = "th" if header else "td"
    return (
        "<tr>"
        + "".join(
            f"<{tag}{' class=flag' if flag else ''}>{html.escape(text)}</{tag}>"
            for text, flag in cells
        )
        + "</tr>"
    )


def global_table(obj: dict[str, Any], view: StrainView) -> str:
    """Global radial and circumferential strain: at ES, at peak (flagged outside the
    normal band), when, the peak's offset from ES, and the normal band."""
    g = obj["global"]
    flagged = {f["what"] for f in obj["reference"]["flags"]}
    bands = {"radial": NORMAL_BANDS.global_radial_pct, "circ": NORMAL_BANDS.global_circ_pct}
    unit = view.time_unit
    rows = [_cells([(h, False) for h in (
        "global strain", "at ES (%)", "peak (%)", "peak at", f"peak - ES ({unit})",
        "normal peak (%)")], header=True)]  # fmt: skip
    for key, name in (("radial", "radial"), ("circ", "circumferential")):
        lo, hi = bands[key]
        rows.append(_cells([
            (name, False), (pct(g[f"{key}_strain_es"]), False),
            (pct(g[f"peak_{key}_strain"]), f"global peak {name}" in flagged),
            (_time(g, key, view), False), (_offset(g, key, view), False),
            (f"{lo:g} to {hi:g}", False),
        ]))  # fmt: skip
    return "<table>" + "".join(rows) + "</table>"


def segment_table(obj: dict[str, Any], view: StrainView, gt: bool) -> str:
    """Per AHA segment (and global): pixels, radial and circumferential at ES and at peak,
    when; a segment's peak radial above the normal maximum is flagged."""
    head = ["segment", "level", "pixels", "radial at ES (%)", "peak radial (%)", "peak at",
            "circ. at ES (%)", "peak circ. (%)", "peak at"]  # fmt: skip
    if gt:
        head += ["peak radial GT (%)", "peak circ. GT (%)"]
    rows = [_cells([(h, False) for h in head], header=True)]
    limit = NORMAL_BANDS.segment_radial_max_pct
    for row in [obj["global"], *obj["segments"]]:
        radial = row["peak_radial_strain"]
        over = row["segment_id"] != 0 and radial is not None and 100 * radial > limit
        name = f"{row['segment_id']} {row['segment']}" if row["segment_id"] else "global"
        cells = [
            (name, False), (row["level"], False), (str(row["n_pixels"]), False),
            (pct(row["radial_strain_es"]), False), (pct(radial), over),
            (_time(row, "radial", view), False), (pct(row["circ_strain_es"]), False),
            (pct(row["peak_circ_strain"]), False), (_time(row, "circ", view), False),
        ]  # fmt: skip
        if gt:
            cells += [(pct(row.get("peak_radial_strain_gt")), False),
                      (pct(row.get("peak_circ_strain_gt")), False)]  # fmt: skip
        rows.append(_cells(cells))
    return "<table>" + "".join(rows) + "</table>"


def _flags_html(obj: dict[str, Any]) -> str:
    ref = obj["reference"]
    if not ref["flags"]:
        return (f'<p class="ok">Every value lies in the normal range ({html.escape(ref["bands"])})'
                ".</p>")  # fmt: skip
    items = "".join(f"<li>{html.escape(f['text'])}</li>" for f in ref["flags"])
    return (
        '<div class="flags"><b>Outside the normal range</b> of healthy hearts '
        f"({html.escape(ref['bands'])}), or a peak far from ES:<ul>{items}</ul>Expected in "
        "disease; on a normal heart it points at the tracking (under-tracked motion "
        "under-reads strain: compare the contours with the image at ES below).</div>"
    )


def _r_vae_html(obj: dict[str, Any]) -> str:
    r = obj["r_vae"]
    if r["available"]:
        vals = ", ".join("—" if v is None else f"{v:.4g}" for v in r["per_frame"])
        return f"<p>R_VAE per tracked frame (mean over slices; low = plausible): {vals}</p>"
    return f"<p>R_VAE not computed: {html.escape(r['note'] or 'no VAE given')}.</p>"


def html_page(
    a: StrainAnalysis, obj: dict[str, Any], view: StrainView, folder: Path, gifs: list[Path]
) -> str:
    """The page of analysis ``a`` (``obj``: its strain.json object; figures read from
    ``folder``; ``gifs``: the contour GIFs in slice order)."""
    figs = {name: embed(folder / f"{name}.png") for name in FIGURES}
    width = None
    gif_html = ""
    for g in gifs:
        from PIL import Image

        with Image.open(g) as im:
            width = im.size[0] * GIF_SHOWN_ZOOM
        gif_html += (f"<figure>{embed(g, 'gif', width)}<figcaption>{html.escape(g.stem)}"
                     "</figcaption></figure>")  # fmt: skip
    anchors = ", ".join(
        f"z{z}: {lvl or '—'}, {f'{ang:.0f} deg' if ang is not None else '—'} ({src or '—'})"
        for z, (lvl, ang, src) in enumerate(
            zip(a.aha.levels, a.aha.anterior_angle_deg, a.aha.anchor_source, strict=True)
        )
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in obj["notes"])
    empty = a.slices_without_myocardium or "none"
    timing = (
        f"{view.frame_time_ms:g} ms per frame (cine header): times in ms from ED"
        if view.frame_time_ms
        else "frame time not in the cine header: times in frames"
    )
    refs = "".join(f"<li>{html.escape(p.text())}</li>" for p in PUBLISHED_NORMALS)
    title = f"Strain: {a.subject}"
    es = "ES unknown (no ES marker)" if a.es_index is None else f"ES = {view.when(a.es_index)}"
    definition = obj["strain_definition"]
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p><b>Method:</b> {html.escape(view.method_text)}. <b>Cycle:</b> {a.n_frames} frames,
{len(a.tracked.frames)} tracked; ED = frame {view.ed_frame}, {html.escape(es)};
frames numbered from 1 as in the cine (Info.cfg); {html.escape(timing)}.</p>
{_flags_html(obj)}
<h2>Global strain</h2>{global_table(obj, view)}
<p class="small">Strain ({html.escape(definition["name"])}): {html.escape(definition["text"])}.
</p>
<h2>Bull's-eye: peak strain per AHA segment</h2>{figs["bullseye_peak_radial"]}
{figs["bullseye_peak_circ"]}
<h2>Strain curves</h2>{figs["strain_global"]}<br>{figs["strain_segments"]}
<h2>Per AHA segment: at ES and at peak</h2>{segment_table(obj, view, a.truth is not None)}
<h2>AHA segments</h2><p>{figs["aha_segments"]}</p>
<p class="small">Slice levels and anterior RV insertion angles: {html.escape(anchors)}.
Slices without myocardium: {html.escape(str(empty))}.</p>
<h2>Plausibility of the motion (R_VAE)</h2>{_r_vae_html(obj)}
<h2>Notes</h2><ul>{notes or "<li>none</li>"}</ul>
<h2>Tracked ED contours per slice</h2>{gif_html or "<p>no slice with myocardium</p>"}
<p class="small">Each GIF pixel block is one image pixel ({GIF_ZOOM} x {GIF_ZOOM} GIF px,
shown {GIF_SHOWN_ZOOM}x); the ED contours are moved by the tracked field to each frame.</p>
<h2>Definitions and references</h2>
<p class="small">Orientation: {html.escape(obj["orientation"])}.</p>
<p class="small">Normal ranges flagged on this page: {html.escape(obj["reference"]["bands"])}.
Published values (quoted, not computed):</p><ul class="small">{refs}</ul>
</body></html>
"""
