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
from binn.learn.config import VAE_BENCH_TRAINING, TrainConfig, VaeBench
from binn.learn.dataset import CaseRecord, read_records, split_by_case
from binn.learn.evaluate import ENERGY_MATCH_FACTOR, noise_response, separation
from binn.learn.reference import load_reference, place_reference
from binn.learn.score import load_vae, resolve_device
from binn.learn.train import train_vae
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
    pixels with ``frames`` frames (the other settings: ``binn simulate``'s) into ``folder``
    (failures recorded as such)."""
    from binn.simulate.config import SimulationSettings
    from binn.simulate.pipeline import simulate_case, write_result
    from binn.simulate.synthetic import synthetic_ring

    settings = SimulationSettings(frames=frames)
    paths = []
    for seed in range(n_cases):
        name = f"synth_{seed:04d}"
        out = folder / f"{name}.npz"
        try:
            ring = synthetic_ring(seed, size, spacing_mm)
            result = simulate_case(ring, name, settings, progress=False)
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
    training: TrainConfig = VAE_BENCH_TRAINING,
    bench: VaeBench | None = None,
    cases_dir: Path | None = None,
    reference: Reference | None = None,
) -> dict[str, Any]:
    """Train on the non-held-out cases, return AUC on the held-out ones and throughput.

    ``training``: the VAE training (:func:`learn.train.train_vae`) of the cases left after
    ``bench.held_out_fraction`` is set aside; its ``image_size`` is also the simulation grid
    (``bench.spacing_mm`` mm per px) and its ``seed`` seeds the split and the scoring.
    ``bench`` (None: :class:`VaeBench`'s defaults): the cases to simulate, the device and
    the torch CPU threads for the run (restored afterwards; batches of 8 small windows gain
    little from more, and oversubscribed cores slow them down many-fold). ``cases_dir``: a
    folder of simulation records to use instead of simulating. ``reference``: an outside
    field placed among the held-out cases (:func:`learn.reference.place_reference`; JSON key
    ``reference``). ``train_samples_per_second`` counts training windows (forward +
    backward) per second.
    """
    bench = bench or VaeBench()
    previous = torch.get_num_threads()
    torch.set_num_threads(bench.threads)
    try:
        return _bench(training, bench, cases_dir, reference)
    finally:
        torch.set_num_threads(previous)


def _bench(
    training: TrainConfig,
    bench: VaeBench,
    cases_dir: Path | None,
    reference: Reference | None,
) -> dict[str, Any]:
    """:func:`bench_vae` with the thread count already set."""
    dev = resolve_device(bench.device)
    size, seed = training.image_size, training.seed
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if cases_dir is not None:
            paths = sorted(Path(cases_dir).glob("*.npz"))
            if not paths:
                raise BinnInputError(cases_dir, "no .npz simulation records in this folder")
            source = str(cases_dir)
        else:
            paths = simulate_cases(Path(tmp), bench.n_cases, size, bench.frames, bench.spacing_mm)
            source = (
                f"simulate: synthetic seeds 0-{bench.n_cases - 1}, {bench.frames} frames,"
                f" {size} px of {bench.spacing_mm} mm"
            )
        t_sim = time.perf_counter() - t0
        train_paths, held_out, n_failed = split_held_out(paths, bench.held_out_fraction, seed)
        t0 = time.perf_counter()
        result = train_vae(train_paths, Path(tmp) / "vae.pt", training, str(dev), resume=False)
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
        "image_size": size,
        "epochs": training.epochs,
        "lr": training.lr,
        "lr_schedule": training.lr_schedule,
        "batch_size": training.batch_size,
        "beta": training.beta,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "untrained_val_loss": result.untrained_val_loss,
        "simulate_seconds": round(t_sim, 2),
        "train_seconds": round(t_train, 2),
    }
