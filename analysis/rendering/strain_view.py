"""How a strain page shows time, frames, colour scales and the method: one place for them.

A :class:`StrainView` is made once per page (:func:`strain_view`) and read by the figures,
the GIFs, the JSON and the HTML, so they agree:

- **frames** are the cine's own 1-based numbers (as ACDC's ``Info.cfg``):
  :func:`binn.analysis.measures.strain.cine_frame` of the frame counted from ED;
- **time** is in ms from ED where the cine header gives the frame interval
  (``frame_time_ms``), else in frames, and the axis says which;
- **colour scales** of the bull's-eyes are fixed by default (:data:`FIXED_SCALE_PCT`:
  radial 0 to 60 %, circumferential -30 to 0 %) so two subjects compare by colour;
  ``colour_scale="subject"`` stretches each plot to its own values instead;
- the **method** is named with its setting and the grid it ran on.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from binn.analysis.config import COLOUR_SCALES
from binn.analysis.config import FIXED_COLOURS as FIXED
from binn.analysis.measures.strain import StrainAnalysis, cine_frame
from binn.errors import BinnInputError

# bull's-eye colour limits (percent) of the fixed scale: covers normal peaks (radial about
# 30 %, circumferential about -18 %) with room on both sides; values beyond are drawn in
# the end colour (the colour bar's arrows) and printed as they are
FIXED_SCALE_PCT = {"radial": (0.0, 60.0), "circ": (-30.0, 0.0)}
COLOUR_MAPS = {"radial": "Reds", "circ": "Blues_r"}  # darker = more deformation


@dataclasses.dataclass(frozen=True)
class StrainView:
    """Display settings of one strain page.

    ``subject``: who; ``n_frames``: frames in the cycle; ``ed_frame``: the cine's 1-based
    number of the ED frame; ``frame_time_ms``: the frame interval (``None`` unknown: time
    in frames); ``colour_scale``: ``fixed`` or ``subject``; ``method_text``: the method,
    its setting and grid in words; ``es_index``: ES counted from ED (``None`` unknown).
    """

    subject: str
    n_frames: int
    ed_frame: int
    frame_time_ms: float | None
    colour_scale: str
    method_text: str
    es_index: int | None

    def frame(self, index: int) -> int:
        """The cine's 1-based number of frame ``index`` (counted from ED, 0 = ED)."""
        return int(cine_frame(index, self.n_frames, self.ed_frame))

    def x(self, indices: np.ndarray) -> np.ndarray:
        """Curve abscissae of ``indices`` (from ED): ms from ED, or 1-based frames from ED."""
        indices = np.asarray(indices, dtype=np.float64)
        return indices * self.frame_time_ms if self.frame_time_ms else indices + 1.0

    @property
    def x_label(self) -> str:
        """The curves' x-axis label."""
        if self.frame_time_ms:
            return f"time from ED (ms; {self.frame_time_ms:g} ms per frame)"
        if self.ed_frame == 1:
            return "frame (1 = ED, as Info.cfg)"
        return f"frame from ED (1 = ED = cine frame {self.ed_frame})"

    @property
    def time_unit(self) -> str:
        """``ms`` or ``frames``."""
        return "ms" if self.frame_time_ms else "frames"

    def duration(self, frames: float | None) -> float | None:
        """``frames`` frame intervals in the page's time unit (``None`` stays ``None``)."""
        if frames is None:
            return None
        return float(frames) * self.frame_time_ms if self.frame_time_ms else float(frames)

    def when(self, index: int) -> str:
        """``frame 12`` or ``frame 12, 330 ms``: a frame (from ED) in words."""
        text = f"frame {self.frame(index)}"
        if self.frame_time_ms:
            text += f", {index * self.frame_time_ms:.0f} ms"
        return text

    @property
    def es_text(self) -> str:
        """``ES (frame 12)`` or ``ES unknown``."""
        return "ES unknown" if self.es_index is None else f"ES ({self.when(self.es_index)})"

    def limits(self, kind: str, values_pct: np.ndarray) -> tuple[float, float]:
        """Colour limits (percent) of a ``radial``/``circ`` bull's-eye of ``values_pct``."""
        if self.colour_scale == FIXED:
            return FIXED_SCALE_PCT[kind]
        finite = values_pct[np.isfinite(values_pct)]
        if kind == "radial":
            return 0.0, max(float(finite.max()) if finite.size else 1.0, 1.0)
        return min(float(finite.min()) if finite.size else -1.0, -1.0), 0.0

    def scale_text(self, kind: str) -> str:
        """The colour bar's label: the scale and whether it is fixed."""
        if self.colour_scale == FIXED:
            lo, hi = FIXED_SCALE_PCT[kind]
            return f"strain (%), fixed scale {lo:g} to {hi:g}"
        return "strain (%), scaled to this subject"

    def as_dict(self) -> dict[str, Any]:
        """The JSON record of how times and frames are given."""
        return {
            "frame_numbering": "1-based cine frames (as Info.cfg)",
            "ed_frame": self.ed_frame,
            "es_frame": None if self.es_index is None else self.frame(self.es_index),
            "frame_time_ms": self.frame_time_ms,
            "time_unit": self.time_unit,
            "colour_scale": self.colour_scale,
            "colour_limits_pct": (
                {k: list(v) for k, v in FIXED_SCALE_PCT.items()}
                if self.colour_scale == FIXED
                else None
            ),
            "method": self.method_text,
        }


def method_text(a: StrainAnalysis, inputs: dict[str, Any], grid_px: int) -> str:
    """``demons [sigma=2] on 2 mm x 64 px``: the method, its setting (or parameters) and the
    in-plane grid it ran on."""
    setting = a.setting or ""
    params = inputs.get("params") or {}
    if (not setting or setting == "default") and params:
        setting = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in sorted(params.items()))  # fmt: skip
    spacing = np.asarray(a.spacing, dtype=np.float64)[1:]
    mm = (
        f"{spacing[0]:.3g}"
        if np.isclose(spacing[0], spacing[1])
        else (f"{spacing[0]:.3g} x {spacing[1]:.3g}")
    )
    text = a.method + (f" [{setting}]" if setting else "")
    return f"{text} on {mm} mm x {grid_px} px"


def strain_view(
    a: StrainAnalysis,
    inputs: dict[str, Any],
    grid_px: int,
    *,
    ed_frame: int = 1,
    frame_time_ms: float | None = None,
    colour_scale: str = FIXED,
) -> StrainView:
    """The :class:`StrainView` of analysis ``a``; bad ``ed_frame``, ``frame_time_ms`` or
    ``colour_scale`` raise :class:`BinnInputError`."""
    if colour_scale not in COLOUR_SCALES:
        raise BinnInputError(None, f"colour scale {colour_scale!r} is not one of {COLOUR_SCALES}")
    if not 1 <= int(ed_frame) <= a.n_frames:
        raise BinnInputError(None, f"ED frame {ed_frame} is not a frame of the {a.n_frames}-"
                             "frame cine (1-based)")  # fmt: skip
    if frame_time_ms is not None and not (np.isfinite(frame_time_ms) and frame_time_ms > 0):
        raise BinnInputError(None, f"frame time {frame_time_ms} ms is not a positive number")
    return StrainView(
        subject=a.subject,
        n_frames=a.n_frames,
        ed_frame=int(ed_frame),
        frame_time_ms=None if frame_time_ms is None else float(frame_time_ms),
        colour_scale=colour_scale,
        method_text=method_text(a, inputs, grid_px),
        es_index=a.es_index,
    )
