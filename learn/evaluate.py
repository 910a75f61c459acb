"""Does R_VAE rank mechanical fields below corrupted ones? Scores and ROC AUC, with a control.

Every field is scored twice: by R_VAE and by the control scorer ``||grad u * M||^2``
(:func:`learn.score.gradient_energy`, the same dilated band). A corruption that the
control ranks as well as R_VAE says nothing about the learnt prior.

Three AUCs per corruption: pooled over every case's frames; within each case; and adjusted
for the gradient energy (:func:`energy_adjusted_auc`): each corrupted field against the
plausible fields of any case with about its gradient energy. The hard corruptions carry
their source frame's energy, so the adjusted AUC asks the question they were built for
(does the score know more than the field's size?) across cases, where the pooled one also
asks whether a small heart's corrupted field outscores a large heart's plausible one: the
held-out simulations' gradient energies span two orders of magnitude, and R_VAE, a sum
over the band, grows with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from binn.learn import corrupt
from binn.learn.dataset import CaseRecord
from binn.learn.gradients import displacement_gradient
from binn.learn.masks import dilate_mask
from binn.learn.model import MotionVAE2D
from binn.learn.score import gradient_energy, gradient_score


@dataclass(frozen=True)
class Separation:
    """Scores of plausible fields and of each corruption, ROC AUCs, and the control's.

    ``abs_det_j_minus_1``: mean ``|det J - 1|`` over the scored myocardium per class
    (``"simulated"`` and each corruption but ``shuffled_gradients``, which has no field).
    The ``auc`` fields pool every case's frames (a corrupted frame of a case that moves
    little competes with plausible frames of one that moves a lot); ``within_case_*`` is the
    mean over cases of the AUC of each case's corrupted frames against its own plausible
    frames, which removes the case-to-case score level. ``mask_swaps``: one entry per
    ``mask_swapped`` pair, ``{"case", "mask_of", "scale"`` (median over frames of the
    factor that matched the field's gradient energy on the other mask to its own, see
    :func:`learn.corrupt.mask_swapped`), ``"abs_det_j_minus_1"`` (of the scaled field on the
    other mask; ``"original_abs_det_j_minus_1"`` of the field on its own), ``"within_case_auc"}``.
    ``*_interval_per_corruption``: 95 % intervals of the pooled and within-case AUCs from
    resampling the cases with replacement (:func:`case_bootstrap_intervals`), because the
    frames of one case are not independent samples. ``*energy_adjusted*``: the hard
    corruptions' :func:`energy_adjusted_auc` for R_VAE and the control, with the control's
    scores (the gradient energy) as the covariate, and its 95 % interval from the same
    resampling (:func:`energy_adjusted_intervals`).
    """

    plausible: np.ndarray
    corrupted: dict[str, np.ndarray]
    auc: float
    auc_per_corruption: dict[str, float]
    control_plausible: np.ndarray
    control_corrupted: dict[str, np.ndarray]
    control_auc_per_corruption: dict[str, float]
    abs_det_j_minus_1: dict[str, float]
    within_case_auc_per_corruption: dict[str, float]
    control_within_case_auc_per_corruption: dict[str, float]
    mask_swaps: list[dict[str, Any]]
    auc_interval_per_corruption: dict[str, tuple[float, float]]
    within_case_auc_interval_per_corruption: dict[str, tuple[float, float]]
    energy_adjusted_auc_per_corruption: dict[str, float]
    control_energy_adjusted_auc_per_corruption: dict[str, float]
    energy_adjusted_auc_interval_per_corruption: dict[str, tuple[float, float]]


def roc_auc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counting 1/2 (Mann-Whitney U)."""
    neg = np.asarray(negatives, dtype=np.float64)
    pos = np.asarray(positives, dtype=np.float64)
    if neg.size == 0 or pos.size == 0:
        raise ValueError("ROC AUC needs at least one score of each class")
    return float(np.mean(_wins(neg, pos)))


def _wins(neg: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``(positives, negatives)``: 1 where the positive scores above the negative, 1/2 on a
    tie, else 0."""
    return (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])


ENERGY_MATCH_FACTOR = 1.5


def energy_adjusted_auc(
    negatives: np.ndarray,
    negative_energy: np.ndarray,
    positives: np.ndarray,
    positive_energy: np.ndarray,
    factor: float = ENERGY_MATCH_FACTOR,
) -> float:
    """ROC AUC adjusted for gradient energy: the covariate-adjusted AUC of Janes & Pepe
    (2008, placement values), with the energy as the covariate.

    The mean over positives of the fraction of negatives within a ``factor`` of its energy
    (either way) that score below it, ties counting 1/2. A scorer of the energy alone gets
    about 0.5 against energy-matched positives at any spread of energies, where the pooled
    :func:`roc_auc` of a score that grows with the energy is bounded by that spread.
    Energies must be positive, and every positive needs a negative in reach (ValueError).
    """
    neg, pos = np.asarray(negatives, np.float64), np.asarray(positives, np.float64)
    e_neg, e_pos = np.asarray(negative_energy, np.float64), np.asarray(positive_energy, np.float64)
    if neg.shape != e_neg.shape or pos.shape != e_pos.shape or neg.size == 0 or pos.size == 0:
        raise ValueError("need one energy per score and at least one score of each class")
    if np.any(e_neg <= 0) or np.any(e_pos <= 0):
        raise ValueError("gradient energies must be positive")
    near = np.abs(np.log(e_pos)[:, None] - np.log(e_neg)[None, :]) <= np.log(factor)
    reach = near.sum(axis=1)
    if np.any(reach == 0):
        raise ValueError(f"a positive has no negative within a factor {factor} of its energy")
    return float(np.mean((_wins(neg, pos) * near).sum(axis=1) / reach))


def score_gradients(
    vae: MotionVAE2D, grads: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """R_VAE and control scores ``(T,)`` of gradients ``(T, 4, H, W)`` px/px on one mask."""
    dev = next(vae.parameters()).device
    g = torch.from_numpy(np.ascontiguousarray(grads, dtype=np.float32)).to(dev)
    m = torch.from_numpy(mask).to(dev).expand(g.shape[0], *mask.shape)
    with torch.no_grad():
        ours = gradient_score(vae, g, m).cpu().numpy()
        control = gradient_energy(g, m, vae.mask_dilation).cpu().numpy()
    return ours, control


def _field_corruptions(
    fields: np.ndarray, mask: np.ndarray, band: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The corrupted ``(T, 2, H, W)`` fields of one case that keep its mask."""
    return {
        "smooth_random": np.stack([corrupt.smooth_random(f, mask, rng) for f in fields]),
        "folded": np.stack([corrupt.folded(f, mask, rng) for f in fields]),
        "compressible": np.stack([corrupt.compressible(f, band, rng) for f in fields]),
        "strain_reversed": corrupt.strain_reversed(fields),
    }


def first_scored_frame(record: CaseRecord, min_frame_fraction: float) -> int:
    """The first frame scored of a record: ``min_frame_fraction`` of the way to its last
    frame (ES), and never frame 0 (no motion)."""
    return max(1, int(np.ceil(min_frame_fraction * (record.disp.shape[0] - 1))))


def separation(
    vae: MotionVAE2D,
    records: Sequence[CaseRecord],
    seed: int = 0,
    min_frame_fraction: float = 0.5,
) -> Separation:
    """Score held-out ``records`` and their corruptions (one of each per frame).

    Frames from ``min_frame_fraction`` of the cycle to ES are used (earlier frames have
    almost no motion, so "equal magnitude" corruptions would be nearly zero too).
    ``mask_swapped`` pairs record ``i``'s frames with record ``i + 1``'s mask (cyclically);
    it is left out with fewer than two records or grids of different sizes.
    """
    rng = np.random.default_rng(seed)
    names = list(corrupt.CORRUPTIONS)
    swap = len(records) > 1 and len({r.mask.shape for r in records}) == 1
    if not swap:
        names.remove("mask_swapped")
    ours: dict[str, list[np.ndarray]] = {k: [] for k in ["simulated", *names]}
    control: dict[str, list[np.ndarray]] = {k: [] for k in ours}
    det: dict[str, list[float]] = {k: [] for k in ours if k != "shuffled_gradients"}

    def add(name: str, fields: np.ndarray, mask: np.ndarray) -> None:
        s, c = score_gradients(vae, displacement_gradient(fields), mask)
        ours[name].append(s)
        control[name].append(c)
        det[name] += [corrupt.mean_abs_det_j_minus_1(f, mask) for f in fields]

    bands = [dilate_mask(torch.from_numpy(r.mask), vae.mask_dilation).numpy() > 0 for r in records]
    swaps: list[dict[str, Any]] = []
    for i, rec in enumerate(records):
        fields, mask = rec.disp[first_scored_frame(rec, min_frame_fraction) :], rec.mask
        band = bands[i]
        add("simulated", fields, mask)
        for name, bad in _field_corruptions(fields, mask, band, rng).items():
            add(name, bad, mask)
        if swap:
            j = (i + 1) % len(records)
            swapped = np.stack([corrupt.mask_swapped(f, band, bands[j]) for f in fields])
            add("mask_swapped", swapped, records[j].mask)
            n = len(fields)
            swaps.append(
                {
                    "case": rec.name,
                    "mask_of": records[j].name,
                    "scale": float(np.median(_norms(swapped) / np.maximum(_norms(fields), 1e-30))),
                    "abs_det_j_minus_1": float(np.mean(det["mask_swapped"][-n:])),
                    "original_abs_det_j_minus_1": float(np.mean(det["simulated"][-n:])),
                }
            )
        grads = displacement_gradient(fields)
        shuffled = np.stack([corrupt.shuffled_gradients(g, mask, rng) for g in grads])
        s, c = score_gradients(vae, shuffled, mask)
        ours["shuffled_gradients"].append(s)
        control["shuffled_gradients"].append(c)
    per_case = _per_case_auc(ours)
    within = {k: float(np.mean(v)) for k, v in per_case.items()}
    control_within = _within_case_auc(control)
    for entry, auc in zip(swaps, per_case.get("mask_swapped", []), strict=True):
        entry["within_case_auc"] = float(auc)
    pooled_interval, within_interval = case_bootstrap_intervals(ours, seed=seed)
    hard = [k for k in corrupt.HARD_CORRUPTIONS if k in names]
    adjusted_interval = energy_adjusted_intervals(ours, control, hard, seed=seed)
    scores = {k: np.concatenate(v) for k, v in ours.items()}
    controls = {k: np.concatenate(v) for k, v in control.items()}
    ok, ok_control = scores.pop("simulated"), controls.pop("simulated")

    def adjusted(scored: dict[str, np.ndarray], plausible: np.ndarray) -> dict[str, float]:
        return {k: energy_adjusted_auc(plausible, ok_control, scored[k], controls[k]) for k in hard}

    return Separation(
        plausible=ok,
        corrupted=scores,
        auc=roc_auc(ok, np.concatenate(list(scores.values()))),
        auc_per_corruption={k: roc_auc(ok, v) for k, v in scores.items()},
        control_plausible=ok_control,
        control_corrupted=controls,
        control_auc_per_corruption={k: roc_auc(ok_control, v) for k, v in controls.items()},
        abs_det_j_minus_1={k: float(np.mean(v)) for k, v in det.items()},
        within_case_auc_per_corruption=within,
        control_within_case_auc_per_corruption=control_within,
        mask_swaps=swaps,
        auc_interval_per_corruption=pooled_interval,
        within_case_auc_interval_per_corruption=within_interval,
        energy_adjusted_auc_per_corruption=adjusted(scores, ok),
        control_energy_adjusted_auc_per_corruption=adjusted(controls, ok_control),
        energy_adjusted_auc_interval_per_corruption=adjusted_interval,
    )


def case_bootstrap_intervals(
    scores: dict[str, list[np.ndarray]], n_resamples: int = 1000, seed: int = 0
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """95 % percentile intervals of each corruption's pooled and within-case AUC.

    ``scores[name][i]`` holds case ``i``'s scores of class ``name`` (``"simulated"`` the
    plausible ones). Each of ``n_resamples`` resamples draws as many cases as there are,
    with replacement, and recomputes both AUCs over the drawn cases' frames. Returns
    ``(pooled, within_case)``, each ``{corruption: (low, high)}``.
    """
    plausible = scores["simulated"]
    n = len(plausible)
    draws = _case_draws(n, n_resamples, seed)
    pooled: dict[str, tuple[float, float]] = {}
    within: dict[str, tuple[float, float]] = {}
    for name, per_case in _per_case_auc(scores).items():
        bad = scores[name]
        pooled_draws = [
            roc_auc(np.concatenate([plausible[i] for i in d]), np.concatenate([bad[i] for i in d]))
            for d in draws
        ]
        pooled[name] = _percentile_interval(pooled_draws)
        within[name] = _percentile_interval(per_case[draws].mean(axis=1))
    return pooled, within


def energy_adjusted_intervals(
    scores: dict[str, list[np.ndarray]],
    energies: dict[str, list[np.ndarray]],
    names: Sequence[str],
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """95 % percentile intervals of :func:`energy_adjusted_auc` for each of ``names``.

    ``scores[name][i]`` and ``energies[name][i]``: case ``i``'s scores and gradient
    energies of class ``name`` (``"simulated"`` the plausible ones). The resamples are
    those of :func:`case_bootstrap_intervals` with the same ``seed``.
    """
    n = len(scores["simulated"])
    draws = _case_draws(n, n_resamples, seed)

    def drawn(per_case: list[np.ndarray], d: np.ndarray) -> np.ndarray:
        return np.concatenate([per_case[i] for i in d])

    return {
        name: _percentile_interval(
            [
                energy_adjusted_auc(
                    drawn(scores["simulated"], d),
                    drawn(energies["simulated"], d),
                    drawn(scores[name], d),
                    drawn(energies[name], d),
                )
                for d in draws
            ]
        )
        for name in names
    }


def _case_draws(n_cases: int, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, n_cases)`` case indices drawn with replacement (seeded)."""
    return np.random.default_rng(seed).integers(0, n_cases, size=(n_resamples, n_cases))


def _percentile_interval(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(np.asarray(values, dtype=np.float64), [2.5, 97.5])
    return float(low), float(high)


def _norms(fields: np.ndarray) -> np.ndarray:
    """``(T,)`` Euclidean norms of ``(T, 2, H, W)`` fields."""
    return np.sqrt(np.sum(fields.astype(np.float64) ** 2, axis=(1, 2, 3)))


def _per_case_auc(scores: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """``(cases,)`` ``roc_auc(case's plausible scores, case's corrupted scores)`` per
    corruption; ``scores[name][i]`` holds case ``i``'s scores of class ``name``."""
    plausible = scores["simulated"]
    return {
        name: np.array([roc_auc(ok, bad) for ok, bad in zip(plausible, v, strict=True)])
        for name, v in scores.items()
        if name != "simulated"
    }


def _within_case_auc(scores: dict[str, list[np.ndarray]]) -> dict[str, float]:
    """Mean over cases of :func:`_per_case_auc`."""
    return {name: float(np.mean(v)) for name, v in _per_case_auc(scores).items()}


def noise_response(
    vae: MotionVAE2D, records: Sequence[CaseRecord], seed: int = 0, per_case: int = 4
) -> dict[str, float]:
    """Mean R_VAE of no motion, of small compressible noise and of each case's first frame.

    The noise is :func:`learn.corrupt.compressible_noise` (``|u| <= 0.45`` px, mean
    ``|det J - 1|`` ~ 0.1), ``per_case`` draws on each record's mask; ``first_frame`` is
    frame 1, where the simulated heart has barely moved. A prior that keeps volume where
    nothing moves scores the noise far above both.
    """
    rng = np.random.default_rng(seed)
    zero, noise, first, det = [], [], [], []
    for rec in records:
        fields = [corrupt.compressible_noise(rec.mask.shape, rng) for _ in range(per_case)]
        det += [corrupt.mean_abs_det_j_minus_1(f, rec.mask) for f in fields]
        frame1 = rec.disp[min(1, rec.disp.shape[0] - 1)]
        stack = np.stack([np.zeros_like(fields[0]), frame1, *fields])
        s, _ = score_gradients(vae, displacement_gradient(stack), rec.mask)
        zero.append(s[0])
        first.append(s[1])
        noise += s[2:].tolist()
    return {
        "zero": float(np.mean(zero)),
        "first_frame": float(np.mean(first)),
        "noise": float(np.mean(noise)),
        "noise_std": float(np.std(noise)),
        "noise_n": len(noise),
        "noise_abs_det_j_minus_1": float(np.mean(det)),
    }
