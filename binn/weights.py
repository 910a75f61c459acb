"""Network weights as safetensors: the compact, pickle-free format binn ships its models in.

A binn ``.safetensors`` file holds a model's tensors (float16 to halve the size, read back as
float32) and, in the header's metadata under :data:`META_KEY`, the JSON of everything else a
checkpoint dict holds (architecture, grid, training facts). :func:`read_checkpoint_dict`
reads such a file or a ``torch.save`` checkpoint into the same dict, so every loader takes
either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from binn.errors import BinnInputError
from binn.io import atomic_path

META_KEY = "binn"
SUFFIX = ".safetensors"


def save_safetensors(
    path: str | Path,
    state_dict: Mapping[str, torch.Tensor],
    meta: Mapping[str, Any],
    dtype: torch.dtype = torch.float16,
) -> None:
    """Write ``state_dict`` (floating tensors cast to ``dtype``) and ``meta`` (JSON-able)
    to ``path`` atomically."""
    from safetensors.torch import save_file

    tensors = {
        k: (v.detach().cpu().to(dtype) if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in state_dict.items()
    }
    with atomic_path(path, suffix=SUFFIX) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(dict(meta))})


def read_safetensors(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict of a binn ``.safetensors`` file: its metadata and ``state_dict``
    (float32). A missing, unreadable or foreign file raises :class:`BinnInputError`."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise BinnInputError(path, "file does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = (fh.metadata() or {}).get(META_KEY)
            state = {
                k: (t.float() if t.is_floating_point() else t)
                for k in fh.keys()
                for t in [fh.get_tensor(k)]
            }
    except (SafetensorError, OSError, ValueError) as exc:
        raise BinnInputError(path, f"not a readable safetensors file ({exc})") from exc
    if meta is None:
        raise BinnInputError(path, f"a safetensors file without binn's '{META_KEY}' metadata")
    try:
        data = json.loads(meta)
    except json.JSONDecodeError as exc:
        raise BinnInputError(path, f"its '{META_KEY}' metadata is not JSON ({exc})") from exc
    return {**data, "state_dict": state}


def read_checkpoint_dict(path: str | Path) -> dict[str, Any]:
    """A checkpoint dict from a ``.safetensors`` file (:func:`read_safetensors`) or a
    ``torch.save`` file (weights-only unpickler). Bad files raise :class:`BinnInputError`."""
    path = Path(path)
    if path.suffix == SUFFIX:
        return read_safetensors(path)
    if not path.is_file():
        raise BinnInputError(path, "file does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign/corrupt files
        raise BinnInputError(path, f"not a readable PyTorch checkpoint ({exc})") from exc
    if not isinstance(data, dict):
        raise BinnInputError(path, "checkpoint is not a dictionary")
    return data
