"""``binn bench strain``: AHA segmental strain of tracked phantoms against their ground truth.

Held-out phantoms (:func:`binn.register.data.phantom.make_phantom`, seeds from
``TEST_SEED_OFFSET``) are tracked with each method (demons and FFD at their defaults, and
every network given with ``--model METHOD=PATH``); the ground-truth motion is analysed the
same way as the reference. Reported per method:

- per-segment peak strain error: ``|peak_method - peak_gt|`` of every AHA segment of every
  phantom (radial: peak = max, circumferential: min), mean +- std and n per segment type
  (basal, mid, apical, all 16) and for the global curve;
- hypokinesis detection, over the phantoms that have a hypokinetic sector: the segment
  with the lowest peak circumferential strain magnitude is one the sector covers, counted
  as ``k`` of ``n``. A segment is covered when its sector holds the sector's centre
  (``centre``) or any angle where the hypokinesis is at least half its peak
  (``half_max``, the von Mises bump's half-width). The ground truth's own rate says how
  well the criterion can be met at all.

The sector's angle is not stored in the subject, so it is recomputed by replaying the
phantom's random draws (:func:`hypokinetic_sector`); the replay is checked against what
the subject records (ES frame, per-slice depth) and stops with an error if they differ.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from binn.analysis.config import StrainBenchConfig
from binn.analysis.measures.aha import AHA_NAMES, SEGMENT_LEVEL, assign_aha, segment_of_angle
from binn.analysis.measures.strain import StrainAnalysis, analyse_strain
from binn.errors import BinnInputError

log = logging.getLogger(__name__)

TEST_SEED_OFFSET = 200_000
SEGMENT_TYPES = ("basal", "mid", "apical", "all")
NETWORK_BATCH_SIZE = 32  # frames per network batch (speed only)


def hypokinetic_sector(subject: Any) -> tuple[float, float, np.ndarray]:
    """``(centre screen angle deg, von Mises concentration, depth (Z,))`` of a phantom,
    from what :func:`binn.register.data.phantom.make_phantom` records in the subject's meta."""
    meta = subject.meta
    try:
        angle = float(meta["hypokinetic_angle_rad"])
        kappa = float(meta["hypokinetic_concentration"])
        depth = np.asarray(meta["hypokinetic_depth"], np.float64)
    except KeyError as exc:
        raise BinnInputError(subject.name, f"not a phantom with a recorded sector ({exc})") from exc
    # the phantom's angle is atan2(row, col) about the LV centre; screen angles turn the
    # other way (rows grow downwards)
    return float(np.degrees(-angle) % 360.0), kappa, depth


def covered_segments(
    analysis: StrainAnalysis, centre_deg: float, concentration: float
) -> tuple[set[int], set[int]]:
    """Segments holding the sector's centre, and those reaching into its half-maximum."""
    ratio = math.log(2.0) / concentration
    half = 180.0 if ratio >= 2.0 else math.degrees(math.acos(1.0 - ratio))
    centre_set: set[int] = set()
    half_set: set[int] = set()
    sweep = centre_deg + np.arange(-half, half + 0.5, 1.0)
    for level, anchor in zip(analysis.aha.levels, analysis.aha.anterior_angle_deg, strict=True):
        if level is None:
            continue
        centre_set.add(int(segment_of_angle(centre_deg, level, anchor)))
        half_set.update(int(k) for k in segment_of_angle(sweep, level, anchor))
    return centre_set, half_set


def weakest_segment(analysis: StrainAnalysis, truth: bool = False) -> int | None:
    """AHA segment with the lowest peak circumferential strain magnitude (None if none)."""
    rows = analysis.peak_rows()[1:]
    key = "peak_circ_strain_gt" if truth else "peak_circ_strain"
    values = np.array([abs(r[key]) if r["n_pixels"] else np.nan for r in rows])
    return None if np.isnan(values).all() else int(np.nanargmin(values)) + 1


def _stats(values: list[float]) -> dict[str, float | int | None]:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std()), "n": int(v.size)}


def _registrars(cfg: StrainBenchConfig) -> dict[str, Any]:
    from binn.register.track import Registrar

    out: dict[str, Any] = {}
    for method in cfg.methods:
        out[method] = Registrar(method)
    for method, path in cfg.models.items():
        out[method] = Registrar(
            method, model=Path(path), batch_size=NETWORK_BATCH_SIZE, device=cfg.device
        )
    return out


def bench_strain(cfg: StrainBenchConfig) -> dict[str, Any]:
    """Run the benchmark described in the module docstring; returns the JSON object."""
    from binn.register.data.phantom import make_phantom
    from binn.register.track import track_sequence

    registrars = _registrars(cfg)
    sizes = {r.net.image_size for r in registrars.values() if r.net is not None}
    if len(sizes) > 1:
        raise BinnInputError(None, f"networks of different sizes {sorted(sizes)}")
    size = sizes.pop() if sizes else cfg.size
    seeds = [TEST_SEED_OFFSET + cfg.seed + i for i in range(cfg.subjects)]
    names = ["ground_truth", *registrars]
    errors = {m: {f"{q}_{t}": [] for q in ("radial", "circ") for t in (*SEGMENT_TYPES, "global")}
              for m in names}  # fmt: skip
    detection = {m: {"centre": 0, "half_max": 0} for m in names}
    with_sector, ms = [], {m: [] for m in registrars}
    per_subject = []
    start = time.perf_counter()
    for seed in seeds:
        subject = make_phantom(seed, cfg.family, cfg.frames, cfg.slices, size)
        aha = assign_aha(subject.labels_ed, subject.spacing[1:], source=subject.name)
        centre, kappa, depth = hypokinetic_sector(subject)
        record: dict[str, Any] = {
            "subject": subject.name,
            "hypokinetic": bool(depth.max() > 0),
            "hypokinetic_angle_deg": centre,
            "aha_anchor_source": aha.anchor_source,
            "weakest_segment": {},
        }
        analyses = {}
        common = (subject.name, subject.labels_ed, subject.spacing, subject.frames)
        frames = np.arange(subject.frames)
        analyses["ground_truth"] = analyse_strain(
            common[0], "ground_truth", "", *common[1:], subject.motion, frames, aha,
            es_index=subject.es_index, motion=subject.motion,
        )  # fmt: skip
        for method, registrar in registrars.items():
            result = track_sequence(subject.images, registrar, "all")
            ms[method].append(result["ms_per_pair"])
            analyses[method] = analyse_strain(
                common[0], method, registrar.setting, *common[1:], result["fields"],
                result["frames"], aha, es_index=subject.es_index, motion=subject.motion,
            )  # fmt: skip
        covered = covered_segments(analyses["ground_truth"], centre, kappa)
        record["covered_segments"] = {"centre": sorted(covered[0]), "half_max": sorted(covered[1])}
        if record["hypokinetic"]:
            with_sector.append(subject.name)
        for method, a in analyses.items():
            rows = a.peak_rows()
            for q in ("radial", "circ"):
                errors[method][f"{q}_global"].append(rows[0][f"peak_{q}_strain_error"])
                for r in rows[1:]:
                    if r["n_pixels"]:
                        err = r[f"peak_{q}_strain_error"]
                        errors[method][f"{q}_{SEGMENT_LEVEL[r['segment_id']]}"].append(err)
                        errors[method][f"{q}_all"].append(err)
            weakest = weakest_segment(a)
            record["weakest_segment"][method] = weakest
            if record["hypokinetic"]:
                detection[method]["centre"] += int(weakest in covered[0])
                detection[method]["half_max"] += int(weakest in covered[1])
        per_subject.append(record)
        log.info("%s done (%.0f s)", subject.name, time.perf_counter() - start)
    n = len(with_sector)
    return {
        "phantoms": {
            "family": cfg.family,
            "seeds": seeds,
            "frames": cfg.frames,
            "slices": cfg.slices,
            "size": size,
            "with_hypokinetic_sector": n,
        },
        "methods": {m: registrars[m].setting for m in registrars},
        "ms_per_pair": {m: float(np.mean(v)) for m, v in ms.items()},
        "peak_strain_error": {
            m: {key: _stats(vals) for key, vals in errs.items()} for m, errs in errors.items()
        },
        "hypokinesis_detection": {
            m: {
                kind: {"k": k, "n": n, "rate": (k / n) if n else None} for kind, k in counts.items()
            }
            for m, counts in detection.items()
        },
        "segment_names": AHA_NAMES,
        "per_subject": per_subject,
        "seconds": time.perf_counter() - start,
        "units": "strain errors dimensionless (x100 for percentage points)",
    }
