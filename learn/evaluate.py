"""Does R_VAE rank mechanical fields below corrupted ones? Scores and ROC AUC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from learn.corrupt import folded, shuffled_gradients, smooth_random
from learn.dataset import CaseRecord
from learn.gradients import displacement_gradient
from learn.model import MotionVAE2D
from learn.score import gradient_score, r_vae


@dataclass(frozen=True)
class Separation:
    """Scores of plausible fields and of each corruption, and the pooled ROC AUC."""

    plausible: np.ndarray
    corrupted: dict[str, np.ndarray]
    auc: float
    auc_per_corruption: dict[str, float]


def roc_auc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counting 1/2 (Mann-Whitney U)."""
    neg = np.asarray(negatives, dtype=np.float64)
    pos = np.asarray(positives, dtype=np.float64)
    if neg.size == 0 or pos.size == 0:
        raise ValueError("ROC AUC needs at least one score of each class")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def _score_fields(vae: MotionVAE2D, fields: np.ndarray, mask: np.ndarray) -> np.ndarray:
    dev = next(vae.parameters()).device
    f = torch.from_numpy(np.ascontiguousarray(fields, dtype=np.float32)).to(dev)
    m = torch.from_numpy(mask).to(dev).expand(f.shape[0], *mask.shape)
    with torch.no_grad():
        return r_vae(vae, f, m).cpu().numpy()


def separation(
    vae: MotionVAE2D,
    records: Sequence[CaseRecord],
    seed: int = 0,
    min_frame_fraction: float = 0.5,
) -> Separation:
    """Score held-out ``records`` and their corruptions (one of each per frame).

    Frames from ``min_frame_fraction`` of the cycle to ES are used (earlier frames have
    almost no motion, so "equal magnitude" corruptions would be nearly zero too).
    """
    rng = np.random.default_rng(seed)
    plausible: list[np.ndarray] = []
    bad: dict[str, list[np.ndarray]] = {"smooth_random": [], "folded": [], "shuffled_gradients": []}
    dev = next(vae.parameters()).device
    for rec in records:
        t0 = max(1, int(np.ceil(min_frame_fraction * (rec.disp.shape[0] - 1))))
        fields = rec.disp[t0:]
        mask = rec.mask
        plausible.append(_score_fields(vae, fields, mask))
        bad["smooth_random"].append(
            _score_fields(vae, np.stack([smooth_random(f, mask, rng) for f in fields]), mask)
        )
        bad["folded"].append(
            _score_fields(vae, np.stack([folded(f, mask, rng) for f in fields]), mask)
        )
        grads = displacement_gradient(fields)
        shuffled = np.stack([shuffled_gradients(g, mask, rng) for g in grads])
        with torch.no_grad():
            g = torch.from_numpy(shuffled).to(dev)
            m = torch.from_numpy(mask).to(dev).expand(g.shape[0], *mask.shape)
            bad["shuffled_gradients"].append(gradient_score(vae, g, m).cpu().numpy())
    ok = np.concatenate(plausible)
    corrupted = {k: np.concatenate(v) for k, v in bad.items()}
    return Separation(
        plausible=ok,
        corrupted=corrupted,
        auc=roc_auc(ok, np.concatenate(list(corrupted.values()))),
        auc_per_corruption={k: roc_auc(ok, v) for k, v in corrupted.items()},
    )
