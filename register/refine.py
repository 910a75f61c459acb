"""Test-time refinement of a network's fields under the objective it was trained with.

Instance optimisation as the strongest Learn2Reg entries do it: start from the network's
field ``u0`` and run ``iterations`` steps of Adam on ``u = u0 + P(delta)`` to minimise, per
pair, image dissimilarity + weight * regulariser (``mse + alpha * R_VAE`` for ``binn``,
``mse + lam * ||grad u||^2`` for ``l2``, each term scaled exactly as in
:func:`register.train.registration_loss`, so ``alpha`` and ``lam`` mean the same). The VAE
stays frozen. Three composable pieces:

- :class:`Objective`: ``(field, fixed, moving, myo) -> (B,)`` per-pair objective;
- :class:`Parameterisation`: the dense field (``grid=1``) or a cubic control-point grid
  every ``grid`` px (a smooth, FFD-like update);
- :func:`refine_fields`: the batched loop. Pairs are independent (the loss is the *sum* of
  per-pair objectives and Adam is element-wise), the best iterate of each pair is kept (so
  refinement never raises the objective), and a pair whose objective turns non-finite stops
  with a recorded reason while the others go on.

Deterministic: no randomness is drawn; on the CPU two runs agree bit for bit (on CUDA the
backward pass of ``grid_sample`` accumulates with atomics, so runs agree to round-off).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from binn.errors import BinnInputError
from binn.register.losses import local_ncc, pairwise_l2_gradient_penalty, pairwise_mse
from binn.register.transform import warp
from binn.vocabulary import METHODS, network_methods


@dataclasses.dataclass(frozen=True)
class RefineConfig:
    """Options of one refinement (the ``refine*`` setting parameters).

    ``iterations`` Adam steps (0 = the network's field unchanged), ``lr`` px per step,
    ``grid`` control-point spacing in px (1 = the dense field; 8, the default, measured
    best on validation phantoms and real validation cine: see docs), ``ncc`` the window (px,
    odd) of a local NCC dissimilarity instead of MSE (0 = MSE, the training one);
    ``latent`` 1 searches the VAE's latent space with the field (binn only, see
    :func:`latent_prior`) instead of scoring with the encoder's mean (0, R_VAE itself).
    """

    iterations: int = 0
    lr: float = 0.05
    grid: int = 8
    ncc: int = 0
    latent: int = 0

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise ValueError(f"refine iterations must be >= 0, got {self.iterations}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"refine_lr must be a positive number, got {self.lr}")
        if self.grid < 1:
            raise ValueError(f"refine_grid must be >= 1 px, got {self.grid}")
        if self.ncc < 0 or (self.ncc and self.ncc % 2 == 0):
            raise ValueError(f"refine_ncc must be 0 or an odd window in px, got {self.ncc}")
        if self.latent not in (0, 1):
            raise ValueError(f"refine_latent must be 0 or 1, got {self.latent}")


REFINE_PARAMS = {
    "refine": "iterations",
    "refine_lr": "lr",
    "refine_grid": "grid",
    "refine_ncc": "ncc",
    "refine_latent": "latent",
}


def refine_config(params: dict[str, float]) -> RefineConfig:
    """``RefineConfig`` from ``refine*`` setting parameters (``refine=50,refine_lr=0.05``).

    Unknown ``refine*`` names, non-integer counts and bad values raise BinnInputError.
    """
    unknown = sorted(set(params) - set(REFINE_PARAMS))
    if unknown:
        raise BinnInputError(
            None, f"unknown refinement option(s) {unknown}; known: {sorted(REFINE_PARAMS)}"
        )
    kwargs: dict[str, float | int] = {}
    for name, value in params.items():
        field = REFINE_PARAMS[name]
        if field == "lr":
            kwargs[field] = float(value)
        elif float(value).is_integer():
            kwargs[field] = int(value)
        else:
            raise BinnInputError(None, f"{name}={value}: must be a whole number")
    try:
        return RefineConfig(**kwargs)
    except ValueError as exc:
        raise BinnInputError(None, str(exc)) from exc


class Objective:
    """Per-pair objective ``dissimilarity + weight * regulariser``, returned as ``(B,)``.

    ``method``: a network method of :data:`binn.vocabulary.METHODS`; one that needs the
    learnt prior (``binn``) is regularised by R_VAE of the frozen ``vae`` over the ED
    myocardium ``myo``, the others (``l2``) by the mean ``||grad u||^2``; ``ncc`` > 0
    replaces MSE by ``1 - local NCC`` over ``ncc`` x ``ncc`` windows. Fields
    ``(B, 2, H, W)`` px, images ``(B, 1, H, W)``.
    """

    def __init__(
        self,
        method: str,
        weight: float,
        vae: nn.Module | None = None,
        ncc: int = 0,
        latent: bool = False,
    ) -> None:
        spec = METHODS.get(method)
        if spec is None or not spec.is_network:
            raise ValueError(
                f"refinement needs a network method ({', '.join(network_methods())}), "
                f"got {method!r}"
            )
        if spec.needs_vae and vae is None:
            raise ValueError(f"refining a {method} field needs its VAE")
        if latent and not spec.needs_vae:
            raise ValueError("latent search needs the binn prior (a VAE)")
        self.method, self.weight, self.vae, self.ncc = method, float(weight), vae, int(ncc)
        self.uses_prior = spec.needs_vae
        self.latent = bool(latent)

    def dissimilarity(self, warped: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        """``(B,)`` MSE (training's) or ``1 - local NCC`` of ``(B, 1, H, W)`` images."""
        if self.ncc:
            return 1.0 - local_ncc(warped, fixed, self.ncc)
        return pairwise_mse(warped, fixed)

    def regulariser(
        self, field: torch.Tensor, myo: torch.Tensor | None, z: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B,)`` R_VAE (binn; with ``z`` the latent prior) or mean ``||grad u||^2`` (l2)
        of ``field`` (B, 2, H, W) px."""
        if not self.uses_prior:
            return pairwise_l2_gradient_penalty(field)
        if myo is None:
            raise ValueError("R_VAE needs the ED myocardium mask of every pair")
        if z is not None:
            return latent_prior(self.vae, field, myo, z)
        from binn.learn.score import r_vae

        return r_vae(self.vae, field, myo)

    def __call__(
        self,
        field: torch.Tensor,
        fixed: torch.Tensor,
        moving: torch.Tensor,
        myo: torch.Tensor | None = None,
        z: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Objective of each pair, ``(B,)``; its batch mean is the training loss (MSE, no
        ``z``). ``z`` (B, latent) : the searched latent codes of the latent variant."""
        sim = self.dissimilarity(warp(moving, field), fixed)
        return sim + self.weight * self.regulariser(field, myo, z)


def _vae_view(vae: nn.Module, field: torch.Tensor, myo: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The VAE's input of a field: gradients in model units ``(B, 4, S, S)`` and the dilated
    mask ``(B, 1, S, S)`` (fields must be the VAE's window size here)."""
    from binn.learn.gradients import displacement_gradient
    from binn.learn.masks import dilate_mask

    if field.shape[-2:] != (vae.image_size, vae.image_size):
        raise ValueError(
            f"latent search needs {vae.image_size} px fields (the VAE window), got "
            f"{tuple(field.shape[-2:])}"
        )
    grad = displacement_gradient(field) / vae.unit_px
    return grad, dilate_mask(myo, vae.mask_dilation).to(grad).unsqueeze(1)


def encoder_mean(vae: nn.Module, field: torch.Tensor, myo: torch.Tensor) -> torch.Tensor:
    """The latent mean ``(B, latent)`` the frozen VAE gives ``field`` (where R_VAE scores)."""
    grad, dil = _vae_view(vae, field, myo)
    return vae.encode(grad * dil / vae.max_norm)[0]


def latent_prior(
    vae: nn.Module, field: torch.Tensor, myo: torch.Tensor, z: torch.Tensor
) -> torch.Tensor:
    """BIGM-style prior ``(B,)`` with a searched latent code ``z`` (B, latent):
    ``||D(z) - masked grad u||^2 + beta ||z||^2 / 2``, R_VAE's terms with the decoder
    evaluated at ``z`` rather than at the encoder's mean (the field is pulled towards the
    decoder's manifold at the code that explains it best)."""
    grad, dil = _vae_view(vae, field, myo)
    recon = vae.reconstruct(z, dil)
    sse = (recon - grad * dil).square().flatten(1).sum(dim=1)
    return sse + vae.beta * 0.5 * z.square().sum(dim=1)


class Parameterisation(nn.Module):
    """``u = u0 + P(delta)``: ``delta`` dense (``grid=1``) or on a control grid every
    ``grid`` px, interpolated bicubically to the pixels (``align_corners=True``: the corner
    control points sit on the corner pixels). ``delta`` starts at zero, so ``u = u0``."""

    def __init__(self, init: torch.Tensor, grid: int = 1) -> None:
        super().__init__()
        self.register_buffer("init", init.detach().clone())
        h, w = init.shape[-2:]
        self.grid = int(grid)
        shape = (
            (h, w) if grid == 1 else (math.ceil((h - 1) / grid) + 1, math.ceil((w - 1) / grid) + 1)
        )
        self.delta = nn.Parameter(torch.zeros(init.shape[0], 2, *shape, dtype=init.dtype))

    def forward(self) -> torch.Tensor:
        """The field ``(B, 2, H, W)`` px."""
        if self.grid == 1:
            return self.init + self.delta
        up = F.interpolate(
            self.delta, size=self.init.shape[-2:], mode="bicubic", align_corners=True
        )
        return self.init + up


@dataclasses.dataclass
class RefineResult:
    """``fields (B, 2, H, W)`` px (each pair's best iterate), objectives before and after
    ``(B,)``, and ``failures``: pair index -> reason (its field is its last finite best)."""

    fields: torch.Tensor
    before: torch.Tensor
    after: torch.Tensor
    failures: dict[int, str]


def refine_fields(
    init: torch.Tensor,
    fixed: torch.Tensor,
    moving: torch.Tensor,
    objective: Objective,
    cfg: RefineConfig,
    myo: torch.Tensor | None = None,
) -> RefineResult:
    """Refine ``init`` (B, 2, H, W) px for ``cfg.iterations`` Adam steps (see module).

    ``fixed``/``moving`` ``(B, 1, H, W)``, ``myo`` ``(B, H, W)`` (ED myocardium, binn). All
    on one device. ``iterations == 0`` returns ``init`` itself (exactly the network's field).
    A pair whose field or objective is non-finite stops there (``failures``) and keeps its
    best finite iterate, or ``init`` when it had none.
    """
    init = init.detach()
    state = _State(init)
    if cfg.iterations == 0:
        with torch.no_grad():
            state.score(objective(state.screen(init, 0, 0), fixed, moving, myo), init, 0, 0)
        return state.result(init)
    param = Parameterisation(torch.nan_to_num(init), cfg.grid).to(init.device)
    params = list(param.parameters())
    z = None
    if objective.latent:
        with torch.no_grad():
            z = encoder_mean(objective.vae, torch.nan_to_num(init), myo).clone()
        z.requires_grad_(True)
        params.append(z)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    for it in range(cfg.iterations + 1):
        field = state.screen(param(), it, cfg.iterations)
        obj = objective(field, fixed, moving, myo, z)
        state.score(obj, field, it, cfg.iterations)
        if it == cfg.iterations or not bool(state.active.any()):
            break
        opt.zero_grad(set_to_none=True)
        torch.where(state.active, obj, torch.zeros_like(obj)).sum().backward()
        opt.step()
    return state.result(init)


class _State:
    """Per-pair bookkeeping of :func:`refine_fields`: who is still active, best iterates."""

    def __init__(self, init: torch.Tensor) -> None:
        b = init.shape[0]
        self.active = torch.ones(b, dtype=torch.bool, device=init.device)
        self.best = torch.nan_to_num(init.clone())
        self.best_obj = torch.full((b,), math.inf, dtype=init.dtype, device=init.device)
        self.before: torch.Tensor | None = None
        self.failures: dict[int, str] = {}

    def _fail(self, bad: torch.Tensor, what: str, it: int, iterations: int) -> None:
        for i in torch.nonzero(bad).flatten().tolist():
            self.failures[i] = f"{what} became non-finite at iteration {it} of {iterations}"
        self.active = self.active & ~bad

    def screen(self, field: torch.Tensor, it: int, iterations: int) -> torch.Tensor:
        """Stop pairs whose field is non-finite; stopped pairs are scored at their best."""
        finite = torch.isfinite(field.detach()).flatten(1).all(dim=1)
        self._fail(self.active & ~finite, "the field", it, iterations)
        return torch.where(self.active[:, None, None, None], field, self.best)

    def score(self, obj: torch.Tensor, field: torch.Tensor, it: int, iterations: int) -> None:
        """Record ``obj`` (B,) of ``field``: stop non-finite pairs, keep improvements."""
        obj = obj.detach()
        if self.before is None:
            self.before = torch.where(self.active, obj, torch.full_like(obj, math.nan))
        self._fail(self.active & ~torch.isfinite(obj), "the objective", it, iterations)
        better = self.active & (obj < self.best_obj)
        self.best_obj = torch.where(better, obj, self.best_obj)
        self.best = torch.where(better[:, None, None, None], field.detach(), self.best)

    def result(self, init: torch.Tensor) -> RefineResult:
        fields = self.best
        for i in self.failures:
            if not math.isfinite(float(self.best_obj[i])):
                fields[i] = init[i]  # failed at once: the network's field, untouched
        after = torch.where(
            torch.isfinite(self.best_obj), self.best_obj, torch.full_like(self.best_obj, math.nan)
        )
        return RefineResult(fields, self.before, after, self.failures)
