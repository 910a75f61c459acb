"""Test-time adaptation: the network fine-tuned on the cine it is about to track.

Before it tracks a subject, a copy of the network takes ``steps`` Adam steps on that
subject's own (frame t -> ED, every slice) pairs under the objective it was trained with
(:func:`register.train.registration_loss`: image MSE plus the training weight times R_VAE
over the ED myocardium for ``binn``, ``||grad u||^2`` for ``l2``). It needs nothing that
tracking does not have (the images, and for ``binn`` the ED myocardium that R_VAE scores),
no label of any other frame, and closes most of the gap between a network trained on
synthetic cine and the real images it meets (``docs/shipped.md``): test-time training of
the network, where refinement (:mod:`register.refine`) optimises each field alone.

Deterministic: the batches are drawn from a seeded generator and the copy starts from the
given weights, so on the CPU two runs agree bit for bit; every subject starts afresh.
"""

from __future__ import annotations

import copy
import dataclasses
import logging

import numpy as np
import torch
from torch import nn

from binn.errors import BinnInputError
from binn.register.config import TrainConfig
from binn.register.network import RegistrationNet
from binn.register.train import PairSet, optimisation_step, resolve_precision
from binn.vocabulary import MYOCARDIUM, get_method

log = logging.getLogger(__name__)

ADAPT_LR = TrainConfig.lr
"""Adam learning rate of the adaptation: the training one of the shipped networks."""
ADAPT_BATCH = TrainConfig.batch_size
"""Pairs per adaptation step (drawn with replacement from the subject's pairs)."""


@dataclasses.dataclass(frozen=True)
class _Cine:
    """The part of a cine subject :class:`register.train.PairSet` reads."""

    images: np.ndarray  # (T, Z, H, W) float32 in [0, 1]
    labels_ed: np.ndarray  # (Z, H, W) uint8, MYOCARDIUM on the ED myocardium
    es_index: int = 0


def adapt_network(
    net: RegistrationNet,
    images: np.ndarray,
    myo: np.ndarray | None,
    method: str,
    weight: float,
    vae: nn.Module | None,
    steps: int,
    device: torch.device,
    seed: int = 0,
) -> RegistrationNet:
    """A copy of ``net`` fine-tuned ``steps`` steps on the pairs of ``images (T, Z, H, W)``
    (T >= 2, frame 0 = ED) under ``method``'s training objective with training ``weight``
    (``alpha`` with the frozen ``vae`` for binn, ``lam`` for l2), R_VAE over the ED
    myocardium ``myo (Z, H, W)`` bool (needed for binn). ``net`` is left unchanged; the copy
    is returned in eval mode on ``device`` (its batch-norm statistics are the subject's).
    Steps run under bfloat16 autocast where the device has it natively, as training does."""
    spec = get_method(method)
    if steps < 0:
        raise BinnInputError(None, f"adapt={steps}: the number of steps must be >= 0")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[0] < 2:
        raise BinnInputError(None, f"adaptation needs a cine (T>=2, Z, H, W), got {images.shape}")
    if myo is None:
        if spec.needs_vae:
            raise BinnInputError(None, f"adapting {method} needs the ED myocardium (R_VAE)")
        myo = np.zeros(images.shape[1:], dtype=bool)
    if np.shape(myo) != images.shape[1:]:
        raise BinnInputError(
            None, f"ED myocardium {np.shape(myo)} does not match the cine's slices {images.shape}"
        )
    labels = np.where(np.asarray(myo, dtype=bool), MYOCARDIUM, 0).astype(np.uint8)
    pairs = PairSet([_Cine(images, labels)])
    cfg = TrainConfig(method=method, batch_size=ADAPT_BATCH, **{str(spec.weight): float(weight)})
    mixed = resolve_precision("auto", device) == "bfloat16"
    adapted = copy.deepcopy(net).to(device).train()
    optimiser = torch.optim.Adam(adapted.parameters(), lr=ADAPT_LR)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        optimisation_step(adapted, optimiser, pairs, rng, cfg, vae, device, mixed)
    return adapted.eval()
