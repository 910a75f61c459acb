"""Tracking: register frames of a cine sequence to ED with any of the four methods.

``register_stack`` is the one engine behind ``binn track``, ``binn evaluate-pair`` and
``binn bench register``: networks batch the pairs, classical methods go pair by pair.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from binn.errors import BinnInputError
from binn.io import save_npz
from binn.provenance import provenance
from register.baselines import CLASSICAL_METHODS, register_pair
from register.checkpoint import load_checkpoint, resolve_device
from register.network import RegistrationNet
from register.settings import format_setting, load_selection, parse_params

log = logging.getLogger(__name__)

NETWORK_METHODS = ("binn", "l2")


class Registrar:
    """A configured method: ``__call__(fixed (N,H,W), moving (N,H,W)) -> (N, 2, H, W)`` px.

    Networks: ``model`` is a checkpoint path (or an in-memory :class:`RegistrationNet`),
    pairs are batched ``batch_size`` at a time. Classical methods: ``params`` go to
    :func:`register_pair`, one pair at a time.
    """

    def __init__(
        self,
        method: str,
        params: dict[str, float] | None = None,
        model: Path | RegistrationNet | None = None,
        image_size: int | None = None,
        batch_size: int = 16,
        device: str = "cpu",
    ):
        self.method = method
        self.params = dict(params or {})
        self.batch_size = batch_size
        self.meta: dict[str, Any] = {}
        self.net: RegistrationNet | None = None
        if method in NETWORK_METHODS:
            if self.params:
                raise BinnInputError(
                    None,
                    f"{method}: parameters {sorted(self.params)} are "
                    "fixed at training; pass --model instead",
                )
            if model is None:
                raise BinnInputError(None, f"method {method!r} needs --model MODEL.pt")
            self.device = resolve_device(device)
            if isinstance(model, RegistrationNet):
                self.net = model.to(self.device).eval()
                self.meta = {"method": method, "setting": "in-memory"}
                if image_size is not None and model.image_size != image_size:
                    raise BinnInputError(
                        None, f"network expects {model.image_size}px images, got {image_size}px"
                    )
            else:
                self.net, self.meta = load_checkpoint(model, self.device, image_size)
                if self.meta["method"] != method:
                    raise BinnInputError(
                        model,
                        f"model was trained with method {self.meta['method']!r}, not {method!r}",
                    )
            self.setting = str(self.meta.get("setting", ""))
        elif method in CLASSICAL_METHODS:
            self.setting = format_setting(self.params) if self.params else "default"
        else:
            raise BinnInputError(None, f"unknown method {method!r}")

    def __call__(self, fixed: np.ndarray, moving: np.ndarray) -> np.ndarray:
        """Register each ``moving[i]`` to ``fixed[i]``; returns ``(N, 2, H, W)`` float32 px."""
        if fixed.shape != moving.shape or fixed.ndim != 3:
            raise BinnInputError(
                None,
                f"fixed {fixed.shape} and moving {moving.shape} must be equal (N, H, W) stacks",
            )
        if self.net is None:
            return np.stack(
                [
                    register_pair(f, m, self.method, **self.params)
                    for f, m in tqdm(
                        zip(fixed, moving, strict=True),
                        total=len(fixed),
                        desc=self.method,
                        disable=None,
                        leave=False,
                    )
                ]
            )
        out = []
        with torch.inference_mode():
            for i in range(0, len(fixed), self.batch_size):
                f = torch.from_numpy(
                    np.ascontiguousarray(fixed[i : i + self.batch_size], np.float32)
                )[:, None]
                m = torch.from_numpy(
                    np.ascontiguousarray(moving[i : i + self.batch_size], np.float32)
                )[:, None]
                out.append(self.net(m.to(self.device), f.to(self.device)).cpu().numpy())
        return np.concatenate(out).astype(np.float32)


def track_sequence(
    images: np.ndarray,
    registrar: Registrar,
    frames: str | list[int] = "all",
    es_index: int | None = None,
) -> dict[str, Any]:
    """Register frames of ``images`` (T, Z, H, W) to frame 0 (ED), every slice.

    ``frames``: ``"all"``, ``"es"`` (needs ``es_index``) or explicit frame indices. Frame 0
    gets an all-zero field without registration. Returns ``fields (T', Z, 2, H, W)`` float32
    px, ``frames (T',)`` int64, ``seconds`` (registration time) and ``ms_per_pair``.
    """
    images = np.asarray(images, dtype=np.float32)
    t_count, z, h, w = images.shape
    if frames == "all":
        chosen = list(range(t_count))
    elif frames == "es":
        if es_index is None:
            raise BinnInputError(None, "--frames es needs the subject's ES index")
        chosen = [0, int(es_index)]
    else:
        chosen = [int(t) for t in frames]
    moving_frames = [t for t in chosen if t != 0]
    fixed = np.broadcast_to(images[0], (len(moving_frames), z, h, w)).reshape(-1, h, w)
    moving = images[moving_frames].reshape(-1, h, w)
    start = time.perf_counter()
    pairs = registrar(fixed, moving) if len(moving) else np.zeros((0, 2, h, w), np.float32)
    seconds = time.perf_counter() - start
    pairs = pairs.reshape(len(moving_frames), z, 2, h, w)
    fields = np.zeros((len(chosen), z, 2, h, w), np.float32)
    k = 0
    for i, t in enumerate(chosen):
        if t != 0:
            fields[i] = pairs[k]
            k += 1
    n = max(len(moving), 1)
    return {
        "fields": fields,
        "frames": np.asarray(chosen, np.int64),
        "seconds": seconds,
        "ms_per_pair": 1000.0 * seconds / n,
    }


def resolve_method(args: argparse.Namespace) -> tuple[str, dict[str, float], str | None]:
    """Method, parameters and model path from ``--method``/``--param``/``--selection``/
    ``--model`` (the model path may contain ``{setting}``, filled from the selection)."""
    method, params, setting = args.method, parse_params(args.param), None
    if args.selection is not None:
        sel_method, setting, sel_params = load_selection(args.selection)
        if method is not None and method != sel_method:
            raise BinnInputError(
                args.selection, f"selects method {sel_method!r} but --method is {method!r}"
            )
        method = sel_method
        if sel_method in CLASSICAL_METHODS:
            params = {**sel_params, **params}
    if method is None:
        raise BinnInputError(None, "give --method or --selection")
    model = args.model
    if model is not None and "{setting}" in model:
        if setting is None:
            raise BinnInputError(model, "model path holds {setting} but no --selection given")
        model = model.format(setting=setting)
    return method, params, model


def track_command(args: argparse.Namespace) -> dict[str, Any]:
    """``binn track``: track one subject file and write the fields file."""
    from register.data.subject import load_subject

    subject = load_subject(args.data)
    method, params, model = resolve_method(args)
    h, w = subject.images.shape[-2:]
    if h != w:
        raise BinnInputError(args.data, f"frames are {h}x{w}; crop them square first")
    registrar = Registrar(
        method, params, None if model is None else Path(model), int(h), args.batch_size, args.device
    )
    result = track_sequence(subject.images, registrar, args.frames, subject.es_index)
    log.info(
        "%s %s: %d frames x %d slices in %.2f s (%.1f ms per pair)",
        subject.name,
        method,
        len(result["frames"]),
        subject.images.shape[1],
        result["seconds"],
        result["ms_per_pair"],
    )
    cfg = {
        "data": str(args.data),
        "method": method,
        "setting": registrar.setting,
        "model": model,
        "params": params,
        "frames": args.frames,
    }
    save_npz(
        args.out,
        provenance(cfg, None),
        **result,
        method=np.asarray(method),
        setting=np.asarray(registrar.setting),
        subject=np.asarray(subject.name),
    )
    return result
