"""One grid in every command: the checks that data, networks and VAEs share a pixel spacing.

binn tracks on one physical grid (:data:`binn.resample.DEFAULT_SPACING_MM` mm square pixels,
:data:`binn.resample.DEFAULT_SIZE_PX` px crops by default). Real images are resampled onto
it where they are read (:mod:`register.data.loaders`); what cannot be resampled is checked
here: a registration network (its checkpoint records ``spacing_mm`` and ``image_size``), a
VAE (``spacing_mm``), a subject file (``spacing``) and the training and validation
subjects of one network must lie on the same spacing, or the command is refused naming
both spacings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from binn.errors import BinnInputError
from binn.resample import SPACING_RTOL, describe_spacing, same_spacing


def check_same_spacing(
    expected: float | np.ndarray,
    actual: float | np.ndarray,
    expected_what: str,
    actual_what: str,
    source: object = None,
    remedy: str = "",
) -> None:
    """Raise :class:`BinnInputError` naming ``source`` and both spacings unless they agree."""
    if not same_spacing(expected, actual):
        raise BinnInputError(
            source,
            f"{actual_what} is on {describe_spacing(actual)} pixels but {expected_what} is on "
            f"{describe_spacing(expected)} pixels" + (f": {remedy}" if remedy else ""),
        )


def inplane_spacing(spacing_zyx: np.ndarray, source: object = None) -> float:
    """The square in-plane pixel spacing (mm) of a subject's ``spacing (3,)`` (z, y, x);
    non-square pixels raise (resample them onto the grid first: ``binn import-cine``)."""
    yx = np.asarray(spacing_zyx, dtype=np.float64)[-2:]
    if not np.isclose(yx[0], yx[1], rtol=SPACING_RTOL, atol=0.0):
        raise BinnInputError(
            source, f"pixels are {describe_spacing(yx)}, not square: resample onto the grid first"
        )
    return float(yx[0])


def model_spacing(meta: Mapping[str, Any], source: object = None) -> float:
    """The in-plane spacing (mm) a registration network was trained on (its checkpoint's
    ``spacing_mm``). A checkpoint without one (trained before binn recorded it) is refused:
    its grid cannot be known, and a network applied to another spacing fails silently."""
    recorded = meta.get("spacing_mm")
    if recorded is None:
        raise BinnInputError(
            source,
            "the checkpoint records no grid spacing (spacing_mm): it was trained before binn "
            "recorded it, so the pixel size it expects is unknown; retrain it with binn "
            "train-reg",
        )
    value = float(np.mean(np.asarray(recorded, dtype=np.float64)))
    if not np.isfinite(value) or value <= 0.0:
        raise BinnInputError(source, f"the checkpoint records an invalid spacing_mm {recorded!r}")
    return value


def check_model_grid(
    meta: Mapping[str, Any], spacing_mm: float, size: int | None, source: object = None
) -> None:
    """Refuse a network (checkpoint ``meta``) trained on another grid than ``spacing_mm``
    mm and ``size`` px (None: any size), naming both."""
    trained = model_spacing(meta, source)
    check_same_spacing(
        trained,
        spacing_mm,
        "the network",
        "the data",
        source,
        "resample the data to the network's grid (--spacing-mm) or retrain the network",
    )
    if size is not None and int(meta.get("image_size", size)) != int(size):
        raise BinnInputError(
            source,
            f"the network works on {meta['image_size']} px crops but the data is {size} px: "
            f"crop the data to {meta['image_size']} (--size) or retrain the network",
        )


def check_vae_spacing(vae_spacing: float | None, spacing_mm: float, source: object = None) -> None:
    """Refuse a VAE (its ``spacing_mm``, None for old checkpoints: not checked) learnt on
    another spacing than ``spacing_mm``: R_VAE is a prior on pixel displacement
    gradients over the myocardium, learnt at one pixel size."""
    if vae_spacing is None:
        return
    check_same_spacing(
        vae_spacing,
        spacing_mm,
        "the VAE",
        "the data",
        source,
        "use a VAE trained on simulations at the data's spacing, or resample the data",
    )
