"""Spatial transformer, network, losses, det J convention, settings and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from binn.analysis.measures.metrics import jacobian_determinant
from binn.errors import BinnInputError
from binn.register.checkpoint import load_checkpoint, save_checkpoint
from binn.register.losses import freeze, l2_gradient_penalty, mse
from binn.register.network import RegistrationNet, scaled_widths
from binn.register.transform import warp
from binn.vocabulary import (
    canonical_setting,
    format_setting,
    network_model_setting,
    parse_setting,
    split_refine,
)


def _image(h: int = 32, w: int = 40, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).random((1, 1, h, w)).astype(np.float32))


def test_zero_field_is_exact_identity() -> None:
    img = _image()
    out = warp(img, torch.zeros(1, 2, 32, 40))
    # bilinear: identity up to float32 round-off of the normalised grid (a half-pixel zoom,
    # the align_corners=False trap, would give errors of order 0.1 on random noise)
    torch.testing.assert_close(out, img, atol=1e-5, rtol=0)
    out64 = warp(img.double(), torch.zeros(1, 2, 32, 40, dtype=torch.float64))
    torch.testing.assert_close(out64, img.double(), atol=1e-12, rtol=0)
    assert torch.equal(warp(img, torch.zeros(1, 2, 32, 40), mode="nearest"), img)


@pytest.mark.parametrize("axis", [0, 1])
def test_one_pixel_field_moves_content_one_pixel_along_its_axis(axis: int) -> None:
    img = _image()
    disp = torch.zeros(1, 2, 32, 40)
    disp[:, axis] = 1.0
    out = warp(img, disp)
    # backward warp: out(x) = img(x + e_axis)
    if axis == 0:
        torch.testing.assert_close(out[..., :-1, :], img[..., 1:, :], atol=1e-5, rtol=0)
    else:
        torch.testing.assert_close(out[..., :, :-1], img[..., :, 1:], atol=1e-5, rtol=0)


def test_warp_is_differentiable_wrt_field() -> None:
    img = _image()
    disp = torch.full((1, 2, 32, 40), 0.3, requires_grad=True)
    warp(img, disp).sum().backward()
    assert disp.grad is not None and disp.grad.abs().sum() > 0


def test_network_output_shape_range_and_shared_encoders() -> None:
    torch.manual_seed(0)
    net = RegistrationNet(width=0.0625, image_size=32, max_disp=3.0)
    src, tgt = _image(32, 32, 1), _image(32, 32, 2)
    u = net(src, tgt)
    assert u.shape == (1, 2, 32, 32)
    assert float(u.detach().abs().max()) <= 3.0
    # one encoder for both inputs: 5 stages only
    assert len(net.encoder) == 5
    assert scaled_widths(1.0) == (64, 128, 256, 512, 512)
    with pytest.raises(ValueError, match="divisible by 16"):
        net(_image(30, 30), _image(30, 30))


@pytest.mark.parametrize("axis", [0, 1])
def test_det_j_of_stretch_along_each_axis(axis: int) -> None:
    """A stretch along one axis has det J = 1 + a; swapping channels would give 1 (a shear)."""
    a = 0.2
    h, w = 24, 28
    grid = np.mgrid[:h, :w].astype(np.float32)
    u = np.zeros((2, h, w), np.float32)
    u[axis] = a * grid[axis]
    np.testing.assert_allclose(jacobian_determinant(u), 1 + a, atol=1e-5)
    np.testing.assert_allclose(jacobian_determinant(u[::-1].copy()), 1.0, atol=1e-5)
    # the L2 penalty sees exactly one non-zero Jacobian entry a
    penalty = l2_gradient_penalty(torch.from_numpy(u)[None])
    assert float(penalty) == pytest.approx(a**2, rel=1e-5)


def test_l2_penalty_zero_for_translation_and_mse() -> None:
    u = torch.ones(2, 2, 16, 16) * 1.7
    assert float(l2_gradient_penalty(u)) == 0.0
    a = torch.zeros(1, 1, 4, 4)
    assert float(mse(a, a + 0.5)) == pytest.approx(0.25)


def test_freeze() -> None:
    m = torch.nn.Linear(2, 2)
    freeze(m)
    assert not m.training and not any(p.requires_grad for p in m.parameters())


def test_settings_round_trip_and_errors() -> None:
    assert parse_setting("grid=8,penalty=0.01") == {"grid": 8.0, "penalty": 0.01}
    assert format_setting({"alpha": 0.001}) == "alpha=0.001"
    assert parse_setting(format_setting({"lam": 0.01, "x": 3})) == {"lam": 0.01, "x": 3.0}
    for bad in ("alpha", "alpha=abc", "alpha=nan", "alpha=inf", "alpha=1,alpha=2"):
        with pytest.raises(BinnInputError):
            parse_setting(bad)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("alpha=1e-3", "alpha=0.001"),
        ("alpha=0.0010", "alpha=0.001"),
        ("penalty=1e-1, grid=8.0", "grid=8,penalty=0.1"),
        ("refine=50,alpha=1e-2", "alpha=0.01,refine=50"),
        ("x=0.0001234567", "x=0.0001234567"),
        ("x=1.5e-7", "x=0.00000015"),
        ("x=0.1", "x=0.1"),
    ],
)
def test_canonical_setting_is_one_exact_string(text, canonical) -> None:
    assert canonical_setting(text) == canonical
    assert canonical_setting(canonical) == canonical  # idempotent
    assert parse_setting(canonical) == parse_setting(text)  # exact round trip of the floats
    assert all("e" not in value for value in parse_values(canonical))


def parse_values(setting: str) -> list[str]:
    return [item.split("=")[1] for item in setting.split(",")]


def test_network_model_setting_drops_refine_options() -> None:
    assert network_model_setting("alpha=1e-2,refine=50,refine_lr=0.1") == "alpha=0.01"
    assert split_refine({"lam": 0.1, "refine": 5.0}) == ({"lam": 0.1}, {"refine": 5.0})


def test_checkpoint_round_trip_and_crop_size_error(tmp_path) -> None:
    torch.manual_seed(0)
    net = RegistrationNet(0.0625, 32).eval()
    path = tmp_path / "m.pt"
    save_checkpoint(path, net, method="l2", alpha=0.0, lam=0.01, setting="lam=0.01")
    loaded, meta = load_checkpoint(path, image_size=32)
    x, y = _image(32, 32, 3), _image(32, 32, 4)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, y), net(x, y))
    assert meta["setting"] == "lam=0.01"
    with pytest.raises(BinnInputError, match="crop size 32"):
        load_checkpoint(path, image_size=48)
    with pytest.raises(BinnInputError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")


def test_track_sequence_hands_the_registrar_whole_batches() -> None:
    """Tracking goes to the registrar in chunks of whole network batches (so a network sees
    the batches one call would give it: the same fields), between progress updates."""
    from binn.register.track import track_sequence

    class Stub:
        method, setting, batch_size, threads = "stub", "x=1", 4, 1

        def __init__(self) -> None:
            self.calls: list[int] = []
            self.failures: list[str] = []

        def adapt_to(self, images, myo, name) -> None:  # the registrar's per-subject hook
            self.adapted = images.shape

        def __call__(self, fixed, moving, myo=None, names=None):
            self.calls.append(len(moving))
            self.failures = [f"{names[0]}: seen"]
            return np.stack([moving, 2 * moving], axis=1).astype(np.float32)

    images = np.random.default_rng(0).random((7, 5, 8, 8)).astype(np.float32)
    stub = Stub()
    out = track_sequence(images, stub, "all", name="s")
    assert all(n % 4 == 0 for n in stub.calls[:-1]) and sum(stub.calls) == 6 * 5
    assert stub.calls[0] == 8  # 5 slices -> two batches of 4
    np.testing.assert_array_equal(out["fields"][1:, :, 0], images[1:])
    np.testing.assert_array_equal(out["fields"][1:, :, 1], 2 * images[1:])
    assert len(out["failures"]) == len(stub.calls)  # every chunk's failures are kept
    assert stub.adapted == images.shape  # adapted to the whole cine, once, first
