"""The torch device a command runs on: ``auto``, ``cpu`` or ``cuda`` (``--device``), checked.

One place decides what ``--device`` means and what happens when CUDA is asked for but absent:
the command line checks it once after parsing (:func:`check_device`, before any work) and
the library's device resolution (:func:`resolve_device`) raises the same clear
:class:`~binn.errors.BinnInputError`, never a torch traceback deep inside a job.
torch is imported only when a device is resolved or CUDA is asked for.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from binn.errors import BinnInputError

if TYPE_CHECKING:
    import torch

DEVICE_OPTION = "--device"
DEVICES = ("auto", "cpu", "cuda")
"""What ``--device`` accepts everywhere (``auto``: CUDA when present, else the CPU)."""


def cuda_unavailable_reason(index: int = 0) -> str | None:
    """Why CUDA device ``index`` cannot be used here, or None when it can.

    The reason says whether this torch build lacks CUDA, no GPU is visible (naming
    ``CUDA_VISIBLE_DEVICES`` when it is set) or the index is beyond the visible GPUs.
    """
    import torch

    if torch.version.cuda is None:
        return f"this torch build ({torch.__version__}) has no CUDA support"
    if not torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        hidden = "" if visible is None else f" (CUDA_VISIBLE_DEVICES={visible!r})"
        return f"no GPU is visible to torch {torch.__version__}{hidden}"
    count = torch.cuda.device_count()
    if index >= count:
        return f"GPU {index} requested but only {count} GPU(s) are visible"
    return None


def _cuda_index(device: str) -> int:
    """The GPU index of ``cuda`` / ``cuda:N`` (``cuda`` is GPU 0)."""
    _, _, index = device.partition(":")
    if not index:
        return 0
    if not index.isdigit():
        raise BinnInputError(DEVICE_OPTION, f"{device!r} is not a device (auto, cpu, cuda[:N])")
    return int(index)


def check_device(device: str, source: str = DEVICE_OPTION) -> None:
    """Refuse a CUDA ``device`` where CUDA is unusable: :class:`BinnInputError` naming
    ``source`` (the option, ``--device`` by default), the reason and what to pass instead.

    ``auto`` and ``cpu`` always pass (and do not import torch).
    """
    if not device.startswith("cuda"):
        return
    reason = cuda_unavailable_reason(_cuda_index(device))
    if reason is not None:
        raise BinnInputError(
            f"{source} {device}",
            f"CUDA is not available: {reason}; use {source} cpu, or {source} auto to use a "
            "GPU only when there is one",
        )


def resolve_device(device: str, source: str = DEVICE_OPTION) -> torch.device:
    """``"auto"`` -> the first GPU when CUDA is usable, else the CPU; otherwise the named
    device, checked by :func:`check_device` (a :class:`BinnInputError` naming ``source``)."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check_device(device, source)
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise BinnInputError(f"{source} {device}", f"not a torch device ({exc})") from exc
