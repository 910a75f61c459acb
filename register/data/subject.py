"""The cine subject: one short-axis sequence with its ED/ES labels, and its `.npz` file.

Arrays follow ``docs/interfaces.md``: ``images (T, Z, H, W)`` float32 in [0, 1] with frame 0
= ED; ``labels_ed``/``labels_es`` ``(Z, H, W)`` uint8 ACDC values (0 background, 1 RV
cavity, 2 LV myocardium, 3 LV cavity); ``es_index``; ``spacing (3,)`` mm ``(z, y, x)``;
optionally ``motion (T, Z, 2, H, W)`` float32 px (ground truth in the registration
convention, ``I_t(x + u_t(x)) = I_ED(x)``) and ``labels (T, Z, H, W)`` uint8. The label
values are :data:`binn.vocabulary.STORED_LABELS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from binn.errors import BinnInputError
from binn.io import load_npz, save_npz
from binn.vocabulary import STORED_LABELS

META_KEY = "subject_meta"


@dataclasses.dataclass(frozen=True)
class CineSubject:
    """One cine short-axis subject in binn's conventions (see the module docstring).

    ``meta`` is free-form JSON-serialisable information (source files, label convention,
    phantom parameters, noise level, crop origin); it is stored in the file's provenance.
    """

    name: str
    images: np.ndarray
    labels_ed: np.ndarray
    labels_es: np.ndarray
    es_index: int
    spacing: np.ndarray
    motion: np.ndarray | None = None
    labels: np.ndarray | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def frames(self) -> int:
        """Number of frames T."""
        return int(self.images.shape[0])

    @property
    def slices(self) -> int:
        """Number of short-axis slices Z."""
        return int(self.images.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """In-plane size ``(H, W)`` px."""
        return int(self.images.shape[2]), int(self.images.shape[3])


def validate_subject(subject: CineSubject, source: str | Path | None = None) -> CineSubject:
    """Check every array of ``subject`` against the contract; return it unchanged.

    Raises :class:`BinnInputError` naming ``source`` (default: the subject's name) and the
    first violated rule (rank, shape, dtype, range, NaN, label values, ES index, frame 0).
    """
    src = subject.name if source is None else source

    def fail(reason: str) -> BinnInputError:
        return BinnInputError(src, reason)

    images = subject.images
    if images.ndim != 4:
        raise fail(f"images have shape {images.shape}, expected (T, Z, H, W)")
    t, z, h, w = images.shape
    if t < 2 or min(z, h, w) < 1:
        raise fail(f"images have shape {images.shape}: need T >= 2 frames and non-empty slices")
    if images.dtype != np.float32:
        raise fail(f"images have dtype {images.dtype}, expected float32")
    if not np.all(np.isfinite(images)):
        raise fail("images contain NaN or Inf")
    if images.min() < 0.0 or images.max() > 1.0:
        raise fail(f"images range [{images.min():.3g}, {images.max():.3g}] is not within [0, 1]")
    for key in ("labels_ed", "labels_es"):
        _check_labels(getattr(subject, key), (z, h, w), key, fail)
    if not 1 <= int(subject.es_index) < t:
        raise fail(f"es_index {subject.es_index} is not a frame in 1..{t - 1} (frame 0 is ED)")
    spacing = np.asarray(subject.spacing)
    if spacing.shape != (3,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise fail(f"spacing {spacing.tolist()} is not three positive mm values (z, y, x)")
    if subject.motion is not None:
        motion = subject.motion
        if motion.shape != (t, z, 2, h, w) or motion.dtype != np.float32:
            raise fail(
                f"motion has shape {motion.shape} {motion.dtype}, expected {(t, z, 2, h, w)}"
                " float32"
            )
        if not np.all(np.isfinite(motion)):
            raise fail("motion contains NaN or Inf")
        if np.any(motion[0] != 0):
            raise fail("motion of frame 0 (ED) is not exactly zero")
    if subject.labels is not None:
        _check_labels(subject.labels, (t, z, h, w), "labels", fail)
        if not np.array_equal(subject.labels[0], subject.labels_ed):
            raise fail("labels[0] differ from labels_ed")
        if not np.array_equal(subject.labels[subject.es_index], subject.labels_es):
            raise fail("labels[es_index] differ from labels_es")
    return subject


def _check_labels(labels: np.ndarray, shape: tuple[int, ...], key: str, fail: Any) -> None:
    if labels.shape != shape:
        raise fail(f"{key} have shape {labels.shape}, expected {shape}")
    if labels.dtype != np.uint8:
        raise fail(f"{key} have dtype {labels.dtype}, expected uint8")
    bad = np.setdiff1d(np.unique(labels), STORED_LABELS)
    if bad.size:
        raise fail(f"{key} hold values {bad.tolist()} outside the ACDC labels {STORED_LABELS}")


def save_subject(path: str | Path, subject: CineSubject, provenance: Mapping[str, Any]) -> None:
    """Validate ``subject`` and write it atomically to ``path`` (``.npz``, provenance inside)."""
    validate_subject(subject)
    arrays: dict[str, Any] = {
        "name": np.asarray(subject.name),
        "images": subject.images,
        "labels_ed": subject.labels_ed,
        "labels_es": subject.labels_es,
        "es_index": np.asarray(int(subject.es_index), dtype=np.int64),
        "spacing": np.asarray(subject.spacing, dtype=np.float64),
    }
    if subject.motion is not None:
        arrays["motion"] = subject.motion
    if subject.labels is not None:
        arrays["labels"] = subject.labels
    save_npz(path, {**provenance, META_KEY: subject.meta}, **arrays)


def load_subject(path: str | Path) -> CineSubject:
    """Read and validate a subject file written by :func:`save_subject`.

    Raises :class:`BinnInputError` naming ``path`` for a missing file, a missing array, a
    wrong rank/shape/dtype, NaNs, labels outside ACDC values or a bad ES index.
    """
    data = load_npz(
        path,
        required={"images": 4, "labels_ed": 3, "labels_es": 3, "es_index": 0, "spacing": 1},
    )
    for optional, ndim in (("motion", 5), ("labels", 4)):
        if optional in data and data[optional].ndim != ndim:
            raise BinnInputError(
                path,
                f"array '{optional}' has shape {data[optional].shape}, expected {ndim} dimensions",
            )
    if not np.issubdtype(data["es_index"].dtype, np.integer):
        raise BinnInputError(path, f"es_index has dtype {data['es_index'].dtype}, expected int")
    name = str(data["name"]) if "name" in data else Path(path).stem
    subject = CineSubject(
        name=name,
        images=data["images"],
        labels_ed=data["labels_ed"],
        labels_es=data["labels_es"],
        es_index=int(data["es_index"]),
        spacing=data["spacing"].astype(np.float64),
        motion=data.get("motion"),
        labels=data.get("labels"),
        meta=dict(data["provenance"].get(META_KEY, {})),
    )
    return validate_subject(subject, source=path)
