"""``binn evaluate-pair``: one ED/ES pair from four NIfTI files, resampled to the grid,
cropped around the LV, registered ES -> ED slice by slice and scored
(:func:`binn.analysis.measures.pair.evaluate_pair`).

The pair goes through the loaders' one edge (label convention, slice order, grid:
:func:`binn.register.data.loaders.load_pair`); a network must have been trained on the grid
(refused otherwise, naming both spacings), a classical method runs the validated setting
unless ``--param`` says otherwise; the JSON records the grid, the setting and its
parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from binn.analysis.config import PairRequest
from binn.errors import BinnInputError
from binn.resample import DEFAULT_SIZE_PX
from binn.vocabulary import MYOCARDIUM, get_method

FILES = ("fixed_image", "fixed_labels", "moving_image", "moving_labels")


def crop_size(request: PairRequest) -> int:
    """The crop of ``request`` in px: ``size``, else the network's, else the default grid's."""
    if request.size is not None:
        return request.size
    if get_method(request.method).is_network:
        from binn.register.checkpoint import load_checkpoint
        from binn.register.pretrained import model_or_shipped

        model = model_or_shipped(request.method, request.model)
        return int(load_checkpoint(model)[1]["image_size"])
    return DEFAULT_SIZE_PX


def evaluate_pair_files(request: PairRequest) -> dict[str, Any]:
    """Load, crop, register and score the pair of ``request``: the result of
    :func:`~binn.analysis.measures.pair.evaluate_pair` with the ``inputs`` (file names),
    ``size`` (px) and ``spacing_mm`` (the grid of the mm metrics)."""
    from binn.analysis.measures.pair import evaluate_pair
    from binn.register.data import load_pair
    from binn.register.track import Registrar

    size = crop_size(request)
    pair = load_pair(
        request.fixed_image,
        request.fixed_labels,
        request.moving_image,
        request.moving_labels,
        label_convention=request.label_convention,
        size=size,
        spacing_mm=request.spacing_mm,
    )
    if not (pair.labels_ed == MYOCARDIUM).any():
        raise BinnInputError(
            request.fixed_labels, f"no myocardium (label {MYOCARDIUM}) in any slice"
        )
    options = request.options
    registrar = Registrar(
        request.method,
        dict(request.params),
        request.model,
        size,
        options.batch_size,
        options.device,
        vae=options.vae,
        threads=options.threads,
        spacing_mm=request.spacing_mm,
    )
    result = evaluate_pair(
        pair.images[0],
        pair.labels_ed,
        pair.images[pair.es_index],
        pair.labels_es,
        np.asarray(pair.spacing)[1:],
        registrar,
        name=str(pair.name),
    )
    result["inputs"] = {k: str(getattr(request, k)) for k in FILES}
    result["params"] = registrar.params
    result["model"] = None if registrar.model_path is None else str(registrar.model_path)
    result["size"] = size
    result["spacing_mm"] = [float(v) for v in np.asarray(pair.spacing)[1:]]
    result["grid"] = {"spacing_mm": request.spacing_mm, "size_px": size}
    meta = pair.meta
    result["source_spacing_mm"] = meta.get("source_spacing_mm")
    result["label_convention"] = meta.get("label_convention")
    result["slice_order"] = meta.get("slice_order")
    result["slice_order_evidence"] = meta.get("slice_order_evidence")
    return result
