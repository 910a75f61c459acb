"""Registration-network checkpoints: save, load, and check against the data they meet.

A checkpoint is a ``torch.save`` dict with ``arch``, ``width``, ``image_size``, ``spacing_mm``
(the grid it was trained on, required), ``max_disp``,
``method`` (a network method of :data:`binn.vocabulary.METHODS`), ``alpha``, ``lam``,
``setting``, ``state_dict``, ``step``, ``val_loss`` and ``provenance``; a ``binn``
checkpoint may also hold ``vae`` (the VAE it was trained with, which test-time refinement and
strain's R_VAE reuse) and ``vae_sha256`` (that file's SHA-256).

Recorded paths resolve against the file that records them: ``vae`` is written relative to
the checkpoint's folder (:func:`vae_record`), so a results folder moved as a whole keeps its
models usable, and it is read back by one function (:func:`recorded_vae`) that resolves it
against the checkpoint's folder, never the current one, and checks the digest: a missing or
different file is an error, never another file that happens to sit at a relative path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

# the one device resolution (binn.device), re-exported for the register stage's callers
from binn.device import resolve_device as resolve_device
from binn.errors import BinnInputError
from binn.io import atomic_path, file_sha256
from binn.register.network import RegistrationNet
from binn.weights import read_checkpoint_dict

REQUIRED_KEYS = ("arch", "width", "image_size", "max_disp", "method", "state_dict")


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
    """Load a network (eval mode) and its metadata from a ``torch.save`` checkpoint or a binn
    ``.safetensors`` file; check it against ``image_size`` px.

    A model trained at another crop size raises :class:`BinnInputError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise BinnInputError(path, "model file does not exist")
    ckpt = read_checkpoint_dict(path)
    if any(k not in ckpt for k in REQUIRED_KEYS):
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


VAE_KEY = "vae"
VAE_DIGEST_KEY = "vae_sha256"


def vae_record(vae_path: str | Path, model_path: str | Path) -> dict[str, str]:
    """What a checkpoint written to ``model_path`` records of the VAE ``vae_path``:
    ``vae`` (the path relative to the model's folder, ``/``-separated) and ``vae_sha256``.

    Both paths may be relative to the current folder; the record does not depend on it.
    """
    vae_path = Path(vae_path).resolve()
    if not vae_path.is_file():
        raise BinnInputError(vae_path, "the VAE file does not exist")
    relative = os.path.relpath(vae_path, Path(model_path).resolve().parent)
    return {VAE_KEY: Path(relative).as_posix(), VAE_DIGEST_KEY: file_sha256(vae_path)}


def _recorded_path(meta: dict[str, Any], source: str | Path | None) -> Path | None:
    """Where the ``vae`` record of checkpoint ``source`` points (not checked), None when
    there is no record; a relative record resolves against ``source``'s folder."""
    text = meta.get(VAE_KEY)
    if not text:
        return None
    path = Path(str(text))
    if path.is_absolute():
        return path
    if source is None:
        raise BinnInputError(
            None,
            f"the network records its VAE as {text!r}, relative to its model file, but the "
            "network was given in memory: pass the VAE itself",
        )
    return Path(source).parent / path


def _missing(meta: dict[str, Any], path: Path) -> str:
    """The message for a recorded VAE that is not there."""
    where = "" if Path(str(meta[VAE_KEY])).is_absolute() else ", relative to the model's folder"
    return (
        f"the VAE it records ({meta[VAE_KEY]!r}{where}) is missing: no file {path}; "
        "pass --vae VAE.pt"
    )


def _check_digest(meta: dict[str, Any], path: Path, source: str | Path | None) -> None:
    """Refuse a recorded VAE whose bytes are not those the model was trained with."""
    expected = meta.get(VAE_DIGEST_KEY)
    if expected and file_sha256(path) != expected:
        raise BinnInputError(
            source,
            f"{path} is not the VAE the model was trained with (its SHA-256 differs from the "
            "one recorded): retrain the model, or pass --vae VAE.pt",
        )


def recorded_vae(meta: dict[str, Any], source: str | Path | None) -> Path | None:
    """The VAE the checkpoint ``source`` records (``meta`` is its metadata), or None when it
    records none.

    A relative record resolves against ``source``'s folder (the current folder is never
    consulted). Raises :class:`BinnInputError` when the recorded file is missing (naming the
    model, the record and the path it resolves to), when a relative record comes with no
    checkpoint file to resolve it against, and when the file's SHA-256 differs from the
    recorded ``vae_sha256`` (another VAE sits where the model's was).
    """
    path = _recorded_path(meta, source)
    if path is None:
        return None
    if not path.is_file():
        raise BinnInputError(source, _missing(meta, path))
    _check_digest(meta, path, source)
    return path


def training_vae(
    meta: dict[str, Any], source: str | Path | None, override: str | Path | None = None
) -> Path:
    """The VAE a ``binn`` network was trained with: ``override`` (``--vae``) if given, else
    the one the checkpoint ``source`` records (:func:`recorded_vae`); a missing record or
    file is a :class:`BinnInputError`."""
    if override is not None:
        path = Path(override)
        if not path.is_file():
            raise BinnInputError(path, "the VAE file (--vae) is missing")
        return path
    path = recorded_vae(meta, source)
    if path is None:
        raise BinnInputError(
            source, "the checkpoint does not record the VAE it was trained with; pass --vae VAE.pt"
        )
    return path


def scoring_vae(
    meta: dict[str, Any], source: str | Path | None, override: str | Path | None = None
) -> tuple[Path | None, str]:
    """The VAE that scores a network's fields (R_VAE), and a note saying which it is or why
    there is none: ``override`` (``--vae``) if given, else the one the checkpoint records.

    ``(None, note)`` when neither names one or the recorded file is missing (R_VAE is
    optional: the note states the skip and the path looked at); a recorded file whose
    digest differs raises :class:`BinnInputError` (it would score with another prior).
    A missing ``override`` raises too (the person named it).
    """
    if override is not None:
        path = Path(override)
        if not path.is_file():
            raise BinnInputError(path, "the VAE file (--vae) is missing")
        return path, f"VAE {path} (--vae)"
    path = _recorded_path(meta, source)
    if path is None:
        recorded = "" if source is None else " and the model records no VAE"
        return None, f"R_VAE skipped: no --vae given{recorded}"
    if not path.is_file():
        return None, f"R_VAE skipped: {source}: {_missing(meta, path)}"
    _check_digest(meta, path, source)
    return path, f"VAE {path} (recorded in the model)"
