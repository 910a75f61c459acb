"""Animated GIF of one slice: the ED myocardium contours moved by the tracked field.

Small by design (a 30-frame, 10-slice subject's page stays under 5 MB): the GIF shows a
window around the ED myocardium (:data:`GIF_MARGIN_PX` beyond it on every side, within the
image), each image pixel as :data:`GIF_ZOOM` x :data:`GIF_ZOOM` GIF pixels (the page shows
it twice as large, pixels kept square), the image in :data:`GIF_GREY_LEVELS` grey levels,
one fixed palette (greys, then the contour and caption colours), no dithering. The caption
strip above the image names the slice, the 1-based cine frame, the time where known and ES.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from binn.analysis.rendering.strain_view import StrainView
from binn.io import atomic_path

GIF_FPS = 8
GIF_ZOOM = 2  # GIF px per image px
GIF_GREY_LEVELS = 24
GIF_MARGIN_PX = 10  # 20 mm on the 2 mm grid: the wall's motion and its surroundings
GIF_CONTOUR_RGB = (0, 255, 0)  # lime
GIF_TEXT_RGB = (255, 255, 255)
GIF_ES_RGB = (255, 220, 0)  # the caption at ES
CAPTION_PX = 24  # two lines of the default font


def _palette() -> list[int]:
    """Greys ``0 .. GIF_GREY_LEVELS - 1``, then contour, text and ES colours."""
    greys = np.round(np.linspace(0, 255, GIF_GREY_LEVELS)).astype(int)
    out = [int(v) for g in greys for v in (g, g, g)]
    for rgb in (GIF_CONTOUR_RGB, GIF_TEXT_RGB, GIF_ES_RGB):
        out += list(rgb)
    return out


CONTOUR, TEXT, ES = GIF_GREY_LEVELS, GIF_GREY_LEVELS + 1, GIF_GREY_LEVELS + 2


def ed_contours(myo: np.ndarray) -> list[np.ndarray]:
    """Boundaries ``(N, 2)`` (row, col) px of an ED myocardium mask (endo- and epicardium)."""
    from skimage import measure

    padded = np.pad(myo.astype(np.float64), 1)
    return [c - 1.0 for c in measure.find_contours(padded, 0.5) if len(c) > 4]


def window(myo: np.ndarray, margin: int = GIF_MARGIN_PX) -> tuple[slice, slice]:
    """Rows and columns of the ED myocardium's bounding box grown by ``margin`` px, within
    the ``(H, W)`` mask."""
    rows, cols = np.nonzero(myo)
    h, w = myo.shape
    return (
        slice(max(int(rows.min()) - margin, 0), min(int(rows.max()) + margin + 1, h)),
        slice(max(int(cols.min()) - margin, 0), min(int(cols.max()) + margin + 1, w)),
    )


def _caption(title: str, index: int, view: StrainView | None) -> tuple[str, str, bool]:
    """The two caption lines of frame ``index`` (from ED) and whether it is ES."""
    if view is None:
        return title, f"frame {index + 1} from ED", False
    es = view.es_index is not None and index == view.es_index
    return title + ("  ES" if es else ""), view.when(index), es


def contour_gif(
    images: np.ndarray,
    fields: np.ndarray,
    frames: np.ndarray,
    myo: np.ndarray,
    path: Path,
    title: str,
    view: StrainView | None = None,
) -> None:
    """Animated GIF: the ED myocardium contours moved to each tracked frame over its image.

    ``images (T, H, W)`` in [0, 1] (one slice), ``fields (T', 2, H, W)`` px, ``frames
    (T',)`` (from ED), ``myo (H, W)`` ED myocardium; ``view`` numbers the frames as the
    cine does (without it: frames from ED). A contour point ``p`` (ED) is drawn at
    ``p + u_t(p)`` (the registration convention maps ED points to frame t), ``u`` sampled
    bilinearly. The GIF shows the :func:`window` of ``myo``, each image pixel as ``GIF_ZOOM``
    x ``GIF_ZOOM`` GIF pixels under a ``CAPTION_PX`` caption strip; frames are drawn with
    Pillow directly."""
    from PIL import Image, ImageDraw
    from scipy import ndimage

    rows, cols = window(myo)
    images, fields, myo = images[..., rows, cols], fields[..., rows, cols], myo[rows, cols]
    contours = ed_contours(myo)
    h, w = images.shape[-2:]
    palette = _palette()
    pictures = []
    for i, t in enumerate(frames):
        grey = np.clip(np.asarray(images[int(t)], dtype=np.float64), 0.0, 1.0)
        levels = np.round(grey * (GIF_GREY_LEVELS - 1)).astype(np.uint8)
        canvas = Image.new("P", (w * GIF_ZOOM, h * GIF_ZOOM + CAPTION_PX), 0)
        canvas.putpalette(palette)
        image = Image.fromarray(levels, mode="L").resize(
            (w * GIF_ZOOM, h * GIF_ZOOM), Image.NEAREST
        )
        canvas.paste(image, (0, CAPTION_PX))
        draw = ImageDraw.Draw(canvas)
        for cc in contours:
            u = [
                ndimage.map_coordinates(fields[i, k], cc.T, order=1, mode="nearest") for k in (0, 1)
            ]
            # pixel (r, c) covers [c, c + 1) x [r, r + 1) in image px: its centre is c + 0.5
            xs = (cc[:, 1] + u[1] + 0.5) * GIF_ZOOM
            ys = (cc[:, 0] + u[0] + 0.5) * GIF_ZOOM + CAPTION_PX
            draw.line(list(zip(xs, ys, strict=True)), fill=CONTOUR, width=1)
        first, second, is_es = _caption(title, int(t), view)
        draw.text((2, 0), first, fill=ES if is_es else TEXT)
        draw.text((2, CAPTION_PX // 2), second, fill=ES if is_es else TEXT)
        pictures.append(canvas)
    with atomic_path(path) as tmp:
        pictures[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=pictures[1:],
            duration=round(1000 / GIF_FPS),
            loop=0,
        )
