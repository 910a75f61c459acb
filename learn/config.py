"""The settings of the learn stage, each default held once: the VAE training
(:class:`TrainConfig`, ``binn train-vae`` and config/schema.yaml's ``vae`` block) and the
VAE benchmark (:class:`VaeBench`, ``binn bench vae``).

Kept light (no torch): the command line reads its defaults here, so ``binn --help`` is fast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from binn.resample import DEFAULT_SIZE_PX, DEFAULT_SPACING_MM

LR_SCHEDULES = ("cosine", "constant")
"""Adam's learning rate over the epochs: annealed to 0 on a half cosine, or constant."""

AUGMENTATIONS = ("rigid", "dihedral", "none")
"""Random re-orientations of the training windows: any angle + flips, quarter turns + flips,
or none."""

GRADIENT_UNIT_PX = 48.0
"""The fixed displacement unit (px) the VAE's gradient inputs are divided by (the authors'
48 px window), so that R_VAE does not depend on the window size."""

DEFAULT_MAX_NORM = 1.0 / GRADIENT_UNIT_PX
"""Input scale in model units: 1 px/px (the authors' 0.1 is 4.8 px/px)."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one VAE training run (:meth:`run_identity`: what a resumed run
    must share). The defaults are the workflow's (CPU-sized; the paper's: 96 px, lr 1e-4).

    ``image_size``: window H = W (px, a multiple of 16); ``latent_dim``: latent dimension;
    ``nf``: width of the first convolution; ``beta``: KL weight; ``max_norm``: input scale
    (model units); ``lr``: Adam's (peak) learning rate over ``epochs`` epochs of minibatches
    of ``batch_size`` windows; ``mask_dilation``: dilation of the ED mask (px);
    ``val_fraction``: fraction of the cases for validation; ``frames_per_case``: frames
    subsampled per case (None: all); ``max_shift_px``: random shift of the augmentation;
    ``augment``: one of :data:`AUGMENTATIONS`; ``lr_schedule``: one of :data:`LR_SCHEDULES`.
    """

    image_size: int = DEFAULT_SIZE_PX
    latent_dim: int = 32
    nf: int = 32
    beta: float = 1e-5
    max_norm: float = DEFAULT_MAX_NORM
    lr: float = 1e-3
    batch_size: int = 32
    epochs: int = 30
    mask_dilation: int = 3
    val_fraction: float = 0.25
    frames_per_case: int | None = None
    max_shift_px: int = 3
    augment: str = AUGMENTATIONS[0]
    lr_schedule: str = LR_SCHEDULES[0]
    seed: int = 0

    def run_identity(self) -> dict[str, Any]:
        """The fields that must match to resume a run: all, and ``epochs`` only where the
        learning rate depends on it (a constant-rate run may be resumed to train longer)."""
        d = asdict(self)
        if self.lr_schedule == "constant":
            d.pop("epochs")
        return d


@dataclass(frozen=True)
class VaeBench:
    """What ``binn bench vae`` adds to a training run.

    ``n_cases`` synthetic seeds ``0..n_cases-1`` simulated with ``frames`` frames on
    ``size`` px (the training's ``image_size``) of ``spacing_mm`` mm, unless a folder of
    records is given; ``held_out_fraction`` of the cases set aside (by case) for the AUC;
    ``threads``: torch CPU threads; ``device``: one of ``auto|cpu|cuda``.
    """

    n_cases: int = 20
    frames: int = 20
    spacing_mm: float = DEFAULT_SPACING_MM
    held_out_fraction: float = 0.25
    threads: int = 1
    device: str = "cpu"


VAE_BENCH_TRAINING = replace(TrainConfig(), epochs=90, batch_size=8, val_fraction=0.2)
"""The training of ``binn bench vae``: ``binn train-vae``'s but for smaller minibatches (more
optimiser steps in its short CPU run), 90 epochs (chosen over 30 and 150 on 49 other
simulated cases, seeds 40-89) and 20 % of the training cases for validation."""
