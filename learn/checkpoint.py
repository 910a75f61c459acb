"""VAE checkpoints: what they hold, atomic writing, and checked reading (``torch.save`` files
or binn ``.safetensors``, :func:`binn.weights.read_checkpoint_dict`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from binn.errors import BinnInputError
from binn.io import atomic_path
from binn.learn.model import ARCH, MotionVAE2D

CONFIG_KEYS = ("arch", "image_size", "latent_dim", "nf", "max_norm", "beta", "mask_dilation")


def save_checkpoint(path: str | Path, model: MotionVAE2D, **extra: Any) -> None:
    """Write ``model.config()`` keys, ``state_dict`` (CPU tensors) and ``extra`` atomically.

    ``extra`` carries training facts (``epoch``, ``val_loss``, ``train_cases``,
    ``val_cases``, ``provenance``).
    """
    payload = {**model.config(), **extra}
    payload["state_dict"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)


def model_from_checkpoint(
    path: str | Path, data: dict[str, Any], image_size: int | None = None
) -> MotionVAE2D:
    """Build the model ``data`` describes and load its weights; check architecture and size."""
    missing = [k for k in (*CONFIG_KEYS, "state_dict") if k not in data]
    if missing:
        raise BinnInputError(path, f"not a binn VAE checkpoint (missing {missing})")
    if data["arch"] != ARCH:
        raise BinnInputError(path, f"architecture {data['arch']!r}, expected {ARCH!r}")
    if image_size is not None and int(data["image_size"]) != image_size:
        raise BinnInputError(
            path, f"VAE was trained for {data['image_size']} px windows, expected {image_size}"
        )
    try:
        model = MotionVAE2D(**{k: data[k] for k in CONFIG_KEYS if k != "arch"})
        model.load_state_dict(data["state_dict"], strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise BinnInputError(path, f"weights do not fit the declared architecture ({exc})") from exc
    return model
