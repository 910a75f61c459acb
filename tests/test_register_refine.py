"""Test-time refinement: monotone objective, N = 0 is the network, translation recovered,
R_VAE gradient reaches the field, per-pair failures, refusals, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from binn.errors import BinnInputError
from binn.register.checkpoint import save_checkpoint
from binn.register.data.phantom import make_phantom
from binn.register.losses import freeze
from binn.register.network import RegistrationNet
from binn.register.refine import (
    Objective,
    Parameterisation,
    RefineConfig,
    encoder_mean,
    refine_config,
    refine_fields,
)
from binn.register.track import Registrar, track_sequence
from tests.learn_fixtures import ring_case

SIZE = 32


def texture(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A smooth image with structure everywhere (values in [0, 1])."""
    return (
        0.5
        + 0.2 * np.sin(0.45 * rows + 0.3 * cols)
        + 0.15 * np.cos(0.25 * cols - 0.5 * rows)
        + 0.1 * np.sin(0.6 * cols)
    )


def tiny_vae():
    from binn.learn.model import MotionVAE2D

    torch.manual_seed(0)
    return freeze(MotionVAE2D(image_size=SIZE, latent_dim=4, nf=4, max_norm=0.1))


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(5, frames=4, slices=2, size=SIZE)


def _pairs(subject):
    """ES -> ED pairs of every slice: fixed, moving (Z, 1, H, W), myo (Z, H, W)."""
    fixed = torch.from_numpy(subject.images[0])[:, None]
    moving = torch.from_numpy(subject.images[subject.es_index])[:, None]
    myo = torch.from_numpy((subject.labels_ed == 2).astype(np.float32))
    return fixed, moving, myo


@pytest.mark.parametrize(
    ("method", "grid", "lr", "latent"),
    [
        ("l2", 1, 0.05, False),
        ("l2", 4, 0.05, False),
        ("binn", 1, 0.05, False),
        ("binn", 1, 5.0, False),
        ("binn", 1, 0.05, True),
    ],
)
def test_refinement_never_raises_its_objective(phantom, method, grid, lr, latent) -> None:
    """Per pair, even with a step size that makes Adam diverge (lr 5 px per step)."""
    fixed, moving, myo = _pairs(phantom)
    vae = tiny_vae() if method == "binn" else None
    objective = Objective(method, 0.05, vae, latent=latent)
    init = torch.randn(fixed.shape[0], 2, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    res = refine_fields(init, fixed, moving, objective, RefineConfig(20, lr, grid), myo)
    assert torch.all(res.after <= res.before)
    assert not res.failures
    if latent:  # the latent objective starts from R_VAE's terms at the encoder's mean
        z0 = encoder_mean(vae, init, myo)
        torch.testing.assert_close(res.before, objective(init, fixed, moving, myo, z0))
    else:
        again = objective(res.fields, fixed, moving, myo)
        torch.testing.assert_close(again, res.after)
    if lr < 1:
        assert torch.all(res.after < res.before)  # a sensible step size does improve


def test_zero_iterations_return_the_network_field_exactly(phantom) -> None:
    torch.manual_seed(3)
    net = RegistrationNet(0.0625, SIZE)
    torch.nn.init.normal_(net.head[-1].weight, std=0.1)  # a non-zero network field
    plain = track_sequence(phantom.images, Registrar("l2", model=net), "es", phantom.es_index)
    zero = track_sequence(
        phantom.images,
        Registrar("l2", {"refine": 0}, model=net, weight=0.01),
        "es",
        phantom.es_index,
    )
    assert np.abs(plain["fields"]).max() > 0
    np.testing.assert_array_equal(zero["fields"], plain["fields"])
    init = torch.from_numpy(plain["fields"][1])
    fixed, moving, myo = _pairs(phantom)
    res = refine_fields(init, fixed, moving, Objective("l2", 0.01), RefineConfig(0), myo)
    assert torch.equal(res.fields, init)


def test_pure_translation_is_recovered_to_a_tenth_of_a_pixel() -> None:
    """moving(x) = fixed(x - t) => the field is u = t everywhere (||grad u||^2 = 0 there)."""
    rows, cols = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    t = (1.3, -0.7)
    fixed = torch.tensor(texture(rows, cols), dtype=torch.float32)[None, None]
    moving = torch.tensor(texture(rows - t[0], cols - t[1]), dtype=torch.float32)[None, None]
    res = refine_fields(
        torch.zeros(1, 2, SIZE, SIZE),
        fixed,
        moving,
        Objective("l2", 1.0),
        RefineConfig(200, 0.1, grid=1),
    )
    u = res.fields[0, :, 4:-4, 4:-4].numpy()  # off the border, where samples are clamped
    assert np.abs(u[0] - t[0]).max() < 0.1 and np.abs(u[1] - t[1]).max() < 0.1


def test_r_vae_gradient_reaches_the_refined_field_on_a_real_shaped_mask() -> None:
    """An elliptic, sheared ring (the shape of a real ED myocardium): R_VAE alone moves the
    field, near the mask only; the VAE stays frozen."""
    _, mask, _ = ring_case(7, size=SIZE, frames=2)
    myo = torch.from_numpy(mask.astype(np.float32))[None]
    image = torch.full((1, 1, SIZE, SIZE), 0.5)  # flat: the dissimilarity has no gradient
    vae = tiny_vae()
    init = 0.5 * torch.randn(1, 2, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
    field = init.clone().requires_grad_(True)
    Objective("binn", 1.0, vae)(field, image, image, myo).sum().backward()
    grad = field.grad.abs().sum(dim=1)[0]
    assert float(grad[mask > 0].sum()) > 0
    far = torch.from_numpy(ring_far_from(mask, vae.mask_dilation + 2))
    assert float(grad[far].abs().max()) == 0.0
    assert all(p.grad is None for p in vae.parameters())
    res = refine_fields(
        init, image, image, Objective("binn", 1.0, vae), RefineConfig(5, grid=1), myo
    )
    moved = (res.fields - init).abs().sum(dim=1)[0]
    assert float(moved[mask > 0].max()) > 0 and float(moved[far].max()) == 0.0
    assert float(res.after[0]) < float(res.before[0])


def ring_far_from(mask: np.ndarray, distance: int) -> np.ndarray:
    """Pixels further than ``distance`` px (chessboard) from ``mask``: outside the VAE's
    dilated mask and the gradient stencil around it."""
    from scipy import ndimage

    return ~ndimage.binary_dilation(mask > 0, np.ones((3, 3), bool), iterations=distance)


def test_a_non_finite_pair_stops_alone_and_the_batch_goes_on(phantom) -> None:
    fixed, moving, myo = _pairs(phantom)
    bad = moving.clone()
    bad[1, 0, 5, 5] = float("nan")
    objective = Objective("binn", 0.05, tiny_vae())
    init = torch.zeros(fixed.shape[0], 2, SIZE, SIZE)
    res = refine_fields(init, fixed, bad, objective, RefineConfig(10), myo)
    assert set(res.failures) == {1} and "non-finite" in res.failures[1]
    assert torch.equal(res.fields[1], init[1])
    alone = refine_fields(init[:1], fixed[:1], moving[:1], objective, RefineConfig(10), myo[:1])
    torch.testing.assert_close(res.fields[0], alone.fields[0], rtol=0, atol=1e-6)


def test_registrar_names_subject_and_slice_of_a_failed_pair(phantom, caplog) -> None:
    images = phantom.images.copy()
    images[phantom.es_index, 1, 3, 3] = np.nan
    reg = Registrar("l2", {"refine": 5}, model=RegistrationNet(0.0625, SIZE), weight=0.01)
    res = track_sequence(images, reg, "es", phantom.es_index, name="subj7")
    assert len(res["failures"]) == 1
    assert res["failures"][0].startswith(f"subj7 frame {phantom.es_index} slice 1:")
    assert "refinement stopped" in caplog.text
    assert np.isfinite(res["fields"][1, 0]).all()


def test_refinement_is_refused_for_classical_methods_and_bad_options() -> None:
    for method in ("demons", "ffd"):
        with pytest.raises(BinnInputError, match="no network to refine"):
            Registrar(method, {"refine": 10})
    net = RegistrationNet(0.0625, SIZE)
    with pytest.raises(BinnInputError, match="fixed at training"):
        Registrar("l2", {"lam": 0.1, "refine": 10}, model=net)
    with pytest.raises(BinnInputError, match="unknown refinement option"):
        refine_config({"refine_speed": 2.0})
    with pytest.raises(BinnInputError, match="whole number"):
        refine_config({"refine": 2.5})
    cfg = refine_config({"refine": 5.0, "refine_grid": 8.0, "refine_latent": 1.0})
    assert (cfg.iterations, cfg.grid, cfg.latent) == (5, 8, 1)
    with pytest.raises(BinnInputError, match="refine_latent must be 0 or 1"):
        refine_config({"refine_latent": 2.0})
    with pytest.raises(BinnInputError, match="needs the binn prior"):
        Registrar("l2", {"refine": 3, "refine_latent": 1}, model=net, weight=0.01)
    with pytest.raises(BinnInputError, match="training weight"):
        Registrar("l2", {"refine": 10}, model=net)  # in-memory net without weight=


def test_binn_refinement_finds_or_refuses_its_vae(tmp_path) -> None:
    net = RegistrationNet(0.0625, SIZE)
    model = tmp_path / "b.pt"
    save_checkpoint(model, net, method="binn", alpha=0.01, setting="alpha=0.01")
    with pytest.raises(BinnInputError, match="does not record the VAE"):
        Registrar("binn", {"refine": 5}, model=model)
    with pytest.raises(BinnInputError, match=r"VAE file.* missing"):
        Registrar("binn", {"refine": 5}, model=model, vae=tmp_path / "gone.pt")
    save_checkpoint(
        model, net, method="binn", alpha=0.01, setting="alpha=0.01", vae=str(tmp_path / "v.pt")
    )
    with pytest.raises(BinnInputError, match=r"record.* missing"):
        Registrar("binn", {"refine": 5}, model=model)
    reg = Registrar("binn", {"refine": 5, "refine_lr": 0.1}, model=model, vae=tiny_vae())
    assert reg.setting == "alpha=0.01,refine=5,refine_lr=0.1"
    assert Registrar("binn", model=model).setting == "alpha=0.01"


def test_refinement_is_deterministic_and_batch_independent(phantom) -> None:
    fixed, moving, myo = _pairs(phantom)
    objective = Objective("binn", 0.05, tiny_vae(), ncc=5)
    init = torch.zeros(fixed.shape[0], 2, SIZE, SIZE)
    a = refine_fields(init, fixed, moving, objective, RefineConfig(8, grid=4), myo)
    b = refine_fields(init, fixed, moving, objective, RefineConfig(8, grid=4), myo)
    assert torch.equal(a.fields, b.fields)
    one = refine_fields(
        init[1:], fixed[1:], moving[1:], objective, RefineConfig(8, grid=4), myo[1:]
    )
    torch.testing.assert_close(a.fields[1:], one.fields, rtol=0, atol=1e-6)


def test_control_grid_starts_at_the_init_and_interpolates_corners() -> None:
    init = torch.randn(2, 2, 17, 17)
    p = Parameterisation(init, grid=4)
    assert p.delta.shape == (2, 2, 5, 5) and torch.equal(p(), init)
    with torch.no_grad():
        p.delta.fill_(0.5)
    torch.testing.assert_close(p() - init, torch.full_like(init, 0.5))
