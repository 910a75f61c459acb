"""Training MotionVAE2D on simulated fields: seeded, resumable, best-validation checkpoint.

Beside the checkpoint ``VAE.pt``: ``VAE.state.pt`` (the training state after every epoch:
weights, optimiser, history, best validation loss and best weights, for resuming after an
interruption), ``VAE.loss.csv`` / ``VAE.loss.png`` (loss curves; epoch 0 is the untrained
model) and ``VAE.recon.png`` (input vs reconstructed gradients, validation). The checkpoint
is written once, at the end, from the best-validation weights, so a run killed at any
point and rerun without its outputs (as Snakemake does) gives the same checkpoint.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from binn.errors import BinnInputError
from binn.io import atomic_path, write_text
from binn.learn.augment import random_orientations, random_shifts, reorient
from binn.learn.checkpoint import save_checkpoint
from binn.learn.config import AUGMENTATIONS, LR_SCHEDULES, TrainConfig
from binn.learn.dataset import (
    WindowSet,
    build_windows,
    read_records,
    records_spacing_mm,
    split_by_case,
)
from binn.learn.gradients import displacement_gradient
from binn.learn.model import MotionVAE2D, vae_loss
from binn.learn.score import resolve_device
from binn.provenance import config_hash, provenance
from binn.weights import read_checkpoint_dict

log = logging.getLogger(__name__)


def learning_rate(cfg: TrainConfig, epoch: int) -> float:
    """Adam's learning rate in ``epoch`` (1-based): ``cfg.lr`` throughout (``constant``), or
    annealed from ``cfg.lr`` towards 0 over ``cfg.epochs`` on a half cosine (``cosine``)."""
    if cfg.lr_schedule == "constant":
        return cfg.lr
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / cfg.epochs))


@dataclass(frozen=True)
class TrainResult:
    """Summary of a finished run."""

    checkpoint: Path
    best_epoch: int
    best_val_loss: float
    untrained_val_loss: float
    history: list[dict[str, float]]
    train_cases: list[str]
    val_cases: list[str]
    samples_per_second: float


def artefact_paths(out: Path) -> dict[str, Path]:
    """Files written beside the checkpoint ``out``."""
    stem = out.with_suffix("")
    return {
        "state": Path(f"{stem}.state.pt"),
        "csv": Path(f"{stem}.loss.csv"),
        "loss_png": Path(f"{stem}.loss.png"),
        "recon_png": Path(f"{stem}.recon.png"),
    }


def _batch_loss(
    model: MotionVAE2D,
    fields: torch.Tensor,
    masks: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Per-sample VAE loss ``(B,)``; ``generator`` given = training (sampled latent)."""
    grad = displacement_gradient(fields) / model.unit_px
    recon, mu, logvar = model(grad, masks, sample=generator is not None, generator=generator)
    return vae_loss(recon, grad * masks.unsqueeze(1), mu, logvar, model.beta)


def evaluate(model: MotionVAE2D, data: WindowSet, device: torch.device, batch: int = 64) -> float:
    """Mean deterministic (latent mean) loss over all windows of ``data``."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, data.fields.shape[0], batch):
            f = data.fields[start : start + batch].to(device)
            m = data.masks[data.case_index[start : start + batch]].to(device)
            total += float(_batch_loss(model, f, m, None).sum())
    return total / data.fields.shape[0]


def _epoch(
    model: MotionVAE2D,
    opt: torch.optim.Optimizer,
    data: WindowSet,
    cfg: TrainConfig,
    epoch: int,
    device: torch.device,
) -> float:
    """One pass over the training windows with random re-orientations; mean loss."""
    model.train()
    for group in opt.param_groups:
        group["lr"] = learning_rate(cfg, epoch)
    gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    dev_gen = torch.Generator(device=device).manual_seed(cfg.seed * 100_003 + epoch)
    n = data.fields.shape[0]
    order = torch.randperm(n, generator=gen)
    total = 0.0
    for start in range(0, n, cfg.batch_size):
        idx = order[start : start + cfg.batch_size]
        f = data.fields[idx].to(device)
        m = data.masks[data.case_index[idx]].to(device)
        if cfg.augment != "none":
            mats = random_orientations(idx.numel(), gen, cfg.augment == "dihedral")
            shifts = random_shifts(idx.numel(), cfg.max_shift_px, gen)
            f, m = reorient(f, m, mats.to(device), shifts.to(device))
        loss = _batch_loss(model, f, m, dev_gen)
        opt.zero_grad(set_to_none=True)
        loss.mean().backward()
        opt.step()
        total += float(loss.detach().sum())
    return total / n


def _row(epoch: int, train_loss: float, val_loss: float, seconds: float) -> dict[str, float]:
    return {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": seconds}


def _write_curves(paths: dict[str, Path], history: list[dict[str, float]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    write_text(paths["csv"], buf.getvalue())
    from binn.learn.figures import plot_loss_curves

    plot_loss_curves(paths["loss_png"], history)


def train_vae(
    case_paths: list[Path],
    out: Path,
    cfg: TrainConfig,
    device: str = "auto",
    failed_table: Path | None = None,
    resume: bool = True,
) -> TrainResult:
    """Train on the ``ok`` records of ``case_paths``; write the checkpoint ``out`` (.pt) and
    its artefacts (:func:`artefact_paths`). The typed entry of ``binn train-vae``.

    ``device``: ``auto``, ``cpu`` or ``cuda``. Failed records are skipped and listed in
    ``failed_table`` (CSV ``case,reason``; written even when empty). ``resume``: continue
    from the state file beside ``out`` when it belongs to this run (same settings, cases
    and data). Raises :class:`BinnInputError` for bad records, fewer than two usable cases,
    or a state file of a different run (nothing is overwritten then).
    """
    out = Path(out)
    if out.suffix != ".pt":
        raise BinnInputError(out, "the checkpoint must be a .pt file")
    if cfg.image_size % 16 or cfg.epochs < 1 or cfg.batch_size < 1 or cfg.max_norm <= 0:
        raise BinnInputError(None, f"invalid training settings: {cfg}")
    if cfg.lr_schedule not in LR_SCHEDULES:
        raise BinnInputError(
            None, f"lr_schedule must be one of {LR_SCHEDULES}, got {cfg.lr_schedule!r}"
        )
    if cfg.augment not in AUGMENTATIONS:
        raise BinnInputError(None, f"augment must be one of {AUGMENTATIONS}, got {cfg.augment!r}")
    records, failed = read_records(case_paths)
    if not records:
        raise BinnInputError(None, f"no usable (status 'ok') records among {len(case_paths)} files")
    train_names, val_names = split_by_case([r.name for r in records], cfg.val_fraction, cfg.seed)
    by_name = {r.name: r for r in records}
    spacing_mm = records_spacing_mm([by_name[n] for n in train_names + val_names])
    size, dil, fpc = cfg.image_size, cfg.mask_dilation, cfg.frames_per_case
    train = build_windows([by_name[n] for n in train_names], size, dil, fpc)
    val = build_windows([by_name[n] for n in val_names], size, dil, fpc)
    log.info(
        "VAE data: %d train windows (%d cases), %d val windows (%d cases)",
        train.fields.shape[0],
        len(train_names),
        val.fields.shape[0],
        len(val_names),
    )
    paths = artefact_paths(out)
    dev = resolve_device(device)

    torch.manual_seed(cfg.seed)
    model = MotionVAE2D(size, cfg.latent_dim, cfg.nf, cfg.max_norm, cfg.beta, dil).to(dev)
    identity = {
        **cfg.run_identity(),
        "model": model.config(),  # its format too: gradient unit, reconstruction loss
        "train_cases": train_names,
        "val_cases": val_names,
        "data": _digest(train, val),
    }
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    _warn_saturation(train, model)
    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"epoch": 0, "val_loss": float("inf")}
    best_weights: dict[str, torch.Tensor] | None = None
    start_epoch = 1
    state = read_checkpoint_dict(paths["state"]) if resume and paths["state"].is_file() else None
    if state is not None and state.get("identity_hash") != config_hash(identity):
        if out.is_file():
            raise BinnInputError(
                paths["state"],
                "state file belongs to a different training run (settings, cases or their"
                " data differ); delete it or pass --no-resume",
            )
        # no checkpoint to protect (Snakemake deletes a job's outputs before rerunning it)
        log.warning("%s belongs to another training run; training afresh", paths["state"])
        state = None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, best = state["history"], state["best"]
        best_weights = state["best_model"]
        start_epoch = int(state["epoch"]) + 1
        log.info("resuming VAE training after epoch %d", state["epoch"])
    if not history:
        untrained = evaluate(model, val, dev)
        history.append(
            {"epoch": 0, "train_loss": float("nan"), "val_loss": untrained, "seconds": 0.0}
        )
    prov = provenance(asdict(cfg), cfg.seed, train_cases=train_names, val_cases=val_names)

    seen, spent = 0, 0.0
    for epoch in tqdm(
        range(start_epoch, cfg.epochs + 1),
        desc="train VAE",
        unit="epoch",
        initial=start_epoch - 1,
        total=cfg.epochs,
        disable=None,  # a bar on a terminal only, never in log files
    ):
        t0 = time.perf_counter()
        train_loss = _epoch(model, opt, train, cfg, epoch, dev)
        dt = time.perf_counter() - t0
        seen, spent = seen + train.fields.shape[0], spent + dt
        val_loss = evaluate(model, val, dev)
        history.append(
            {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": dt}
        )
        log.info("epoch %d: train %.6g, val %.6g (%.1f s)", epoch, train_loss, val_loss, dt)
        if val_loss < best["val_loss"]:
            best = {"epoch": epoch, "val_loss": val_loss}
            best_weights = _cpu_copy(model.state_dict())
        state = {
            "identity_hash": config_hash(identity),
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "history": history,
            "best": best,
            "best_model": best_weights,
        }
        with atomic_path(paths["state"], suffix=".pt") as tmp:
            torch.save(state, tmp)
    if best_weights is None:  # no finite validation loss in any epoch
        log.warning("no finite validation loss; the checkpoint holds the last weights")
        best = {"epoch": history[-1]["epoch"], "val_loss": float(history[-1]["val_loss"])}
        best_weights = _cpu_copy(model.state_dict())
    best_model = MotionVAE2D(size, cfg.latent_dim, cfg.nf, cfg.max_norm, cfg.beta, dil)
    best_model.load_state_dict(best_weights)
    save_checkpoint(
        out,
        best_model,
        epoch=int(best["epoch"]),
        val_loss=float(best["val_loss"]),
        train_cases=train_names,
        val_cases=val_names,
        spacing_mm=spacing_mm,
        provenance=prov,
    )
    _write_curves(paths, history)
    from binn.learn.figures import plot_reconstruction
    from binn.learn.score import load_vae

    plot_reconstruction(paths["recon_png"], load_vae(out, dev), val)
    if failed_table is not None:
        write_failed_table(failed_table, failed)
    result = TrainResult(
        checkpoint=out,
        best_epoch=int(best["epoch"]),
        best_val_loss=float(best["val_loss"]),
        untrained_val_loss=float(history[0]["val_loss"]),
        history=history,
        train_cases=train_names,
        val_cases=val_names,
        samples_per_second=seen / spent if spent > 0 else float("nan"),
    )
    log.info(
        "best epoch %d: val loss %.6g (untrained %.6g); %.1f samples/s",
        result.best_epoch,
        result.best_val_loss,
        result.untrained_val_loss,
        result.samples_per_second,
    )
    return result


def _digest(*sets: WindowSet) -> str:
    """A digest of the windows' content: a state file of other data is not resumed."""
    digest = hashlib.blake2b(digest_size=16)
    for data in sets:
        for tensor in (data.fields, data.masks, data.case_index):
            digest.update(tensor.contiguous().numpy().data)
    return digest.hexdigest()


def _cpu_copy(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in weights.items()}


def _warn_saturation(data: WindowSet, model: MotionVAE2D, chunk: int = 256) -> None:
    """Log a warning when training gradients reach the tanh output range (``max_norm``)."""
    over, total = 0, 0
    for start in range(0, data.fields.shape[0], chunk):
        grad = displacement_gradient(data.fields[start : start + chunk]) / model.unit_px
        masks = data.masks[data.case_index[start : start + chunk]].unsqueeze(1)
        over += int(((grad * masks).abs() > 0.9 * model.max_norm).sum())
        total += grad.numel()
    if over > 1e-3 * total:
        log.warning(
            "%.2f %% of masked gradients exceed 0.9 max_norm; consider a larger --max-norm",
            100 * over / total,
        )


def write_failed_table(path: Path, failed: list[tuple[str, str]]) -> None:
    """CSV ``case,reason`` of skipped failed simulations (header only when none failed)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["case", "reason"])
    writer.writerows(failed)
    write_text(path, buf.getvalue())
