"""Classical registration baselines: ``register_pair(fixed, moving)`` and, for stacks of
pairs run in parallel, ``register_pairs(fixed, moving, method, params, threads)``.

- ``demons``: SimpleITK diffeomorphic demons (params ``iterations``, ``sigma`` = Gaussian
  smoothing of the displacement field in px).
- ``ffd``: elastix B-spline free-form deformation (itk-elastix) on mean squares with a
  bending-energy penalty (params ``grid`` = control-point spacing in px, ``penalty`` = bending
  energy weight, ``penalty_spacing`` = spacing in px of the grid of points where the penalties
  are evaluated (1 = every pixel; the similarity always uses every pixel), ``properness`` =
  weight of elastix's ``TransformRigidityPenalty`` reduced to its properness condition
  (det J close to 1), i.e. a volume-preserving penalty, 0 = off, ``iterations`` at the
  finest resolution, ``coarse_iterations`` at each coarser one, ``levels`` = resolutions,
  ``max_step`` = elastix's ``MaximumStepLength`` in px, the largest displacement one
  iteration of its adaptive gradient descent is sized for).

The bending energy of a cubic B-spline with control points ``grid`` px apart is a smooth
integrand; elastix evaluates it at the metric's samples, and at every pixel that costs
twice the mean squares itself. A 2 px grid of points is a quadrature of the same integral
(each penalty is a mean over its points, so the weight means the same) at a quarter of the
cost: a 64 px pair registers in 0.64 s instead of 1.14 s on one core, to the same accuracy
on the phantoms (README, "What the default run shows").

``max_step`` is 0.25 px, not elastix's default of one voxel: with 1 px, the step the
optimiser sizes itself at the start of the finer resolution is too large for a few pairs,
and it jumps to a folded field (Dice 0.4, |det J - 1| 0.6, radial strain 170 %) on about
one whole-sequence frame in a hundred of the phantoms. With 0.25 px none of 237 training
and validation pairs diverged, at the same median Dice (README).

Iterations. Demons runs 100; FFD 100 at its coarse resolution, then 200 at the finest (both
resolutions smooth the images without shrinking them, so every iteration costs the same).
Against 200 everywhere, paired on the training and validation phantoms (33 ES->ED pairs and
171 frames of 3 whole sequences, each configured setting): Dice within 0.001, mean
|det J - 1| within 0.002, the whole-sequence end-point error 0 to 0.012 mm lower, the ES->ED
one 0.02 to 0.04 mm higher, FFD's whole-sequence radial strain error 0.0005 higher; in half
(demons) and three quarters (FFD) of the time. Fewer cost more: demons with 50 raises the
ES->ED end-point error by 0.12 mm, FFD with 100 at the finest resolution its radial strain
error by up to 0.013.

Convention: images are handed to ITK with unit spacing and zero origin, so physical (x, y)
are (column, row) pixels. ITK's transform maps fixed points to moving points,
``x -> x + d(x)``, which is our ``u`` (target = fixed = ED, source = moving = frame t); the
returned field is ``(2, H, W)`` float32 px with channel 0 = rows (ITK y), 1 = columns (ITK x).

Threads: every registration runs on one ITK thread (per filter, no global setting), so a
result does not depend on how many pairs run at once, and ``threads`` pairs in parallel use
``threads`` cores. SimpleITK releases the GIL in ``Execute``, so demons pairs run in a
thread pool; itk-elastix holds it, so FFD pairs run in processes. They are forked from
multiprocessing's fork server, a fresh single-threaded process (forking the caller is not
safe: ITK's default threader here is TBB, and torch may hold threads), which imports
itk-elastix once (:mod:`register.elastix_preload`, several CPU seconds) and then serves
every later ``register_pairs`` call of the process: workers start without that cost.
"""

from __future__ import annotations

import logging
import multiprocessing
import tempfile
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np

from binn.errors import BinnInputError

log = logging.getLogger(__name__)

DEFAULTS: dict[str, dict[str, float]] = {
    "demons": {"iterations": 100, "sigma": 1.5},
    "ffd": {
        "grid": 8.0,
        "penalty": 0.01,
        "penalty_spacing": 2.0,
        "properness": 0.0,
        "iterations": 200,
        "coarse_iterations": 100,
        "levels": 2,
        "max_step": 0.25,
    },
}
"""The parameters of each classical method implemented here (the classical methods of
:data:`binn.vocabulary.METHODS`), with their defaults."""


def _check(fixed: np.ndarray, moving: np.ndarray, ndim: int = 2) -> None:
    if fixed.ndim != ndim or moving.shape != fixed.shape:
        what = "2D shapes" if ndim == 2 else "(N, H, W) stacks"
        raise BinnInputError(
            None, f"fixed {fixed.shape} and moving {moving.shape} must be equal {what}"
        )
    if not (np.all(np.isfinite(fixed)) and np.all(np.isfinite(moving))):
        raise BinnInputError(None, "fixed or moving image contains NaN or Inf")


def _itk_xy_to_rc(xy: np.ndarray) -> np.ndarray:
    """(H, W, 2) ITK (x, y) displacement in px -> (2, H, W) float32 (row, col)."""
    return np.ascontiguousarray(np.stack((xy[..., 1], xy[..., 0])).astype(np.float32))


def _demons(fixed: np.ndarray, moving: np.ndarray, iterations: float, sigma: float) -> np.ndarray:
    import SimpleITK as sitk

    f = sitk.GetImageFromArray(fixed.astype(np.float32))
    m = sitk.GetImageFromArray(moving.astype(np.float32))
    demons = sitk.DiffeomorphicDemonsRegistrationFilter()
    demons.SetNumberOfIterations(int(iterations))
    demons.SetSmoothDisplacementField(True)
    demons.SetStandardDeviations(float(sigma))
    demons.SetNumberOfThreads(1)
    field = demons.Execute(f, m)
    return _itk_xy_to_rc(sitk.GetArrayFromImage(field))


def _ffd_parameters(params: dict[str, float]) -> Any:
    import itk

    po = itk.ParameterObject.New()
    pm = po.GetDefaultParameterMap("bspline", int(params["levels"]), float(params["grid"]))
    pm["Metric"] = ["AdvancedMeanSquares", "TransformBendingEnergyPenalty"]
    weights = ["1.0", str(float(params["penalty"]))]
    if params["properness"] > 0:
        pm["Metric"] = [*pm["Metric"], "TransformRigidityPenalty"]
        weights.append(str(float(params["properness"])))
        pm["LinearityConditionWeight"] = ["0.0"]
        pm["OrthonormalityConditionWeight"] = ["0.0"]
        pm["PropernessConditionWeight"] = ["1.0"]
        pm["UseLinearityCondition"] = ["false"]
        pm["UseOrthonormalityCondition"] = ["false"]
        pm["UsePropernessCondition"] = ["true"]
        pm["CalculateLinearityCondition"] = ["false"]
        pm["CalculateOrthonormalityCondition"] = ["false"]
        pm["CalculatePropernessCondition"] = ["true"]
    for i, w in enumerate(weights):
        pm[f"Metric{i}Weight"] = [w]
    coarse = [str(int(params["coarse_iterations"]))] * (int(params["levels"]) - 1)
    pm["MaximumNumberOfIterations"] = [*coarse, str(int(params["iterations"]))]
    pm["MaximumStepLength"] = [str(float(params["max_step"]))]
    pm["FinalGridSpacingInPhysicalUnits"] = [str(float(params["grid"]))]
    spacing = int(params["penalty_spacing"])
    # the similarity at every pixel, each penalty on a grid of points `spacing` px apart
    pm["ImageSampler"] = ["Full"] + ["Full" if spacing == 1 else "Grid"] * (len(weights) - 1)
    pm["SampleGridSpacing"] = [str(spacing)] * len(weights)
    pm["NewSamplesEveryIteration"] = ["false"]
    pm["AutomaticTransformInitialization"] = ["false"]
    pm["WriteResultImage"] = ["false"]
    po.AddParameterMap(pm)
    return po


def _ffd(fixed: np.ndarray, moving: np.ndarray, params: dict[str, float]) -> np.ndarray:
    import itk

    f = itk.GetImageFromArray(np.ascontiguousarray(fixed, dtype=np.float32))
    m = itk.GetImageFromArray(np.ascontiguousarray(moving, dtype=np.float32))
    reg = itk.ElastixRegistrationMethod.New(f, m)
    reg.SetParameterObject(_ffd_parameters(params))
    reg.SetLogToConsole(False)
    reg.SetNumberOfThreads(1)
    reg.UpdateLargestPossibleRegion()
    transformix = itk.TransformixFilter.New(m)
    transformix.SetTransformParameterObject(reg.GetTransformParameterObject())
    transformix.SetComputeDeformationField(True)
    transformix.SetNumberOfWorkUnits(1)
    # transformix writes deformationField.nii into its output folder (the cwd by default)
    with tempfile.TemporaryDirectory(prefix="binn-transformix-") as out_dir:
        transformix.SetOutputDirectory(out_dir)
        transformix.UpdateLargestPossibleRegion()
        return _itk_xy_to_rc(itk.GetArrayFromImage(transformix.GetOutputDeformationField()))


def register_pair(
    fixed: np.ndarray, moving: np.ndarray, method: str, **params: float
) -> np.ndarray:
    """Register ``moving`` (H, W) to ``fixed`` (H, W) with a classical method.

    Returns ``u`` (2, H, W) float32 px on the fixed grid with ``moving(x + u(x)) ≈ fixed(x)``.
    Unknown parameters raise :class:`BinnInputError`.
    """
    fixed = np.asarray(fixed, dtype=np.float32)
    moving = np.asarray(moving, dtype=np.float32)
    _check(fixed, moving)
    return _run_pair(fixed, moving, method, _params(method, params))


def register_pairs(
    fixed: np.ndarray,
    moving: np.ndarray,
    method: str,
    params: dict[str, float] | None = None,
    threads: int = 1,
) -> np.ndarray:
    """Register each ``moving[i]`` (N, H, W) to ``fixed[i]`` (N, H, W), ``threads`` at once.

    Returns ``(N, 2, H, W)`` float32 px, identical whatever ``threads`` is (see the module
    docstring for how pairs are run in parallel). Inputs and ``params`` are checked here,
    before any worker starts; bad ones raise :class:`BinnInputError`.
    """
    fixed = np.asarray(fixed, dtype=np.float32)
    moving = np.asarray(moving, dtype=np.float32)
    _check(fixed, moving, ndim=3)
    if threads < 1:
        raise BinnInputError(None, f"threads must be >= 1, got {threads}")
    p = _params(method, params or {})
    n, h, w = fixed.shape
    workers = min(threads, n)
    if workers <= 1:
        fields = [_run_pair(f, m, method, p) for f, m in zip(fixed, moving, strict=True)]
        return np.stack(fields) if fields else np.zeros((0, 2, h, w), np.float32)
    with _pool(method, workers) as pool:
        return np.stack(list(pool.map(_run_pair, fixed, moving, [method] * n, [p] * n)))


def _pool(method: str, workers: int) -> Executor:
    """Threads where ITK releases the GIL (SimpleITK), forked-server processes where not."""
    if method == "demons":
        return ThreadPoolExecutor(workers, thread_name_prefix="binn-demons")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["binn.register.elastix_preload"])  # read when the server starts
    return ProcessPoolExecutor(workers, mp_context=context)


def _params(method: str, params: dict[str, float]) -> dict[str, float]:
    """``params`` merged over the method's defaults (unknown method or names raise)."""
    if method not in DEFAULTS:
        raise BinnInputError(
            None, f"no classical implementation of method {method!r} (have {sorted(DEFAULTS)})"
        )
    merged = _merge(method, DEFAULTS[method], params)
    if method == "ffd":
        for name in ("penalty_spacing", "iterations", "coarse_iterations", "levels"):
            if not (merged[name] >= 1 and float(merged[name]).is_integer()):
                raise BinnInputError(
                    None, f"ffd: {name} must be a whole number >= 1, got {merged[name]:g}"
                )
        if not merged["max_step"] > 0:
            raise BinnInputError(
                None, f"ffd: max_step must be positive, got {merged['max_step']:g}"
            )
    return merged


def _run_pair(
    fixed: np.ndarray, moving: np.ndarray, method: str, p: dict[str, float]
) -> np.ndarray:
    """One checked pair with merged parameters ``p``; (2, H, W) float32 px."""
    if method == "demons":
        return _demons(fixed, moving, p["iterations"], p["sigma"])
    return _ffd(fixed, moving, p)


def _merge(method: str, defaults: dict[str, float], params: dict[str, float]) -> dict[str, float]:
    unknown = set(params) - set(defaults)
    if unknown:
        raise BinnInputError(
            None, f"{method}: unknown parameter(s) {sorted(unknown)} (have {sorted(defaults)})"
        )
    return {**defaults, **{k: float(v) for k, v in params.items()}}
