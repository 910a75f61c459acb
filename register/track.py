"""Tracking: register frames of a cine sequence to ED with any registered method.

:class:`Registrar` is the one engine behind ``binn track``, ``binn evaluate-pair`` and
``binn bench register``: networks batch the pairs (and refine them, :mod:`register.refine`),
classical methods run ``threads`` pairs in parallel. :func:`track_subjects` is ``binn
track``: a :class:`TrackRequest` (subject files, their fields files, the method given by
name and parameters or by a selection file, :class:`register.config.TrackOptions`) in, the
fields files out.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from binn.errors import BinnInputError
from binn.io import save_npz
from binn.logs import Progress
from binn.provenance import provenance
from binn.register.adapt import adapt_network
from binn.register.baselines import register_pairs
from binn.register.checkpoint import load_checkpoint, resolve_device, training_vae
from binn.register.config import (
    VALIDATED_CLASSICAL,
    VALIDATED_GRID_MM,
    TrackOptions,
    classical_params,
)
from binn.register.grid import check_model_grid, check_vae_spacing, inplane_spacing
from binn.register.losses import freeze
from binn.register.network import RegistrationNet
from binn.register.pretrained import SHIPPED_TEST_TIME, model_or_shipped
from binn.register.refine import Objective, RefineConfig, refine_config, refine_fields
from binn.register.selection import load_selection
from binn.resample import same_spacing
from binn.vocabulary import (
    ADAPT,
    MYOCARDIUM,
    format_setting,
    get_method,
    network_methods,
    network_model_setting,
    parse_setting,
    split_refine,
    step_count,
)

log = logging.getLogger(__name__)


class Registrar:
    """A configured method: ``__call__(fixed (N,H,W), moving (N,H,W)) -> (N, 2, H, W)`` px.

    Networks: ``model`` is a checkpoint path (or an in-memory :class:`RegistrationNet`;
    None: the shipped model, :func:`register.pretrained.model_or_shipped`, with the
    test-time options :data:`register.pretrained.SHIPPED_TEST_TIME` unless ``params`` name
    one; its path is ``model_path`` as a given checkpoint's is), pairs are batched
    ``batch_size`` at a time.
    Their only parameters are the test-time options: ``adapt=N`` fine-tunes a copy of the
    network N steps on each subject before it tracks it (:meth:`adapt_to`,
    :mod:`register.adapt`), and the refinement options (``refine=N``, ``refine_lr``,
    ``refine_grid``, ``refine_ncc``, see :mod:`register.refine`) refine each field; both
    under the training objective with the training weight (``alpha``/``lam`` from the
    checkpoint, or ``weight`` for an in-memory net) and, for ``binn``, the training VAE
    (``vae`` overrides the path the checkpoint records). Classical methods: ``params`` over
    the validated setting (:func:`register.config.classical_params`: demons ``sigma=2``,
    ffd ``grid=8,penalty=0.1`` unless given) go to :func:`register.baselines.register_pairs`,
    ``threads`` pairs at a time (results do not depend on ``threads``); ``setting`` names
    what runs.
    ``spacing_mm``: the in-plane pixel spacing (mm) of the data; a network checkpoint
    trained on another grid (or recording none), or a VAE learnt on another spacing, is
    refused naming both (:mod:`register.grid`); None checks nothing (in-memory use).
    Pairs whose refinement stopped on a non-finite objective are listed in ``failures``
    (``"NAME: reason"``) after each call; their field is the network's (or its last good
    refinement) and the other pairs go on.
    """

    def __init__(
        self,
        method: str,
        params: dict[str, float] | None = None,
        model: Path | RegistrationNet | None = None,
        image_size: int | None = None,
        batch_size: int = TrackOptions.batch_size,
        device: str = "cpu",
        *,
        vae: Path | nn.Module | None = None,
        weight: float | None = None,
        threads: int = TrackOptions.threads,
        spacing_mm: float | None = None,
    ):
        self.spec = get_method(method)
        self.method = method
        self.spacing_mm = spacing_mm
        self.params = dict(params or {})
        self.batch_size = batch_size
        self.threads = int(threads)
        self.meta: dict[str, Any] = {}
        self.model_path: Path | None = None
        self.net: RegistrationNet | None = None
        self.refine = RefineConfig()
        self.objective: Objective | None = None
        self.adapt_steps = 0
        self.trained_net: RegistrationNet | None = None  # the weights every subject adapts from
        self.failures: list[str] = []
        base, refine = split_refine(self.params)
        if self.spec.is_network:
            if base:
                raise BinnInputError(
                    None,
                    f"{method}: parameters {sorted(base)} are fixed at training; pass "
                    "--model instead (a network takes only adapt and refine* parameters)",
                )
            if model is None and not refine:
                refine = dict(SHIPPED_TEST_TIME)  # the shipped network's validated setting
                self.params.update(refine)
            test_time = dict(refine)
            self.adapt_steps = step_count(refine, ADAPT)
            refine.pop(ADAPT, None)
            if not isinstance(model, RegistrationNet):
                model = model_or_shipped(method, model)
                self.model_path = model
            self.device = resolve_device(device)
            if isinstance(model, RegistrationNet):
                self.net = model.to(self.device).eval()
                self.meta = {"method": method, "setting": "in-memory"}
                if weight is not None:
                    self.meta[str(self.spec.weight)] = float(weight)
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
                if spacing_mm is not None:
                    check_model_grid(self.meta, spacing_mm, image_size, model)
            self.refine = refine_config(refine)
            base_setting = str(self.meta.get("setting", ""))
            self.setting = (
                format_setting({**parse_setting(base_setting, str(model)), **test_time})
                if test_time and base_setting != "in-memory"
                else base_setting
            )
            if self.refine.iterations or self.adapt_steps:
                self.objective = self._objective(model, vae)
            self.trained_net = self.net
        else:
            if refine:
                raise BinnInputError(
                    None,
                    f"{method} has no network to refine: {sorted(refine)} apply to the "
                    f"network methods {network_methods()} only",
                )
            self.params = classical_params(method, self.params)
            if (
                spacing_mm is not None
                and not same_spacing(spacing_mm, VALIDATED_GRID_MM)
                and set(VALIDATED_CLASSICAL.get(method, {})) - set(params or {})
            ):
                log.warning(
                    "%s: the validated setting %s is in pixels of %s mm; the data is on %s mm",
                    method,
                    format_setting(VALIDATED_CLASSICAL[method]),
                    VALIDATED_GRID_MM,
                    spacing_mm,
                )
            self.setting = format_setting(self.params) if self.params else "default"

    def _objective(self, model: Path | RegistrationNet, vae: Path | nn.Module | None) -> Objective:
        """The training objective of the network: its weight and (binn) its frozen VAE."""
        name = str(self.spec.weight)
        source = None if isinstance(model, RegistrationNet) else model
        if self.meta.get(name) is None:
            raise BinnInputError(
                source,
                f"adaptation and refinement need the training weight {name}, which is not recorded",
            )
        weight = float(self.meta[name])
        if not self.spec.needs_vae:
            if self.refine.latent:
                raise BinnInputError(None, "refine_latent needs the binn prior (a VAE)")
            return Objective(self.method, weight, ncc=self.refine.ncc)
        if not isinstance(vae, nn.Module):
            vae = training_vae(self.meta, source, vae)
            from binn.learn.score import load_vae

            path = vae
            vae = load_vae(path, self.device)
            if self.spacing_mm is not None:
                check_vae_spacing(getattr(vae, "spacing_mm", None), self.spacing_mm, path)
        vae = freeze(vae.to(self.device))
        return Objective(
            self.method, weight, vae, ncc=self.refine.ncc, latent=bool(self.refine.latent)
        )

    def adapt_to(self, images: np.ndarray, myo: np.ndarray | None, name: str) -> None:
        """With ``adapt=N``: track with a copy of the trained network fine-tuned N steps on
        the cine ``images (T, Z, H, W)`` (frame 0 = ED) with its ED myocardium ``myo (Z, H,
        W)`` (:func:`register.adapt.adapt_network`); every call starts from the trained
        weights. Without it, or for a classical method, nothing happens."""
        if not self.adapt_steps or self.trained_net is None or self.objective is None:
            return
        start = time.perf_counter()
        self.net = adapt_network(
            self.trained_net,
            images,
            myo,
            self.method,
            self.objective.weight,
            self.objective.vae,
            self.adapt_steps,
            self.device,
        )
        seconds = time.perf_counter() - start
        log.info(
            "%s adapted to %s: %d steps in %.1f s", self.method, name, self.adapt_steps, seconds
        )

    def __call__(
        self,
        fixed: np.ndarray,
        moving: np.ndarray,
        myo: np.ndarray | None = None,
        names: list[str] | None = None,
    ) -> np.ndarray:
        """Register each ``moving[i]`` to ``fixed[i]``; returns ``(N, 2, H, W)`` float32 px.

        ``myo`` ``(N, H, W)``: the ED myocardium of each pair (needed to refine ``binn``
        fields: R_VAE scores the field there); ``names`` name the pairs in error messages.
        """
        if fixed.shape != moving.shape or fixed.ndim != 3:
            raise BinnInputError(
                None,
                f"fixed {fixed.shape} and moving {moving.shape} must be equal (N, H, W) stacks",
            )
        self.failures = []
        if self.net is None:
            return register_pairs(fixed, moving, self.method, self.params, self.threads)
        if self.objective is not None and self.spec.needs_vae and myo is None:
            raise BinnInputError(
                None, f"refining {self.method} fields needs the ED myocardium of each pair"
            )
        names = names or [f"pair {i}" for i in range(len(fixed))]
        out = []
        for i in range(0, len(fixed), self.batch_size):
            sl = slice(i, i + self.batch_size)
            f = _tensor(fixed[sl], self.device)[:, None]
            m = _tensor(moving[sl], self.device)[:, None]
            with torch.inference_mode():
                field = self.net(m, f)
            if self.objective is not None:
                field = self._refine(field.clone(), f, m, myo, sl, names[sl])
            out.append(field.cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def _refine(
        self,
        field: torch.Tensor,
        fixed: torch.Tensor,
        moving: torch.Tensor,
        myo: np.ndarray | None,
        sl: slice,
        names: list[str],
    ) -> torch.Tensor:
        mask = None if myo is None else _tensor(np.asarray(myo[sl]) != 0, self.device)
        result = refine_fields(field, fixed, moving, self.objective, self.refine, mask)
        for i, reason in sorted(result.failures.items()):
            message = f"{names[i]}: refinement stopped, {reason}; kept its last finite field"
            log.error(message)
            self.failures.append(message)
        return result.fields.detach()


def _tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.array(array, np.float32)).to(device)  # a writable copy


def track_sequence(
    images: np.ndarray,
    registrar: Registrar,
    frames: str | list[int] = "all",
    es_index: int | None = None,
    myo: np.ndarray | None = None,
    name: str = "subject",
) -> dict[str, Any]:
    """Register frames of ``images`` (T, Z, H, W) to frame 0 (ED), every slice.

    ``frames``: ``"all"``, ``"es"`` (needs ``es_index``) or explicit frame indices. Frame 0
    gets an all-zero field without registration; with ``adapt=N`` the network is first
    adapted to the whole of ``images`` (:meth:`Registrar.adapt_to`). ``myo`` ``(Z, H, W)``:
    the ED myocardium (adaptation and refinement of binn fields need it); ``name`` names the
    subject in error messages. Returns ``fields (T', Z, 2, H, W)`` float32 px, ``frames
    (T',)`` int64, ``seconds`` (registration time, adaptation included), ``ms_per_pair`` and
    ``failures`` (pairs whose refinement stopped).
    Progress (:class:`binn.logs.Progress`): a bar on a terminal, periodic log lines
    otherwise; the pairs go to the registrar in chunks of whole network batches (at least a
    slice stack or four pairs per thread), which does not change the fields.
    """
    images = np.asarray(images, dtype=np.float32)
    t_count, z, h, w = images.shape
    if frames == "all":
        chosen = list(range(t_count))
    elif frames == "es":
        if es_index is None:
            raise BinnInputError(None, "frames 'es' needs the subject's ES index")
        chosen = [0, int(es_index)]
    else:
        chosen = [int(t) for t in frames]
    moving_frames = [t for t in chosen if t != 0]
    fixed = np.broadcast_to(images[0], (len(moving_frames), z, h, w)).reshape(-1, h, w)
    moving = images[moving_frames].reshape(-1, h, w)
    pair_myo = (
        None
        if myo is None
        else np.broadcast_to(myo, (len(moving_frames), z, h, w)).reshape(-1, h, w)
    )
    names = [f"{name} frame {t} slice {k}" for t in moving_frames for k in range(z)]
    start = time.perf_counter()
    registrar.adapt_to(images, myo, name)
    pairs = np.zeros((len(moving), 2, h, w), np.float32)
    failures: list[str] = []
    batch = max(int(registrar.batch_size), 1)  # whole network batches: the same batches
    chunk = batch * -(-max(z, 4 * registrar.threads, batch) // batch)
    desc = f"tracking {name} with {registrar.method} ({registrar.setting})"
    with Progress(len(moving), desc, unit="pair", logger=log) as bar:
        for i in range(0, len(moving), chunk):
            sl = slice(i, i + chunk)
            part_myo = None if pair_myo is None else pair_myo[sl]
            pairs[sl] = registrar(fixed[sl], moving[sl], part_myo, names[sl])
            failures += registrar.failures
            bar.update(len(moving[sl]))
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
        "failures": failures,
    }


@dataclasses.dataclass(frozen=True)
class MethodChoice:
    """A method ready to track with: its name, its parameters (a classical method's own; a
    network's ``refine*`` options only, its weight being fixed at training) and, for a
    network, its checkpoint ``model``."""

    method: str
    params: dict[str, float]
    model: Path | None


def resolve_method(
    method: str | None = None,
    params: dict[str, float] | None = None,
    selection: Path | None = None,
    model: str | Path | None = None,
) -> MethodChoice:
    """The method of a tracking from its name and parameters and/or a selection file.

    ``selection`` (``SELECT.json``, :mod:`register.selection`) names the method and its
    setting; ``params`` override the selected ones. ``model`` may contain ``{setting}``,
    filled with the training part of the selected network setting (the model file name).
    A ``method`` that contradicts the selection, or neither given, is a
    :class:`BinnInputError`.
    """
    params = dict(params or {})
    setting = None
    if selection is not None:
        sel_method, setting, sel_params = load_selection(selection)
        if method is not None and method != sel_method:
            raise BinnInputError(
                selection, f"selects method {sel_method!r} but the method asked for is {method!r}"
            )
        method = sel_method
        if not get_method(sel_method, selection).is_network:
            params = {**sel_params, **params}
        else:  # a network's selection may carry refine* options; its weight names the model
            params = {**split_refine(sel_params)[1], **params}
            setting = network_model_setting(setting, str(selection))
    if method is None:
        raise BinnInputError(None, "give a method or a selection file")
    get_method(method)
    path = None if model is None else str(model)
    if path is not None and "{setting}" in path:
        if setting is None:
            raise BinnInputError(path, "model path holds {setting} but no selection given")
        path = path.format(setting=setting)
    return MethodChoice(method, params, None if path is None else Path(path))


@dataclasses.dataclass(frozen=True)
class TrackRequest:
    """One ``binn track`` run: each subject file of ``data`` is tracked into the fields file
    of ``outs`` at the same position, with the method of ``method``/``params`` or of a
    ``selection`` file (see :func:`resolve_method`; ``model``: a network checkpoint, may
    hold ``{setting}``), run as ``options`` say. ``nifti``: also write the displacement in
    the original image's space (one subject only, :func:`export_displacement`); ``force``:
    replace existing outputs."""

    data: tuple[Path, ...]
    outs: tuple[Path, ...]
    method: str | None = None
    params: dict[str, float] = dataclasses.field(default_factory=dict)
    selection: Path | None = None
    model: str | None = None
    options: TrackOptions = dataclasses.field(default_factory=TrackOptions)
    nifti: Path | None = None
    force: bool = True


def track_subjects(request: TrackRequest) -> list[Path]:
    """Track each subject file of ``request`` with one loaded method (see
    :class:`TrackRequest`); each fields file is written atomically. Returns the files
    written. Subjects must share one square frame size and one pixel spacing (that of the
    first, or ``options.spacing_mm``), which a network must have been trained on."""
    from binn.io import check_output
    from binn.register.data.subject import load_subject

    if len(request.outs) != len(request.data):
        raise BinnInputError(
            None, f"{len(request.data)} subject files but {len(request.outs)} output files"
        )
    if len(set(request.outs)) != len(request.outs):
        raise BinnInputError(None, "two subjects share one output file (same file name?)")
    if request.nifti is not None and len(request.data) != 1:
        raise BinnInputError(request.nifti, "--nifti exports one subject (give one --data)")
    for out in (*request.outs, *([request.nifti] if request.nifti else [])):
        check_output(out, request.force)
    choice = resolve_method(request.method, request.params, request.selection, request.model)
    options = request.options
    registrar: Registrar | None = None
    size, spacing = 0, options.spacing_mm  # of the first subject: the registrar's grid
    written: list[Path] = []
    for data, out in zip(request.data, request.outs, strict=True):
        subject = load_subject(data)
        h, w = subject.images.shape[-2:]
        if h != w:
            raise BinnInputError(data, f"frames are {h}x{w}; crop them square first")
        pixel = inplane_spacing(subject.spacing, data)
        if spacing is not None and not same_spacing(spacing, pixel):
            first = "--spacing-mm" if options.spacing_mm is not None else str(request.data[0])
            raise BinnInputError(
                data, f"pixels are {pixel:.4g} mm but {first} is on {float(spacing):.4g} mm"
            )
        if registrar is None:
            size, spacing = h, pixel
            registrar = Registrar(
                choice.method,
                choice.params,
                choice.model,
                int(h),
                options.batch_size,
                options.device,
                vae=options.vae,
                threads=options.threads,
                spacing_mm=pixel,
            )
        elif h != size:
            raise BinnInputError(data, f"frames are {h} px but {request.data[0]} has {size} px")
        fields = _track_subject(subject, data, out, registrar, choice, options.frames)
        written.append(out)
        if request.nifti is not None:
            written.append(export_displacement(fields, request.nifti, data))
    return written


def _track_subject(
    subject: Any,
    data: Path,
    out: Path,
    registrar: Registrar,
    choice: MethodChoice,
    frames: str,
) -> dict[str, Any]:
    """Track one loaded subject and write its fields file ``out`` (atomically): the fields,
    their frames, the method, its setting and parameters, the grid (``spacing``) and the
    geometry that maps them back to the original image (``geometry_json``). Returns the
    arrays written."""
    from binn.register.data.geometry import subject_geometry

    result = track_sequence(
        subject.images,
        registrar,
        frames,
        subject.es_index,
        myo=np.asarray(subject.labels_ed) == MYOCARDIUM,
        name=subject.name,
    )
    log.info(
        "%s %s (%s): %d frames x %d slices in %.2f s (%.1f ms per pair)",
        subject.name,
        choice.method,
        registrar.setting,
        len(result["frames"]),
        subject.images.shape[1],
        result["seconds"],
        result["ms_per_pair"],
    )
    try:
        geometry: dict[str, Any] | None = subject_geometry(subject).record()
    except BinnInputError as exc:
        log.warning("%s: the fields file records no geometry (%s)", subject.name, exc.reason)
        geometry = None
    cfg = {
        "data": str(data),
        "method": choice.method,
        "setting": registrar.setting,
        "model": None if registrar.model_path is None else str(registrar.model_path),
        "params": registrar.params,
        "frames": frames,
        "spacing_mm": list(np.asarray(subject.spacing, dtype=float)),
    }
    failures = result.pop("failures")
    arrays = {
        **result,
        "refine_failures": np.asarray(failures, dtype=str),
        "method": np.asarray(choice.method),
        "setting": np.asarray(registrar.setting),
        "subject": np.asarray(subject.name),
        "spacing": np.asarray(subject.spacing, dtype=np.float64),
        "frame_time_ms": np.asarray(_frame_time(subject), dtype=np.float64),
    }
    if geometry is not None:
        arrays["geometry_json"] = np.asarray(json.dumps(geometry))
    save_npz(out, provenance(cfg, None), **arrays)
    return arrays


def _frame_time(subject: Any) -> float:
    """The subject's frame interval (ms) from its cine header, NaN when unknown."""
    value = subject.meta.get("frame_time_ms") if hasattr(subject, "meta") else None
    return float("nan") if value is None else float(value)


def fields_geometry(fields_file: dict[str, Any], source: object = None) -> Any:
    """The :class:`register.data.geometry.Geometry` a fields file carries (``geometry_json``,
    written by ``binn track``); a file without it raises :class:`BinnInputError`."""
    from binn.register.data.geometry import Geometry

    if "geometry_json" not in fields_file:
        raise BinnInputError(
            source, "records no geometry (written before binn recorded it): track it again"
        )
    return Geometry.from_record(json.loads(str(fields_file["geometry_json"])), source)


def export_displacement(fields_file: dict[str, Any], path: Path, source: object = None) -> Path:
    """Write a tracking's displacement in mm in the original image's space as NIfTI.

    ``fields_file``: the arrays of a fields file (``fields (T', Z, 2, H, W)`` px, ``frames``,
    ``geometry_json``, optionally ``frame_time_ms``). The file is
    ``(X, Y, Z, T', 3)`` float32 on the original image's voxels with its affine, intent
    "displacement vector" (:func:`binn.nifti.save_displacement`): world (RAS+) mm
    components of ``u_t`` at each ED voxel, ``I_t(x + u_t(x)) ~ I_ED(x)``; zero outside the
    tracked window. The time axis is the cine file's frame order when every frame was
    tracked and the ED frame is known, else the tracked frames (ED first); the header's
    description says which. Returns ``path``.
    """
    from binn.nifti import save_displacement
    from binn.register.data.geometry import displacement_in_original, original_frame_order

    geometry = fields_geometry(fields_file, source)
    disp, _ = displacement_in_original(np.asarray(fields_file["fields"]), geometry, source)
    frames = np.asarray(fields_file["frames"])
    order, original = original_frame_order(frames, geometry)
    disp = disp[:, :, :, order]
    recorded = float(fields_file.get("frame_time_ms", np.nan))
    frame_time = recorded if np.isfinite(recorded) and recorded > 0 else None
    if original:
        what = f"u(ED->t) mm RAS, file frame order, ED = frame {int(geometry.ed_frame) + 1}"
    else:
        what = "u(ED->t) mm RAS, frames " + ",".join(str(int(f) + 1) for f in frames[order])
    save_displacement(path, disp, geometry.original_affine, frame_time, what)
    log.info("displacement in the original image's space (%s) -> %s", what, path)
    return Path(path)
