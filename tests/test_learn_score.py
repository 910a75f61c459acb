"""binn.learn.score: R_VAE's units do not depend on the window; the zero field; the band-only
loss; the control scorer.

Analytic checks use VAEs whose decoder output is zeroed (reconstruction 0, latent 0), so
R_VAE is exactly the masked gradient energy in model units. One small VAE trained on exact
ring inflations checks that small compressible noise scores clearly worse than no motion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from binn.errors import BinnInputError
from binn.learn import corrupt
from binn.learn.checkpoint import save_checkpoint
from binn.learn.config import TrainConfig
from binn.learn.dataset import read_records
from binn.learn.gradients import displacement_gradient
from binn.learn.masks import dilate_mask
from binn.learn.model import GRADIENT_UNIT_PX, MotionVAE2D
from binn.learn.score import gradient_energy, gradient_score, load_vae, r_vae
from binn.learn.train import train_vae
from tests.learn_fixtures import ring_case, write_ring_records


def _null_vae(size: int) -> MotionVAE2D:
    """A VAE whose reconstruction and latent are 0: R_VAE = masked energy / unit_px^2."""
    torch.manual_seed(0)
    vae = MotionVAE2D(image_size=size, latent_dim=4, nf=4).eval()
    with torch.no_grad():
        for layer in (vae.decoder[-2], vae.fc_mu, vae.fc_logvar):
            for p in layer.parameters():
                p.zero_()
    return vae


def _ring(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    disp, mask, _ = ring_case(2, size=size, frames=6)
    return torch.from_numpy(disp[-1:]), torch.from_numpy(mask)[None]


def test_r_vae_units_do_not_depend_on_the_window() -> None:
    field, mask = _ring(32)
    canvas = torch.zeros(1, 2, 48, 48)
    canvas_mask = torch.zeros(1, 48, 48, dtype=mask.dtype)
    canvas[..., 8:40, 8:40] = field
    canvas_mask[..., 8:40, 8:40] = mask
    with torch.no_grad():
        small = r_vae(_null_vae(32), field, mask)
        large = r_vae(_null_vae(48), canvas, canvas_mask)
        energy = gradient_energy(displacement_gradient(field), mask, 3)
    assert float(small) > 0
    torch.testing.assert_close(large, small, rtol=1e-5, atol=0)
    torch.testing.assert_close(small, energy / GRADIENT_UNIT_PX**2, rtol=1e-5, atol=0)


def test_gradient_energy_of_affine_gradients() -> None:
    a = torch.tensor([0.1, -0.2, 0.05, 0.3])
    grad = a.reshape(1, 4, 1, 1).expand(2, 4, 9, 9).clone()
    mask = torch.zeros(2, 9, 9)
    mask[0, 4, 4] = 1
    mask[1, 2:4, 2:5] = 1
    got = gradient_energy(grad, mask, dilation=1)
    expected = float(a.square().sum()) * torch.tensor([9.0, 20.0])
    torch.testing.assert_close(got, expected)


def test_zero_field_is_the_minimum_with_no_pull() -> None:
    """Bias-free layers: R_VAE(0) = 0 exactly and its gradient there is 0 (any weights)."""
    torch.manual_seed(3)
    vae = MotionVAE2D(image_size=32, latent_dim=4, nf=4).eval()
    _, mask = _ring(32)
    zero = torch.zeros(1, 2, 32, 32, requires_grad=True)
    score = r_vae(vae, zero, mask)
    score.sum().backward()
    assert float(score.detach()) == 0.0 and float(zero.grad.abs().max()) == 0.0
    noise = torch.from_numpy(corrupt.compressible_noise((32, 32), np.random.default_rng(0)))
    assert float(r_vae(vae, noise[None], mask).detach()) > 0


def test_r_vae_compares_input_and_reconstruction_inside_the_band_only() -> None:
    """The decoder's output outside the dilated mask does not count: R_VAE is the squared
    error over the band (+ beta * KL), though the raw decoder output there is not zero."""
    torch.manual_seed(5)
    vae = MotionVAE2D(image_size=32, latent_dim=4, nf=4).eval()
    field, mask = _ring(32)
    grad = displacement_gradient(field) / vae.unit_px
    band = dilate_mask(mask, vae.mask_dilation).float().unsqueeze(1)
    with torch.no_grad():
        mu, logvar = vae.encode(grad * band / vae.max_norm)
        raw = vae.decode(mu) * vae.max_norm
        inside = ((raw - grad) * band).square().sum()
        kl = -0.5 * (1.0 + logvar - mu.square() - logvar.exp()).sum()
        score = r_vae(vae, field, mask)
    assert float((raw * (1 - band)).abs().max()) > 0
    torch.testing.assert_close(score, (inside + vae.beta * kl).reshape(1), rtol=1e-5, atol=0)


def test_load_vae_refuses_other_units_and_keeps_spacing(tmp_path: Path) -> None:
    vae = MotionVAE2D(image_size=16, latent_dim=4, nf=4)
    save_checkpoint(tmp_path / "vae.pt", vae, spacing_mm=1.8)
    assert load_vae(tmp_path / "vae.pt").spacing_mm == pytest.approx(1.8)
    data = torch.load(tmp_path / "vae.pt", weights_only=True)
    old = {k: v for k, v in data.items() if k not in ("gradient_unit_px", "spacing_mm")}
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(BinnInputError, match=r"old\.pt.*gradient unit"):
        load_vae(tmp_path / "old.pt")
    window = {k: v for k, v in data.items() if k != "reconstruction"}
    torch.save(window, tmp_path / "window.pt")
    with pytest.raises(BinnInputError, match=r"window\.pt.*whole window.*retrain"):
        load_vae(tmp_path / "window.pt")
    torch.save({**data, "spacing_mm": None}, tmp_path / "none.pt")
    assert load_vae(tmp_path / "none.pt").spacing_mm is None


SIZE = 32


@pytest.fixture(scope="module")
def ring_vae(tmp_path_factory: pytest.TempPathFactory) -> tuple[MotionVAE2D, list[Path]]:
    root = tmp_path_factory.mktemp("score")
    paths = write_ring_records(root / "cases", list(range(10)), size=SIZE, frames=8)
    cfg = TrainConfig(
        image_size=SIZE, nf=8, lr=1e-3, batch_size=8, epochs=30, val_fraction=0.25, seed=0
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train_vae(paths, root / "vae.pt", cfg, "cpu", resume=False)
    finally:
        torch.set_num_threads(threads)
    return load_vae(result.checkpoint), paths


def test_small_compressible_noise_scores_clearly_worse_than_no_motion(
    ring_vae: tuple[MotionVAE2D, list[Path]],
) -> None:
    vae, paths = ring_vae
    records, _ = read_records(paths)
    rng = np.random.default_rng(0)
    for rec in records[:4]:
        mask = torch.from_numpy(rec.mask)[None]
        noise = torch.from_numpy(corrupt.compressible_noise(rec.mask.shape, rng))[None]
        with torch.no_grad():
            zero = float(r_vae(vae, torch.zeros_like(noise), mask))
            bad = float(r_vae(vae, noise, mask))
            energy = float(gradient_energy(displacement_gradient(noise), mask, 3))
            # the first simulated frame that moves at least as far as the noise
            amp = float(noise.abs().max())
            t = next(t for t, f in enumerate(rec.disp) if np.abs(f).max() >= amp)
            sim = float(r_vae(vae, torch.from_numpy(rec.disp[t])[None], mask))
        assert zero == 0.0
        assert bad - zero > 0.5 * energy / GRADIENT_UNIT_PX**2
        assert 2 * sim < bad


def test_gradient_score_matches_r_vae_and_dilation_band(
    ring_vae: tuple[MotionVAE2D, list[Path]],
) -> None:
    vae, paths = ring_vae
    rec = read_records(paths[:1])[0][0]
    field = torch.from_numpy(rec.disp[-1:])
    mask = torch.from_numpy(rec.mask)[None]
    with torch.no_grad():
        direct = gradient_score(vae, displacement_gradient(field), mask)
        torch.testing.assert_close(r_vae(vae, field, mask), direct)
        # gradients outside the dilated band do not change the score
        band = dilate_mask(mask, vae.mask_dilation)
        grad = displacement_gradient(field) + 5.0 * (1 - band).unsqueeze(1)
        torch.testing.assert_close(gradient_score(vae, grad, mask), direct)
