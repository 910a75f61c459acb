"""Shipped models: safetensors round trip, export with a card, checks at load (checksum,
grid), the shipped model used when no model is given, and fine-tuning from a model."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from binn.errors import BinnInputError
from binn.io import file_sha256
from binn.learn.checkpoint import save_checkpoint as save_vae
from binn.learn.score import load_vae
from binn.register import pretrained
from binn.register.checkpoint import load_checkpoint, recorded_vae
from binn.register.data.phantom import make_phantom
from binn.register.data.subject import save_subject
from binn.register.track import Registrar
from binn.register.train import TrainConfig, train_registration
from binn.vocabulary import format_setting
from binn.weights import read_checkpoint_dict, read_safetensors, save_safetensors
from tests.test_register_train import toy_subject

SIZE = 64


def test_safetensors_round_trip_and_refusals(tmp_path):
    state = {"w": torch.randn(3, 4), "steps": torch.arange(5)}
    save_safetensors(tmp_path / "m.safetensors", state, {"arch": "x", "grid": [2.0, 64]})
    back = read_checkpoint_dict(tmp_path / "m.safetensors")
    assert back["arch"] == "x" and back["grid"] == [2.0, 64]
    assert back["state_dict"]["w"].dtype == torch.float32
    assert torch.allclose(back["state_dict"]["w"], state["w"], rtol=1e-3, atol=1e-3)
    assert torch.equal(back["state_dict"]["steps"], state["steps"])
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(BinnInputError, match="without binn's"):
        read_safetensors(tmp_path / "foreign.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(BinnInputError, match="not a readable safetensors"):
        read_safetensors(tmp_path / "bad.safetensors")


def _subject(seed: int):
    """A toy cine on the 2.0 mm grid, 64 px (the shipped models' grid)."""
    return dataclasses.replace(
        toy_subject(seed, frames=3, slices=1, size=SIZE), spacing=np.array([8.0, 2.0, 2.0])
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """Tiny binn (with its VAE) and l2 networks, trained 2 steps, exported to ``out/``."""
    from binn.learn.model import MotionVAE2D

    run = tmp_path_factory.mktemp("export")
    data = []
    for seed in (1, 2):
        data.append(run / f"s{seed}.npz")
        save_subject(data[-1], _subject(seed), {})
    torch.manual_seed(0)
    vae = MotionVAE2D(image_size=SIZE, latent_dim=4, nf=4, max_norm=0.1)
    save_vae(run / "prior" / "vae.pt", vae, spacing_mm=2.0)
    models = {}
    for method in ("binn", "l2"):
        cfg = TrainConfig(method=method, width=0.0625, steps=2, batch_size=2, device="cpu")
        models[method] = run / "models" / f"{method}.pt"
        train_registration(data[:1], data[1:], cfg, models[method], run / "prior" / "vae.pt")
    facts = {"grid": {"spacing_mm": 2.0, "size": SIZE}, "commit": "test"}
    pretrained.export_pretrained(pretrained.ExportRequest(models, run / "out", facts))
    return run


def test_the_export_writes_float16_models_and_a_card_that_checks(exported):
    out = exported / "out"
    card = json.loads((out / pretrained.CARD).read_text())
    assert set(card["models"]) == {"binn", "l2", "vae"}
    assert card["grid"] == {"spacing_mm": 2.0, "size": SIZE}
    for name, entry in card["models"].items():
        assert file_sha256(out / entry["file"]) == entry["sha256"]
        assert pretrained.shipped_model(name, out) == out / entry["file"]
    original = torch.load(exported / "models" / "binn.pt", weights_only=False)["state_dict"]
    net, meta = load_checkpoint(out / "binn.safetensors")
    for key, value in net.state_dict().items():
        expected = original[key].half().float() if value.is_floating_point() else original[key]
        assert torch.equal(value, expected)
    assert recorded_vae(meta, out / "binn.safetensors") == out / pretrained.VAE_FILE
    assert load_vae(out / pretrained.VAE_FILE).spacing_mm == 2.0
    text = (out / pretrained.CARD_TEXT).read_text()
    assert card["models"]["binn"]["sha256"][:16] in text
    # the check the card records is what the shipped file computes
    phantom = make_phantom(**pretrained.CHECK_PHANTOM)
    again = pretrained.phantom_epe_mm(out / "binn.safetensors", phantom)
    assert again["epe_mm"] == pytest.approx(card["check"]["es_to_ed"]["binn"]["epe_mm"], abs=1e-4)


def test_a_damaged_or_missing_shipped_file_names_itself_and_the_fix(exported, tmp_path):
    copy = tmp_path / "shipped"
    shutil.copytree(exported / "out", copy)
    data = bytearray((copy / "l2.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "l2.safetensors").write_bytes(bytes(data))
    with pytest.raises(BinnInputError, match="fails its checksum") as info:
        pretrained.shipped_model("l2", copy)
    assert "l2.safetensors" in str(info.value) and pretrained.REGENERATE in str(info.value)
    (copy / "binn.safetensors").unlink()
    with pytest.raises(BinnInputError, match="missing") as info:
        pretrained.shipped_model("binn", copy)
    assert pretrained.REGENERATE in str(info.value)
    with pytest.raises(BinnInputError, match="no shipped model for 'demons'"):
        pretrained.shipped_model("demons", copy)


def test_no_model_means_the_shipped_one_on_its_own_grid(exported, monkeypatch):
    monkeypatch.setattr(pretrained, "shipped_folder", lambda: exported / "out")
    registrar = Registrar("binn", device="cpu", spacing_mm=2.0)
    assert registrar.model_path == exported / "out" / "binn.safetensors"
    assert registrar.params == pretrained.SHIPPED_TEST_TIME  # its validated setting
    assert registrar.setting == format_setting({"alpha": 0.001, **pretrained.SHIPPED_TEST_TIME})
    raw = Registrar("binn", {"refine": 0}, device="cpu", spacing_mm=2.0)
    assert raw.objective is None and raw.setting == "alpha=0.001,refine=0"
    with pytest.raises(BinnInputError, match=r"1\.5 mm pixels but the network is on 2 mm"):
        Registrar("l2", device="cpu", spacing_mm=1.5)
    assert Registrar("demons").model_path is None


def test_fine_tuning_starts_from_the_given_model(exported, tmp_path):
    data = [exported / "s1.npz"], [exported / "s2.npz"]
    start = exported / "out" / "l2.safetensors"
    cfg = TrainConfig(method="l2", width=0.0625, steps=1, batch_size=2, lr=0.0, device="cpu")
    train_registration(*data, dataclasses.replace(cfg, init=str(start)), tmp_path / "ft.pt")
    tuned, meta = load_checkpoint(tmp_path / "ft.pt")
    first, _ = load_checkpoint(start)
    assert meta["init"] == {"model": str(start), "sha256": file_sha256(start)}
    start_weights = dict(first.named_parameters())
    for key, value in tuned.named_parameters():  # lr 0: still the initial weights
        assert torch.equal(value, start_weights[key]), key
    with pytest.raises(BinnInputError, match="is a l2 network, not binn"):
        wrong = dataclasses.replace(cfg, method="binn", init=str(start))
        train_registration(*data, wrong, tmp_path / "x.pt", exported / "prior" / "vae.pt")
    with pytest.raises(BinnInputError, match="width"):
        train_registration(
            *data, dataclasses.replace(cfg, width=0.125, init=str(start)), tmp_path / "y.pt"
        )


def test_the_shipped_models_match_their_card_and_track_a_phantom_as_it_says():
    """The files in pretrained/ load, match the card's checksums and sizes (10 MB at most
    in all), sit on the default grid, and track the card's phantom to the end-point error
    the card records (within 0.05 mm: float32 convolutions differ across CPUs in the last
    bits), well below no registration's."""
    folder = pretrained.shipped_folder()
    card = pretrained.read_card()
    assert set(card["models"]) == {"binn", "l2", "vae"}
    assert sum(e["bytes"] for e in card["models"].values()) <= 10 * 2**20
    for name, entry in card["models"].items():
        path = pretrained.shipped_model(name)
        assert path.stat().st_size == entry["bytes"]
    assert card["grid"] == {"size": 64, "spacing_mm": 2.0}
    assert "no real image or label" in card["trained_on"]
    for method in ("binn", "l2"):
        net, meta = load_checkpoint(folder / card["models"][method]["file"])
        assert meta["method"] == method and meta["setting"] == card["models"][method]["setting"]
        assert net.image_size == 64 and meta["spacing_mm"] == 2.0
        assert card["validation"][method]["n_subjects"] >= 1
        assert card["test"][method]["n_subjects"] >= 1
    binn_meta = load_checkpoint(folder / "binn.safetensors")[1]
    assert recorded_vae(binn_meta, folder / "binn.safetensors") == folder / "vae.safetensors"
    phantom = make_phantom(**card["check"]["phantom"])
    for method in ("binn", "l2"):
        result = pretrained.phantom_epe_mm(folder / f"{method}.safetensors", phantom)
        recorded = card["check"]["es_to_ed"][method]
        assert result["epe_mm"] == pytest.approx(recorded["epe_mm"], abs=0.05)
        assert result["epe_mm"] < 0.7 * result["no_registration_epe_mm"]


def test_track_without_a_model_uses_the_shipped_one_and_says_so(tmp_path):
    from binn.cli import main

    save_subject(tmp_path / "s.npz", make_phantom(seed=3, frames=4, slices=1), {})
    argv = ["track", "--data", str(tmp_path / "s.npz"), "--method", "binn"]
    assert main([*argv, "--out", str(tmp_path / "f.npz")]) == 0
    fields = np.load(tmp_path / "f.npz")
    recorded = json.loads(str(fields["provenance_json"]))["config"]["model"]
    assert recorded == str(pretrained.shipped_folder() / "binn.safetensors")


def test_code_version_ignores_only_the_folder_being_written(tmp_path, monkeypatch):
    """Snakemake removes a job's tracked outputs before it runs: the export's card must not
    call the commit dirty for that, but for any other change it must."""
    import subprocess

    from binn import provenance

    repo = tmp_path / "repo"
    (repo / "out").mkdir(parents=True)
    (repo / "out" / "model.bin").write_text("weights")
    (repo / "code.py").write_text("x = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    monkeypatch.setattr(provenance, "_REPO_ROOT", repo)
    provenance.code_version.cache_clear()
    (repo / "out" / "model.bin").unlink()
    assert provenance.code_version().endswith(".dirty")
    clean = provenance.code_version(written=repo / "out")
    assert "+g" in clean and not clean.endswith(".dirty")
    assert provenance.code_version(written=tmp_path / "elsewhere").endswith(".dirty")
    (repo / "code.py").write_text("x = 2\n")
    provenance.code_version.cache_clear()  # cached per process; the checkout changed
    assert provenance.code_version(written=repo / "out").endswith(".dirty")
    provenance.code_version.cache_clear()  # later tests see the real checkout
