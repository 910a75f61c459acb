"""``binn plausibility`` scores on the VAE's grid: fields on another pixel spacing are
resampled to it, and the output says from which spacing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from binn.cli import main
from binn.io import load_npz, save_npz
from binn.resample import resample_displacement, resample_inplane


@pytest.fixture(scope="module")
def vae_and_case(tmp_path_factory) -> tuple[Path, Path]:
    from binn.learn.train import TrainConfig, train_vae
    from tests.learn_fixtures import write_ring_records

    tmp = tmp_path_factory.mktemp("vae")
    cases = write_ring_records(tmp / "cases", [1, 2, 3], size=32, frames=4)  # 1.8 mm
    tiny = TrainConfig(image_size=32, nf=4, latent_dim=4, batch_size=4, epochs=1, val_fraction=0.5)
    train_vae(cases, tmp / "vae.pt", tiny, "cpu")
    return tmp / "vae.pt", cases[0]


def _scores(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert main(["plausibility", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_fields_on_another_spacing_are_scored_on_the_vae_grid(vae_and_case, tmp_path, capsys):
    vae, case = vae_and_case
    rec = load_npz(case)
    own = _scores(capsys, str(case), "--model", str(vae))
    assert own["spacing_mm"] == pytest.approx(1.8) and own["resampled_from_mm"] is None
    # the same motion on 0.9 mm pixels (twice the pixels, twice the px values)
    fine, _ = resample_displacement(rec["disp"], np.array([1.8, 1.8]), 0.9)
    mask = resample_inplane(rec["mask"], np.array([1.8, 1.8]), 0.9, labels=True)[0]
    path = tmp_path / "fine.npz"
    save_npz(path, {}, disp=fine.astype(np.float32), mask=mask, spacing=np.array([0.9, 0.9]))
    back = _scores(capsys, str(path), "--model", str(vae))
    assert back["resampled_from_mm"] == [0.9, 0.9]
    np.testing.assert_allclose(back["scores"], own["scores"], rtol=0.25, atol=1e-3)
    # scored as if on the VAE's grid (no spacing recorded, none given), the motion looks
    # twice as large in pixels and half as wide: another score
    bare = tmp_path / "bare.npz"
    save_npz(bare, {}, disp=fine.astype(np.float32), mask=mask)
    naive = _scores(capsys, str(bare), "--model", str(vae))
    assert naive["resampled_from_mm"] is None
    assert not np.allclose(naive["scores"], own["scores"], rtol=0.25)
    given = _scores(capsys, str(bare), "--model", str(vae), "--spacing-mm", "0.9")
    np.testing.assert_allclose(given["scores"], back["scores"], rtol=1e-6)
