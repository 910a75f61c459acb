"""``binn bench vae``: train a small VAE on simulated cases, score held-out cases, print numbers.

The cases are real simulations of the ``simulate`` stage (synthetic ES rings -> FEM ->
rasterised fields, ~3 s each on one core) made in a temporary folder, or the records of
``--cases DIR``. A ``held_out_fraction`` of the cases is set aside first (split by case);
the rest go to ``binn train-vae``'s training, which splits them again into train/val and
keeps the best-validation checkpoint. The AUC is measured only on the held-out cases
against their corruptions (``learn.corrupt``), so neither training nor checkpoint
selection has seen them, per corruption for R_VAE and for the control scorer
``||grad u * M||^2`` (``control_auc_per_corruption``), pooled over cases and within each
case (``within_case_*``), and for the hard corruptions adjusted for the gradient energy
(``energy_adjusted_*``: each corrupted field against the plausible fields of any held-out
case within ``energy_match_factor`` of its energy, :func:`learn.evaluate.energy_adjusted_auc`);
``abs_det_j_minus_1`` is the mean
``|det J - 1|`` over the myocardium of the simulated frames and of each corruption
(``mask_swaps``: per swapped pair, on the other mask and on its own, and its within-case AUC;
``*_95ci_per_corruption``: 95 % intervals from resampling the held-out cases);
``r_vae_small_fields`` the mean R_VAE of no motion, of frame 1 and of small compressible
noise (:func:`learn.evaluate.noise_response`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from binn.errors import BinnInputError, ConvergenceError
from binn.io import save_npz
from binn.learn.dataset import CaseRecord, read_records, split_by_case
from binn.learn.evaluate import ENERGY_MATCH_FACTOR, noise_response, separation
from binn.learn.model import DEFAULT_MAX_NORM
from binn.learn.reference import load_reference, place_reference
from binn.learn.score import load_vae, resolve_device
from binn.learn.train import TrainConfig, train_vae
from binn.provenance import provenance
from binn.resample import DEFAULT_SPACING_MM

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reference:
    """An outside simulated field to place among the held-out cases: ``disp`` ``.npy``
    ``(T, 2, H, W)`` px and ``mask`` ``.npy`` ``(H, W)`` on a grid of ``spacing_mm``."""

    disp: Path
    mask: Path
    spacing_mm: float


def simulate_cases(
    folder: Path, n_cases: int, size: int, frames: int, spacing_mm: float = DEFAULT_SPACING_MM
) -> list[Path]:
    """Simulate synthetic seeds ``0..n_cases-1`` on a ``size`` px grid of ``spacing_mm``
    pixels into ``folder`` (failures recorded as such)."""
    from binn.simulate.pipeline import simulate_case, write_result
    from binn.simulate.synthetic import synthetic_ring

    paths = []
    for seed in range(n_cases):
        name = f"synth_{seed:04d}"
        out = folder / f"{name}.npz"
        try:
            ring = synthetic_ring(seed, size, spacing_mm)
            result = simulate_case(ring, name, frames=frames, progress=False)
            cfg = {"bench": "vae", "size": size, "spacing_mm": spacing_mm}
            write_result(result, out, None, cfg, seed)
        except (BinnInputError, ConvergenceError) as exc:
            log.warning("bench case %s failed: %s", name, exc)
            save_npz(out, provenance({}, seed), status="failed", case=name, reason=str(exc))
        paths.append(out)
    return paths


def split_held_out(
    paths: list[Path], fraction: float, seed: int
) -> tuple[list[Path], list[CaseRecord], int]:
    """Set aside ``fraction`` of the usable cases (by case).

    Returns ``(training paths, held-out records, number of failed records)``; failed
    records stay among the training paths, where ``train_vae`` skips them.
    """
    records, failed = read_records(paths)
    _, held_names = split_by_case([r.name for r in records], fraction, seed)
    held_out = [r for r in records if r.name in held_names]
    held_paths = {r.path for r in held_out}
    return [p for p in paths if p not in held_paths], held_out, len(failed)


def bench_vae(
    cases_dir: Path | None = None,
    n_cases: int = 20,
    image_size: int = 64,
    epochs: int = 90,
    frames: int = 20,
    lr: float = 1e-3,
    lr_schedule: str = "cosine",
    batch_size: int = 8,
    seed: int = 0,
    device: str = "cpu",
    held_out_fraction: float = 0.25,
    threads: int = 1,
    beta: float = 1e-4,
    spacing_mm: float = DEFAULT_SPACING_MM,
    reference: Reference | None = None,
) -> dict[str, Any]:
    """Train on the non-held-out cases, return AUC on the held-out ones and throughput.

    Training: ``epochs`` over all frames with Adam at ``lr`` (``lr_schedule``, see
    :func:`learn.train.learning_rate`), minibatches of ``batch_size``
    windows of ``image_size`` px (small batches: more optimiser steps in the same CPU time),
    20 % of the training cases for validation; ``beta`` the KL weight. Simulated cases are
    on ``size`` px of ``spacing_mm``. ``reference``: an outside field placed among the
    held-out cases (:func:`learn.reference.place_reference`; JSON key ``reference``).
    ``train_samples_per_second`` counts training windows (forward + backward) per second.
    ``threads``: torch CPU threads for the run (restored afterwards); batches of 8 small
    windows gain little from more, and oversubscribed cores slow them down many-fold.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _bench(
            cases_dir,
            n_cases,
            image_size,
            epochs,
            frames,
            lr,
            lr_schedule,
            batch_size,
            seed,
            device,
            held_out_fraction,
            beta,
            spacing_mm,
            reference,
        )
    finally:
        torch.set_num_threads(previous)


def _bench(
    cases_dir: Path | None,
    n_cases: int,
    image_size: int,
    epochs: int,
    frames: int,
    lr: float,
    lr_schedule: str,
    batch_size: int,
    seed: int,
    device: str,
    held_out_fraction: float,
    beta: float,
    spacing_mm: float,
    reference: Reference | None,
) -> dict[str, Any]:
    """:func:`bench_vae` with the thread count already set."""
    dev = resolve_device(device)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if cases_dir is not None:
            paths = sorted(Path(cases_dir).glob("*.npz"))
            if not paths:
                raise BinnInputError(cases_dir, "no .npz simulation records in this folder")
            source = str(cases_dir)
        else:
            paths = simulate_cases(Path(tmp), n_cases, image_size, frames, spacing_mm)
            source = (
                f"simulate: synthetic seeds 0-{n_cases - 1}, {frames} frames,"
                f" {image_size} px of {spacing_mm} mm"
            )
        t_sim = time.perf_counter() - t0
        train_paths, held_out, n_failed = split_held_out(paths, held_out_fraction, seed)
        cfg = TrainConfig(
            image_size=image_size,
            epochs=epochs,
            lr=lr,
            lr_schedule=lr_schedule,
            batch_size=batch_size,
            seed=seed,
            val_fraction=0.2,
            max_norm=DEFAULT_MAX_NORM,
            beta=beta,
        )
        t0 = time.perf_counter()
        result = train_vae(train_paths, Path(tmp) / "vae.pt", cfg, str(dev), resume=False)
        t_train = time.perf_counter() - t0
        vae = load_vae(result.checkpoint, dev)
    sep = separation(vae, held_out, seed=seed)
    placed = None
    if reference is not None:
        grid_mm = held_out[0].spacing_mm
        record = load_reference(reference.disp, reference.mask, reference.spacing_mm, grid_mm)
        placed = {
            "source": str(reference.disp),
            "source_spacing_mm": reference.spacing_mm,
            "grid_mm": grid_mm,
            **place_reference(vae, record, held_out).as_dict(),
        }
    return {
        "reference": placed,
        "auc": sep.auc,
        "auc_per_corruption": sep.auc_per_corruption,
        "control_auc_per_corruption": sep.control_auc_per_corruption,
        "within_case_auc_per_corruption": sep.within_case_auc_per_corruption,
        "control_within_case_auc_per_corruption": sep.control_within_case_auc_per_corruption,
        "mask_swaps": sep.mask_swaps,
        "auc_95ci_per_corruption": sep.auc_interval_per_corruption,
        "within_case_auc_95ci_per_corruption": sep.within_case_auc_interval_per_corruption,
        "energy_adjusted_auc_per_corruption": sep.energy_adjusted_auc_per_corruption,
        "control_energy_adjusted_auc_per_corruption": (
            sep.control_energy_adjusted_auc_per_corruption
        ),
        "energy_adjusted_auc_95ci_per_corruption": sep.energy_adjusted_auc_interval_per_corruption,
        "energy_match_factor": ENERGY_MATCH_FACTOR,
        "abs_det_j_minus_1": sep.abs_det_j_minus_1,
        "r_vae_small_fields": noise_response(vae, held_out, seed=seed),
        "train_samples_per_second": result.samples_per_second,
        "device": str(dev),
        "torch_threads": torch.get_num_threads(),
        "cases": source,
        "n_train_cases": len(result.train_cases),
        "n_val_cases": len(result.val_cases),
        "n_held_out_cases": len(held_out),
        "n_failed_cases": n_failed,
        "n_scored_frames": int(sep.plausible.size),
        "image_size": image_size,
        "epochs": epochs,
        "lr": lr,
        "lr_schedule": lr_schedule,
        "batch_size": batch_size,
        "beta": beta,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "untrained_val_loss": result.untrained_val_loss,
        "simulate_seconds": round(t_sim, 2),
        "train_seconds": round(t_train, 2),
    }
