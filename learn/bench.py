"""``binn bench vae``: train a small VAE on simulated cases, score held-out cases, print numbers.

The cases are real simulations of the ``simulate`` stage (synthetic ES rings -> FEM ->
rasterised fields, ~10 s each on one core) made in a temporary folder, or the records of
``--cases DIR``. They are split by case into train/val exactly as ``binn train-vae`` does;
the AUC is measured on the val cases against their corruptions (``learn.corrupt``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from binn.errors import BinnInputError, ConvergenceError
from binn.io import save_npz
from binn.provenance import provenance
from learn.dataset import read_records
from learn.evaluate import separation
from learn.score import load_vae, resolve_device
from learn.train import TrainConfig, train_vae

log = logging.getLogger(__name__)


def simulate_cases(folder: Path, n_cases: int, size: int, frames: int) -> list[Path]:
    """Simulate synthetic seeds ``0..n_cases-1`` into ``folder`` (failures recorded as such)."""
    from simulate.pipeline import simulate_case, write_result
    from simulate.synthetic import synthetic_ring

    paths = []
    for seed in range(n_cases):
        name = f"synth_{seed:04d}"
        out = folder / f"{name}.npz"
        try:
            ring = synthetic_ring(seed, size)
            result = simulate_case(ring, name, frames=frames, progress=False)
            write_result(result, out, None, {"bench": "vae", "size": size}, seed)
        except (BinnInputError, ConvergenceError) as exc:
            log.warning("bench case %s failed: %s", name, exc)
            save_npz(out, provenance({}, seed), status="failed", case=name, reason=str(exc))
        paths.append(out)
    return paths


def bench_vae(
    cases_dir: Path | None = None,
    n_cases: int = 10,
    image_size: int = 64,
    epochs: int = 30,
    frames: int = 20,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train on the train split, return AUC on the val split and training throughput."""
    dev = resolve_device(device)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if cases_dir is not None:
            paths = sorted(Path(cases_dir).glob("*.npz"))
            if not paths:
                raise BinnInputError(cases_dir, "no .npz simulation records in this folder")
            source = str(cases_dir)
        else:
            paths = simulate_cases(Path(tmp), n_cases, image_size, frames)
            source = f"simulate: synthetic seeds 0-{n_cases - 1}, {frames} frames, {image_size} px"
        t_sim = time.perf_counter() - t0
        cfg = TrainConfig(image_size=image_size, epochs=epochs, lr=lr, seed=seed, val_fraction=0.25)
        t0 = time.perf_counter()
        result = train_vae(paths, Path(tmp) / "vae.pt", cfg, str(dev), resume=False)
        t_train = time.perf_counter() - t0
        vae = load_vae(result.checkpoint, dev)
        records, failed = read_records(paths)
    held_out = [r for r in records if r.name in result.val_cases]
    sep = separation(vae, held_out, seed=seed)
    return {
        "auc": sep.auc,
        "auc_per_corruption": sep.auc_per_corruption,
        "train_samples_per_second": result.samples_per_second,
        "device": str(dev),
        "torch_threads": torch.get_num_threads(),
        "cases": source,
        "n_train_cases": len(result.train_cases),
        "n_val_cases": len(result.val_cases),
        "n_failed_cases": len(failed),
        "n_scored_frames": int(sep.plausible.size),
        "image_size": image_size,
        "epochs": epochs,
        "lr": lr,
        "best_val_loss": result.best_val_loss,
        "untrained_val_loss": result.untrained_val_loss,
        "simulate_seconds": round(t_sim, 2),
        "train_seconds": round(t_train, 2),
    }
