"""Registration-network checkpoints: save, load, and check against the data they meet.

A checkpoint is a ``torch.save`` dict with ``arch``, ``width``, ``image_size``, ``max_disp``,
``method`` (a network method of :data:`binn.vocabulary.METHODS`), ``alpha``, ``lam``,
``setting``, ``state_dict``, ``step``, ``val_loss`` and ``provenance``; a ``binn``
checkpoint may also hold ``vae`` (the path of the VAE it was trained with, which test-time
refinement reuses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from binn.errors import BinnInputError
from binn.io import atomic_path
from binn.register.network import RegistrationNet

REQUIRED_KEYS = ("arch", "width", "image_size", "max_disp", "method", "state_dict")


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BinnInputError(None, f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def save_checkpoint(path: Path, net: RegistrationNet, **meta: Any) -> None:
    """Write the network weights with its architecture and ``meta`` to ``path`` atomically."""
    payload = {
        **net.config(),
        **meta,
        "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
    }
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)


def load_checkpoint(
    path: Path, device: str | torch.device = "cpu", image_size: int | None = None
) -> tuple[RegistrationNet, dict[str, Any]]:
    """Load a network (eval mode) and its metadata; check it against ``image_size`` px.

    A model trained at another crop size raises :class:`BinnInputError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise BinnInputError(path, "model file does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for corrupt files
        raise BinnInputError(path, f"not a readable checkpoint ({exc})") from exc
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in REQUIRED_KEYS):
        raise BinnInputError(path, f"not a registration checkpoint (needs {REQUIRED_KEYS})")
    if ckpt["arch"] != "qin2018":
        raise BinnInputError(path, f"unknown architecture {ckpt['arch']!r}")
    if image_size is not None and int(ckpt["image_size"]) != int(image_size):
        raise BinnInputError(
            path,
            f"model was trained at crop size {ckpt['image_size']} px but the data is "
            f"{image_size} px: crop the data to {ckpt['image_size']} or retrain",
        )
    net = RegistrationNet(ckpt["width"], ckpt["image_size"], ckpt["max_disp"])
    net.load_state_dict(ckpt["state_dict"])
    net.to(device).eval()
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return net, meta


def training_vae(meta: dict[str, Any], source: Path | None, override: Path | None) -> Path:
    """The VAE a ``binn`` network was trained with: ``override`` (``--vae``) if given, else
    the path the checkpoint ``source`` records under ``vae`` (relative to the checkpoint's
    folder); a missing record or file is an error."""
    if override is not None:
        path = Path(override)
    elif meta.get("vae"):
        path = Path(str(meta["vae"]))
        if not path.is_absolute() and source is not None:
            path = Path(source).parent / path
    else:
        raise BinnInputError(
            source, "the checkpoint does not record the VAE it was trained with; pass --vae VAE.pt"
        )
    if not path.is_file():
        raise BinnInputError(
            path,
            "the VAE file is missing"
            + ("" if override is not None else " (recorded in the checkpoint); pass --vae VAE.pt"),
        )
    return path
