"""Training of the registration network: ``binn`` (MSE + alpha R_VAE) or ``l2`` (MSE + lam
||grad u||^2) on pairs (random frame t -> ED, every slice) of cine subjects.

Validation is by subject (a fixed, seeded subsample of at most ``val_pairs`` pairs of the
validation subjects), the best-validation weights are written as the checkpoint at the end,
an interrupted run resumes from ``MODEL.resume.pt`` (which also holds the best weights),
and the loss curves are written next to the model (``MODEL.curves.csv``, ``MODEL.curves.png``).
The hyper-parameters and their defaults are :class:`binn.register.config.TrainConfig`.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from binn.errors import BinnInputError
from binn.io import atomic_path, write_text
from binn.provenance import provenance
from binn.register.checkpoint import resolve_device, save_checkpoint, vae_record
from binn.register.config import PRECISIONS, SHIPPED, TrainConfig
from binn.register.losses import freeze, l2_gradient_penalty, mse, vae_penalty
from binn.register.network import RegistrationNet
from binn.register.transform import warp
from binn.vocabulary import MYOCARDIUM, get_method

log = logging.getLogger(__name__)


class Subject(Protocol):
    """What training needs of a cine subject (``register.data.CineSubject`` has it)."""

    images: np.ndarray  # (T, Z, H, W) float32 in [0, 1]
    labels_ed: np.ndarray  # (Z, H, W) uint8, ACDC labels
    es_index: int
    spacing: np.ndarray  # (3,) mm (z, y, x)


class PairSet:
    """(frame t >= 1 -> ED) pairs of cine subjects, every slice, gathered per batch.

    Pairs are indexed as ``keys`` ``(N, 3)`` int64 (subject, frame t, slice z), in the order
    subject, frame, slice. Each subject keeps only the image slices its pairs use, once
    (all of ``images`` for a full set): pairs are never copied, so memory is one copy of the
    images instead of three. :meth:`batch` gathers ``source``/``target`` ``(B, 1, H, W)``
    float32 and ``myo`` ``(B, H, W)`` float32 (the ED myocardium of the slice).

    ``max_pairs`` keeps a fixed, seeded subsample of at most that many pairs, spread evenly
    over the subjects (validation); ``None`` keeps every pair. Subjects are read one at a
    time (a ``Path`` is loaded, used and released).
    """

    def __init__(
        self,
        subjects: Sequence[Subject | Path],
        frames: str = "all",
        max_pairs: int | None = None,
        seed: int = 0,
    ):
        if max_pairs is not None and max_pairs < 1:
            raise BinnInputError(None, f"max_pairs must be positive, got {max_pairs}")
        self._slices: list[torch.Tensor] = []  # per subject (R, H, W): the slices it keeps
        self._myo: list[torch.Tensor] = []  # per subject (Z, H, W): ED myocardium
        rows: list[np.ndarray] = []  # per pair: subject, source row, target row, slice
        keys: list[np.ndarray] = []
        spacings: list[np.ndarray] = []
        size = None
        n_subjects = len(subjects)
        for i, item in enumerate(subjects):
            s = _as_subject(item)
            images = np.asarray(s.images, dtype=np.float32)
            if images.ndim != 4 or images.shape[0] < 2:
                raise BinnInputError(
                    _source(item), f"subject images must be (T>=2, Z, H, W), got {images.shape}"
                )
            if size is None:
                size = images.shape[-2:]
            elif images.shape[-2:] != size:
                raise BinnInputError(
                    _source(item), f"subjects differ in crop size: {images.shape[-2:]} vs {size}"
                )
            n_t, n_z = images.shape[:2]
            ts = np.arange(1, n_t) if frames == "all" else np.array([int(s.es_index)])
            tz = np.stack(np.meshgrid(ts, np.arange(n_z), indexing="ij"), -1).reshape(-1, 2)
            if max_pairs is not None:
                quota = max_pairs // n_subjects + (i < max_pairs % n_subjects)
                if quota < len(tz):
                    pick = np.random.default_rng([seed, i]).choice(len(tz), quota, replace=False)
                    tz = tz[np.sort(pick)]
            spacings.append(np.asarray(getattr(s, "spacing", [np.nan] * 3), float)[-2:])
            if not len(tz):
                continue
            # the slices this subject's pairs use: sources (t, z) and their ED targets (0, z)
            used = np.unique(
                np.concatenate([tz, np.column_stack([np.zeros_like(tz[:, 1]), tz[:, 1]])]), axis=0
            )
            flat = used[:, 0] * n_z + used[:, 1]
            row_of = dict(zip(flat.tolist(), range(len(flat)), strict=True))
            src = np.array([row_of[t * n_z + z] for t, z in tz.tolist()])
            tgt = np.array([row_of[z] for z in tz[:, 1].tolist()])
            index = len(self._slices)
            self._slices.append(torch.from_numpy(images[used[:, 0], used[:, 1]]))
            myo = (np.asarray(s.labels_ed) == MYOCARDIUM).astype(np.float32)
            self._myo.append(torch.from_numpy(myo))
            rows.append(np.column_stack([np.full(len(tz), index), src, tgt, tz[:, 1]]))
            keys.append(np.column_stack([np.full(len(tz), i), tz]))
            del s, images  # release this subject before the next one is read
        if not rows:
            raise BinnInputError(None, "no training pairs")
        self._rows = torch.from_numpy(np.concatenate(rows).astype(np.int64))
        self.keys = torch.from_numpy(np.concatenate(keys).astype(np.int64))
        self.spacing = np.stack(spacings)  # (S, 2) mm, in-plane (row, col) of every subject
        self.size = int(size[0])

    def __len__(self) -> int:
        return int(self._rows.shape[0])

    def batch(self, idx: torch.Tensor | Sequence[int] | slice) -> tuple[torch.Tensor, ...]:
        """``source``, ``target`` ``(B, 1, H, W)`` and ``myo`` ``(B, H, W)`` of pairs ``idx``."""
        rows = self._rows[idx].reshape(-1, 4).tolist()
        src = torch.stack([self._slices[s][r] for s, r, _, _ in rows])
        tgt = torch.stack([self._slices[s][r] for s, _, r, _ in rows])
        myo = torch.stack([self._myo[s][z] for s, _, _, z in rows])
        return src[:, None], tgt[:, None], myo

    def fingerprint(self) -> str:
        """A digest of the pairs' content (images, masks, pair index): resuming a run on
        data that changed under the same names would silently mix two runs."""
        digest = hashlib.blake2b(digest_size=16)
        for tensor in (*self._slices, *self._myo, self._rows):
            digest.update(tensor.contiguous().numpy().data)
        return digest.hexdigest()

    def myo_coverage(self) -> float:
        """Fraction of the pairs' pixels inside the ED myocardium (as ``mask_coverage``)."""
        per_slice = [(m > 0).sum(dim=(1, 2)).tolist() for m in self._myo]
        inside = sum(per_slice[s][z] for s, _, _, z in self._rows.tolist())
        return inside / (len(self) * self.size * self._myo[0].shape[-1])


def resolve_precision(precision: str, device: torch.device) -> str:
    """The network's training precision on ``device``: ``float32`` or ``bfloat16``.

    ``bfloat16`` runs the network's forward and backward under ``torch.autocast`` (weights,
    optimiser, warp, losses and the prior stay float32, and tracking always runs the
    network in float32). ``auto`` picks ``bfloat16`` where the device computes it natively
    (a CPU with AVX512-BF16 or AMX, a CUDA GPU that supports it), else ``float32``: on a
    CPU without it, bfloat16 is emulated and slower than float32.
    """
    if precision not in PRECISIONS:
        raise BinnInputError(None, f"unknown precision {precision!r} (have {PRECISIONS})")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    native = any(
        getattr(torch.cpu, probe, lambda: False)()
        for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    )
    return "bfloat16" if device.type == "cpu" and native else "float32"


def registration_loss(
    net: nn.Module,
    source: torch.Tensor,
    target: torch.Tensor,
    myo: torch.Tensor,
    cfg: TrainConfig,
    vae: nn.Module | None,
    mixed: bool = False,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one batch and its parts (``mse``, ``reg``) for ``cfg.method``: MSE plus the
    method's training weight times its regulariser, R_VAE of the frozen ``vae`` over the ED
    myocardium for a method that needs the learnt prior (binn), else ||grad u||^2 (l2).

    ``mixed``: the network runs under bfloat16 autocast (training with ``precision
    bfloat16``); its field, the warp and the losses are float32 either way.
    """
    method = get_method(cfg.method)
    if not method.is_network:
        raise BinnInputError(None, f"unknown training method {cfg.method!r}")
    with torch.autocast(source.device.type, dtype=torch.bfloat16, enabled=mixed):
        field = net(source, target)
    field = field.float()
    sim = mse(warp(source, field), target)
    if method.needs_vae:
        if vae is None:
            raise BinnInputError(None, f"method {cfg.method!r} needs a VAE (--vae)")
        reg = vae_penalty(vae, field, myo)
    else:
        reg = l2_gradient_penalty(field)
    loss = sim + cfg.weight() * reg
    return loss, {"mse": float(sim.detach()), "reg": float(reg.detach())}


def optimisation_step(
    net: nn.Module,
    optimiser: torch.optim.Optimizer,
    pairs: PairSet,
    rng: np.random.Generator,
    cfg: TrainConfig,
    vae: nn.Module | None,
    device: torch.device,
    mixed: bool = False,
) -> tuple[float, dict[str, float]]:
    """One step: ``cfg.batch_size`` pairs drawn from ``pairs`` with ``rng`` (with
    replacement), :func:`registration_loss`, backward, ``optimiser`` step. Returns the
    batch's loss and its parts (training and test-time adaptation share it)."""
    idx = torch.from_numpy(rng.integers(0, len(pairs), cfg.batch_size))
    source, target, myo = pairs.batch(idx)
    loss, parts = registration_loss(
        net, source.to(device), target.to(device), myo.to(device), cfg, vae, mixed
    )
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return float(loss.detach()), parts


@torch.no_grad()
def validate(
    net: nn.Module, pairs: PairSet, cfg: TrainConfig, vae: nn.Module | None, device: torch.device
) -> dict[str, float]:
    """Mean loss, MSE and regulariser over all pairs of ``pairs`` (eval mode)."""
    net.eval()
    totals = {"loss": 0.0, "mse": 0.0, "reg": 0.0}
    for i in range(0, len(pairs), cfg.batch_size):
        source, target, myo = pairs.batch(slice(i, i + cfg.batch_size))
        loss, parts = registration_loss(
            net, source.to(device), target.to(device), myo.to(device), cfg, vae
        )
        n = source.shape[0]
        totals["loss"] += float(loss) * n
        totals["mse"] += parts["mse"] * n
        totals["reg"] += parts["reg"] * n
    net.train()
    return {k: v / len(pairs) for k, v in totals.items()}


def _initial_weights(cfg: TrainConfig, net: RegistrationNet, spacing_mm: float) -> dict[str, str]:
    """Load ``cfg.init`` (a checkpoint, or :data:`SHIPPED`) into ``net`` for fine-tuning and
    return what the new checkpoint records of it (path and SHA-256). A checkpoint of another
    method, width, size or grid raises :class:`BinnInputError` naming it."""
    from binn.register.checkpoint import file_sha256, load_checkpoint
    from binn.register.grid import check_model_grid
    from binn.register.pretrained import shipped_model

    path = shipped_model(cfg.method) if cfg.init == SHIPPED else Path(str(cfg.init))
    start, meta = load_checkpoint(path, image_size=net.image_size)
    if meta["method"] != cfg.method:
        raise BinnInputError(path, f"--init is a {meta['method']} network, not {cfg.method}")
    if float(meta["width"]) != float(cfg.width):
        raise BinnInputError(path, f"--init has width {meta['width']}, not --width {cfg.width}")
    check_model_grid(meta, spacing_mm, net.image_size, path)
    net.load_state_dict(start.state_dict())
    log.info("starting from %s (%s, step %s)", path, meta.get("setting"), meta.get("step"))
    return {"model": str(path), "sha256": file_sha256(path)}


def train_registration(
    train_subjects: Sequence[Subject | Path],
    val_subjects: Sequence[Subject | Path],
    cfg: TrainConfig,
    out: Path,
    vae_path: Path | None = None,
    vae: nn.Module | None = None,
) -> dict[str, Any]:
    """Train a registration network; write the best-validation checkpoint to ``out``.

    Subjects are ``CineSubject``-like objects or subject ``.npz`` paths (read one at a
    time). For ``binn`` pass ``vae_path`` (a ``binn train-vae`` checkpoint) or an in-memory
    ``vae``; it is frozen. Validation uses a fixed, seeded subsample of at most
    ``cfg.val_pairs`` validation pairs.

    ``MODEL.resume.pt`` (beside ``out``) holds everything a resume needs: the current
    weights, optimiser, random states, history, best validation loss and the best weights.
    It is written at every validation; the checkpoint ``out`` is written once, at the end,
    from the best weights, so a run killed at any point and rerun without ``out`` (as
    Snakemake does) resumes and writes the same model as an uninterrupted run.
    Returns ``{"best_val_loss", "first_val_loss", "steps", "out", "mask_coverage",
    "precision", "train_pairs_per_second"}`` (the precision ``cfg.precision`` resolved to,
    which the checkpoint's ``train_config`` records too; pairs through forward, backward and
    the optimiser step per second of this run, validation excluded).
    """
    out = Path(out)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = resolve_device(cfg.device)
    cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, device))
    mixed = cfg.precision == "bfloat16"
    train = PairSet(train_subjects)
    val = PairSet(val_subjects, frames="all", max_pairs=cfg.val_pairs, seed=cfg.seed)
    if val.size != train.size:
        raise BinnInputError(None, f"train ({train.size}px) and val ({val.size}px) sizes differ")
    spacing_mm = grid_spacing(train, train_subjects, val, val_subjects)
    needs_vae = get_method(cfg.method).needs_vae
    if needs_vae:
        if vae is None:
            if vae_path is None:
                raise BinnInputError(None, f"method {cfg.method!r} needs a VAE (--vae VAE.pt)")
            from binn.learn.score import load_vae

            check_vae_spacing(vae_path, train, train_subjects)
            vae = load_vae(vae_path, device=str(device), image_size=train.size)
        vae = freeze(vae.to(device))
    coverage = train.myo_coverage()
    log.info(
        "%d training pairs, %d validation pairs (fixed subsample of at most %d), %dpx; ED "
        "myocardium covers %.2f%% of the training pixels",
        len(train),
        len(val),
        cfg.val_pairs,
        train.size,
        100 * coverage,
    )
    if needs_vae and coverage == 0:
        raise BinnInputError(None, "the ED myocardium mask is empty in every training slice")

    net = RegistrationNet(cfg.width, train.size).to(device)
    init = _initial_weights(cfg, net, spacing_mm) if cfg.init is not None else None
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    state: dict[str, Any] = {"step": 0, "best": float("inf"), "best_step": 0, "history": []}
    best_weights: dict[str, torch.Tensor] | None = None
    resume = out.with_suffix(".resume.pt")
    data = {"train": train.fingerprint(), "val": val.fingerprint()}
    meta: dict[str, Any] = {
        "method": cfg.method,
        "alpha": cfg.alpha,
        "lam": cfg.lam,
        "setting": cfg.setting(),
        "train_config": dataclasses.asdict(cfg),
        "spacing_mm": spacing_mm,
    }
    if init is not None:
        meta["init"] = init
    if needs_vae and vae_path is not None:
        # relative to the model's folder (a moved results folder keeps its models usable)
        # with its SHA-256, read back by recorded_vae against the model's folder only
        meta.update(vae_record(vae_path, out))
    if resume.is_file():
        ck = torch.load(resume, map_location="cpu", weights_only=False)
        same_data = ck.get("data") == data
        if same_data and _same_run(ck.get("train_config", {}), dataclasses.asdict(cfg)):
            net.load_state_dict(ck["state_dict"])
            opt.load_state_dict(ck["optimizer"])
            state = ck["state"]
            best_weights = ck["best_state_dict"]
            rng.bit_generator.state = ck["rng"]
            torch.set_rng_state(ck["torch_rng"])
            log.info("resuming %s from step %d", out, state["step"])
        else:
            log.warning(
                "ignoring %s: it was written with another configuration or other data", resume
            )
    if not state["history"]:
        first = validate(net, val, cfg, vae, device)
        state["history"].append({"step": 0, "train_loss": float("nan"), **_prefix(first)})

    net.train()
    running: list[float] = []
    step_seconds, steps_run = 0.0, 0
    bar = tqdm(total=cfg.steps, initial=state["step"], desc=f"train-reg {cfg.method}", disable=None)
    while state["step"] < cfg.steps:
        started = time.perf_counter()
        loss, parts = optimisation_step(net, opt, train, rng, cfg, vae, device, mixed)
        running.append(loss)
        step_seconds += time.perf_counter() - started
        steps_run += 1
        state["step"] += 1
        bar.update(1)
        bar.set_postfix(loss=f"{running[-1]:.4g}", mse=f"{parts['mse']:.4g}")
        if state["step"] % cfg.val_every == 0 or state["step"] == cfg.steps:
            v = validate(net, val, cfg, vae, device)
            state["history"].append(
                {"step": state["step"], "train_loss": float(np.mean(running)), **_prefix(v)}
            )
            running = []
            log.info(
                "step %d: val loss %.5g (mse %.5g, reg %.5g)",
                state["step"],
                v["loss"],
                v["mse"],
                v["reg"],
            )
            if v["loss"] < state["best"]:
                state["best"], state["best_step"] = v["loss"], state["step"]
                best_weights = _cpu_copy(net.state_dict())
            _save_resume(resume, net, opt, state, best_weights, rng, cfg, data)
            _write_curves(out, state["history"])
    bar.close()
    pairs_per_second = steps_run * cfg.batch_size / step_seconds if steps_run else float("nan")
    log.info(
        "%d steps of %d pairs on %s (%d threads, %s): %.1f training pairs/s (without validation)",
        steps_run,
        cfg.batch_size,
        device,
        torch.get_num_threads(),
        cfg.precision,
        pairs_per_second,
    )
    if best_weights is None:  # no validation improved on inf (non-finite losses)
        log.warning("%s: no finite validation loss; writing the last weights", out)
        best_weights = _cpu_copy(net.state_dict())
        state["best_step"] = state["step"]
    final = RegistrationNet(cfg.width, train.size)
    final.load_state_dict(best_weights)
    save_checkpoint(
        out,
        final,
        **meta,
        step=state["best_step"],
        val_loss=state["best"],
        provenance=provenance(meta, cfg.seed),
    )
    return {
        "out": str(out),
        "steps": state["step"],
        "best_step": state["best_step"],
        "best_val_loss": state["best"],
        "first_val_loss": state["history"][0]["val_loss"],
        "mask_coverage": coverage,
        "setting": cfg.setting(),
        "precision": cfg.precision,
        "train_pairs_per_second": pairs_per_second,
    }


def grid_spacing(
    train: PairSet,
    train_subjects: Sequence[Subject | Path],
    val: PairSet,
    val_subjects: Sequence[Subject | Path],
) -> float | None:
    """The one square in-plane pixel spacing (mm) of the training and validation subjects,
    which the checkpoint records (``spacing_mm``) and every later use is checked against.

    A subject whose pixels are not square, or on another spacing than the first training
    subject, raises :class:`BinnInputError` naming it and both spacings. None when the
    subjects carry no spacing (in-memory objects without one)."""
    from binn.register.grid import check_same_spacing, inplane_spacing

    reference: float | None = None
    first = None
    sets = ((train, train_subjects, "training"), (val, val_subjects, "validation"))
    for pairs, subjects, what in sets:
        for spacing, subject in zip(pairs.spacing, subjects, strict=True):
            if not np.all(np.isfinite(spacing)):
                continue
            pixel = inplane_spacing(np.asarray([1.0, *spacing]), _source(subject))
            if reference is None:
                reference, first = pixel, _source(subject)
                continue
            check_same_spacing(
                reference,
                pixel,
                f"training subject {first}",
                f"{what} subject {_source(subject)}",
                _source(subject),
                "put every subject on one grid (binn import-cine --spacing-mm)",
            )
    return reference


def check_vae_spacing(vae_path: Path, pairs: PairSet, subjects: Sequence[Subject | Path]) -> None:
    """Refuse a VAE learnt on another pixel spacing than a training subject's in-plane one
    (:func:`binn.register.grid.check_vae_spacing`, the one tolerance every command uses).

    The VAE's R_VAE is a prior on displacement gradients in pixels, so it only transfers to
    images of the spacing it was trained on. Checkpoints without ``spacing_mm`` (older
    ones) are accepted with a warning.
    """
    from binn.register import grid
    from binn.weights import read_checkpoint_dict

    recorded = read_checkpoint_dict(vae_path).get("spacing_mm")
    if recorded is None:
        log.warning("%s records no spacing_mm: cannot check it against the subjects", vae_path)
        return
    for i, spacing in enumerate(pairs.spacing):
        if np.all(np.isfinite(spacing)):
            grid.check_vae_spacing(recorded, spacing, f"{vae_path} (training subject "
                                   f"{_source(subjects[i])})")  # fmt: skip


def _cpu_copy(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in weights.items()}


def _as_subject(item: Subject | Path) -> Subject:
    if isinstance(item, str | Path):
        from binn.register.data.subject import load_subject

        return load_subject(Path(item))
    return item


def _source(item: Subject | Path) -> str:
    """How a subject is named in messages: its file, else its name."""
    return str(item) if isinstance(item, str | Path) else str(getattr(item, "name", "subject"))


def _same_run(a: dict, b: dict) -> bool:
    """Two configurations describe the same run up to its length (``steps`` may grow)."""
    return {k: v for k, v in a.items() if k != "steps"} == {
        k: v for k, v in b.items() if k != "steps"
    }


def _prefix(v: dict[str, float]) -> dict[str, float]:
    return {f"val_{k}": x for k, x in v.items()}


def _save_resume(
    path: Path,
    net: nn.Module,
    opt: torch.optim.Optimizer,
    state: dict,
    best_weights: dict[str, torch.Tensor] | None,
    rng: np.random.Generator,
    cfg: TrainConfig,
    data: dict[str, str],
) -> None:
    payload = {
        "data": data,
        "state_dict": net.state_dict(),
        "optimizer": opt.state_dict(),
        "state": state,
        "best_state_dict": best_weights,
        "rng": rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "train_config": dataclasses.asdict(cfg),
    }
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(payload, tmp)


def _write_curves(out: Path, history: list[dict[str, float]]) -> None:
    """Loss curves as CSV and PNG next to the model."""
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    write_text(out.with_suffix(".curves.csv"), buf.getvalue())

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    steps = [h["step"] for h in history]
    ax.plot(steps[1:], [h["train_loss"] for h in history[1:]], label="train loss")
    ax.plot(steps, [h["val_loss"] for h in history], label="validation loss")
    ax.plot(steps, [h["val_mse"] for h in history], "--", label="validation MSE")
    ax.set_xlabel("step")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    with atomic_path(out.with_suffix(".curves.png")) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
