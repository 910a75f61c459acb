"""Classical registration baselines behind one interface: ``register_pair(fixed, moving)``.

- ``demons``: SimpleITK diffeomorphic demons (params ``iterations``, ``sigma`` = Gaussian
  smoothing of the displacement field in px).
- ``ffd``: elastix B-spline free-form deformation (itk-elastix) on mean squares with a
  bending-energy penalty (params ``grid`` = control-point spacing in px, ``penalty`` = bending
  energy weight, ``properness`` = weight of elastix's ``TransformRigidityPenalty`` reduced to
  its properness condition (det J close to 1), i.e. a volume-preserving penalty, 0 = off,
  ``iterations`` per resolution, ``levels`` = resolutions).

Convention: images are handed to ITK with unit spacing and zero origin, so physical (x, y)
are (column, row) pixels. ITK's transform maps fixed points to moving points,
``x -> x + d(x)``, which is our ``u`` (target = fixed = ED, source = moving = frame t); the
returned field is ``(2, H, W)`` float32 px with channel 0 = rows (ITK y), 1 = columns (ITK x).
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any

import numpy as np

from binn.errors import BinnInputError

log = logging.getLogger(__name__)

CLASSICAL_METHODS = ("demons", "ffd")
DEMONS_DEFAULTS = {"iterations": 200, "sigma": 1.5}
FFD_DEFAULTS = {"grid": 8.0, "penalty": 0.01, "properness": 0.0, "iterations": 200, "levels": 2}


def _check(fixed: np.ndarray, moving: np.ndarray) -> None:
    if fixed.ndim != 2 or moving.shape != fixed.shape:
        raise BinnInputError(
            None, f"fixed {fixed.shape} and moving {moving.shape} must be equal 2D shapes"
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
    pm["MaximumNumberOfIterations"] = [str(int(params["iterations"]))]
    pm["FinalGridSpacingInPhysicalUnits"] = [str(float(params["grid"]))]
    pm["ImageSampler"] = ["Full"]
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
    reg.UpdateLargestPossibleRegion()
    # transformix writes deformationField.nii into its output folder (the cwd by default)
    with tempfile.TemporaryDirectory(prefix="binn-transformix-") as out_dir:
        field = itk.transformix_deformation_field(
            m, reg.GetTransformParameterObject(), output_directory=out_dir
        )
        return _itk_xy_to_rc(itk.GetArrayFromImage(field))


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
    if method == "demons":
        p = _merge(method, DEMONS_DEFAULTS, params)
        return _demons(fixed, moving, p["iterations"], p["sigma"])
    if method == "ffd":
        return _ffd(fixed, moving, _merge(method, FFD_DEFAULTS, params))
    raise BinnInputError(None, f"unknown classical method {method!r} (have {CLASSICAL_METHODS})")


def _merge(method: str, defaults: dict[str, float], params: dict[str, float]) -> dict[str, float]:
    unknown = set(params) - set(defaults)
    if unknown:
        raise BinnInputError(
            None, f"{method}: unknown parameter(s) {sorted(unknown)} (have {sorted(defaults)})"
        )
    return {**defaults, **{k: float(v) for k, v in params.items()}}
