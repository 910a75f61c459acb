"""``binn bench register``: runtime per pair and held-out phantom accuracy of the 4 methods.

One run: phantom subjects are generated (training, validation and held-out test seeds that
never overlap), the two networks are trained (or reused from ``--work-dir``), then every
method tracks every test sequence (all frames; networks batch the frames of a sequence,
classical methods go pair by pair) at its comparison setting. Reported: ``ms_per_pair``,
and per method Dice / MCD (mm) of the ES myocardium warped to ED, mean |det J - 1| on the ED
myocardium at ES, and the end-point error (mm) against the ground-truth motion over all
frames; ``none`` is no registration.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from analysis.metrics import end_point_error_mm
from register.evaluate_pair import LEVELS, score_pair_stack
from register.track import Registrar, track_sequence
from register.train import TrainConfig, train_registration

log = logging.getLogger(__name__)

TEST_SEED_OFFSET = 100_000  # held-out seeds: never used for training or validation
VAL_SEED_OFFSET = 50_000


def phantoms(seeds: list[int], frames: int, slices: int, size: int) -> list[Any]:
    """Phantom subjects of the given seeds."""
    from register.data.phantom import make_phantom

    return [make_phantom(s, frames=frames, slices=slices, size=size) for s in seeds]


def score_subject(subject: Any, fields: np.ndarray, frames: np.ndarray) -> dict[str, float]:
    """Accuracy of tracked ``fields (T', Z, 2, H, W)`` on one phantom subject (see module)."""
    es_pos = int(np.flatnonzero(frames == subject.es_index)[0])
    slices, _, _ = score_pair_stack(
        fields[es_pos], subject.labels_ed, subject.labels_es, np.asarray(subject.spacing)[1:]
    )
    ok = [s for s in slices if s["evaluable"]]
    myo = subject.labels_ed == 2
    epe = []
    for i, t in enumerate(frames):
        if t == 0:
            continue
        for z in range(fields.shape[1]):
            if myo[z].any():
                epe.append(
                    end_point_error_mm(
                        fields[i, z], subject.motion[t, z], myo[z], np.asarray(subject.spacing)[1:]
                    )
                )
    return {
        "dice": float(np.mean([s["dice"] for s in ok])),
        "mcd_mm": float(np.nanmean([s["mcd_mm"] for s in ok])),
        "abs_det_j_minus_1": float(np.mean([s["abs_det_j_minus_1"] for s in ok])),
        "epe_mm": float(np.mean(epe)),
        "dice_before": float(np.mean([s["dice_before"] for s in ok])),
    }


def bench_register(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark described in the module docstring; returns the JSON object."""
    torch.manual_seed(args.seed)
    size = args.size
    vae_path = args.vae
    if vae_path is not None:
        from learn.score import load_vae

        size = load_vae(vae_path).image_size
    train_seeds = [args.seed + i for i in range(args.train_subjects)]
    val_seeds = [VAL_SEED_OFFSET + args.seed + i for i in range(max(1, args.train_subjects // 4))]
    test_seeds = [TEST_SEED_OFFSET + args.seed + i for i in range(args.test_subjects)]
    dims = (args.frames, args.slices, size)
    train, val, test = (phantoms(s, *dims) for s in (train_seeds, val_seeds, test_seeds))
    with tempfile.TemporaryDirectory(prefix="bench-reg-") as tmp:
        return _bench(
            args,
            train,
            val,
            test,
            Path(args.work_dir or tmp),
            vae_path,
            size,
            {
                "size": size,
                "frames": args.frames,
                "slices": args.slices,
                "train_seeds": train_seeds,
                "val_seeds": val_seeds,
                "test_seeds": test_seeds,
            },
        )


def _bench(
    args: argparse.Namespace,
    train: list,
    val: list,
    test: list,
    work: Path,
    vae_path: Path | None,
    size: int,
    phantom: dict[str, Any],
) -> dict[str, Any]:
    base = dict(
        width=args.width,
        steps=args.steps,
        batch_size=8,
        lr=args.lr,
        val_every=max(args.steps // 10, 1),
        seed=args.seed,
        device=args.device,
    )
    settings = {"l2": TrainConfig(method="l2", lam=args.lam, **base)}
    if vae_path is not None:
        settings["binn"] = TrainConfig(method="binn", alpha=args.alpha, **base)
    registrars: dict[str, Registrar] = {}
    train_info: dict[str, Any] = {}
    for method, cfg in settings.items():
        out = work / f"{method}_{cfg.setting()}_w{args.width:g}_s{size}.pt"
        start = time.perf_counter()
        res = train_registration(train, val, cfg, out, vae_path=vae_path)
        train_info[method] = {**res, "seconds": time.perf_counter() - start}
        registrars[method] = Registrar(
            method, model=out, image_size=size, batch_size=args.batch_size, device=args.device
        )
    registrars["demons"] = Registrar("demons", {"iterations": 200, "sigma": args.demons_sigma})
    registrars["ffd"] = Registrar("ffd", {"grid": args.ffd_grid, "penalty": args.ffd_penalty})

    ms: dict[str, float | None] = {m: None for m in ("binn", "l2", "demons", "ffd")}
    accuracy: dict[str, Any] = {}
    for method, reg in registrars.items():
        seconds, pairs, scores = 0.0, 0, []
        for subject in test:
            r = track_sequence(subject.images, reg, "all")
            seconds += r["seconds"]
            pairs += (len(r["frames"]) - 1) * subject.images.shape[1]
            scores.append(score_subject(subject, r["fields"], r["frames"]))
        ms[method] = 1000.0 * seconds / pairs
        accuracy[method] = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
        accuracy[method]["setting"] = reg.setting
        log.info("%s: %.1f ms per pair, %s", method, ms[method], accuracy[method])
    zero = [score_subject(s, np.zeros_like(s.motion), np.arange(s.images.shape[0])) for s in test]
    accuracy["none"] = {k: float(np.mean([s[k] for s in zero])) for k in zero[0]}
    return {
        "ms_per_pair": ms,
        "accuracy": accuracy,
        "speedup_vs_demons": {m: ms["demons"] / ms[m] for m in ("binn", "l2") if ms[m]},
        "binn_missing_reason": None if vae_path else "no --vae given (binn needs a trained VAE)",
        "training": train_info,
        "phantom": phantom,
        "width": args.width,
        "device": str(registrars["l2"].device),
        "torch_threads": torch.get_num_threads(),
        "levels": list(LEVELS),
    }
