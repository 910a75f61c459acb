"""Recorded paths resolve against the file that records them: a network's VAE is looked up
in the model's folder, never the current one, and a missing or different file is an error
(or, for the optional R_VAE score, a stated skip), never another file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from binn.errors import BinnInputError
from binn.learn.checkpoint import save_checkpoint as save_vae
from binn.register.checkpoint import (
    VAE_DIGEST_KEY,
    VAE_KEY,
    file_sha256,
    load_checkpoint,
    recorded_vae,
    scoring_vae,
    training_vae,
    vae_record,
)
from binn.register.data.subject import save_subject
from binn.register.track import Registrar
from binn.register.train import TrainConfig, train_registration
from tests.test_register_train import SIZE, toy_subject


def _vae(seed: int):
    """A tiny VAE whose weights depend on ``seed`` (two seeds: two different priors)."""
    from binn.learn.model import MotionVAE2D

    torch.manual_seed(seed)
    return MotionVAE2D(image_size=SIZE, latent_dim=4, nf=4, max_norm=0.1)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """``run/models/m.pt`` trained (binn, 1 step) with ``run/prior/vae.pt``: the model
    records its VAE as ``../prior/vae.pt``."""
    run = tmp_path_factory.mktemp("recorded") / "run"
    data = []
    for seed in (1, 2):
        data.append(run / "data" / f"s{seed}.npz")
        save_subject(data[-1], toy_subject(seed, frames=2, slices=1), {})
    save_vae(run / "prior" / "vae.pt", _vae(0), spacing_mm=1.5)
    cfg = TrainConfig(method="binn", width=0.0625, steps=1, batch_size=2, val_every=1, device="cpu")
    train_registration(data[:1], data[1:], cfg, run / "models" / "m.pt", run / "prior" / "vae.pt")
    return run


def test_the_model_records_its_vae_relative_to_itself_with_a_digest(trained: Path) -> None:
    meta = load_checkpoint(trained / "models" / "m.pt")[1]
    assert meta[VAE_KEY] == "../prior/vae.pt"
    assert meta[VAE_DIGEST_KEY] == file_sha256(trained / "prior" / "vae.pt")
    assert len(meta[VAE_DIGEST_KEY]) == 64


def test_the_record_does_not_depend_on_the_current_folder(tmp_path, monkeypatch) -> None:
    (tmp_path / "a" / "prior").mkdir(parents=True)
    save_vae(tmp_path / "a" / "prior" / "vae.pt", _vae(0))
    monkeypatch.chdir(tmp_path)
    from_top = vae_record(Path("a/prior/vae.pt"), Path("a/models/m.pt"))
    monkeypatch.chdir(tmp_path / "a" / "prior")
    from_inside = vae_record(Path("vae.pt"), Path("../models/m.pt"))
    assert from_top == from_inside
    assert from_top[VAE_KEY] == "../prior/vae.pt"
    with pytest.raises(BinnInputError, match="does not exist"):
        vae_record(Path("missing.pt"), Path("m.pt"))


def test_a_moved_run_loads_its_own_vae_not_the_current_folders(
    trained: Path, tmp_path, monkeypatch
) -> None:
    """Move the model + VAE folder; work from a folder holding garbage ``vae.pt`` files at
    every path a current-folder lookup would try: the model's own VAE loads."""
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(trained, moved)
    work = tmp_path / "work"
    (work / "prior").mkdir(parents=True)
    for garbage in (work / "vae.pt", work / "prior" / "vae.pt", tmp_path / "prior" / "vae.pt"):
        garbage.parent.mkdir(parents=True, exist_ok=True)
        garbage.write_bytes(b"not a VAE")
    monkeypatch.chdir(work)
    model = moved / "models" / "m.pt"
    meta = load_checkpoint(model)[1]
    assert training_vae(meta, model, None) == moved / "models" / "../prior/vae.pt"
    path, note = scoring_vae(meta, model, None)
    assert path is not None and path.resolve() == (moved / "prior" / "vae.pt").resolve()
    assert "recorded in the model" in note
    registrar = Registrar("binn", {"refine": 1}, model=model, device="cpu")
    assert registrar.objective is not None
    assert _same_weights(registrar.objective.vae, _vae(0))  # the trained-with prior, frozen


def test_a_missing_recorded_vae_is_an_error_or_a_stated_skip(
    trained: Path, tmp_path, monkeypatch
) -> None:
    moved = tmp_path / "run"
    shutil.copytree(trained, moved)
    (moved / "prior" / "vae.pt").unlink()
    monkeypatch.chdir(moved / "models")
    (moved / "models" / "vae.pt").write_bytes((trained / "prior" / "vae.pt").read_bytes())
    model = moved / "models" / "m.pt"
    meta = load_checkpoint(model)[1]
    with pytest.raises(BinnInputError) as err:
        training_vae(meta, model, None)
    message = str(err.value)
    assert str(model) in message and "'../prior/vae.pt'" in message
    assert str(moved / "models" / "../prior/vae.pt") in message and "--vae" in message
    with pytest.raises(BinnInputError, match="missing"):
        Registrar("binn", {"refine": 1}, model=model, device="cpu")
    path, note = scoring_vae(meta, model, None)
    assert path is None
    assert note.startswith("R_VAE skipped") and "'../prior/vae.pt'" in note and "missing" in note
    override = moved / "models" / "vae.pt"  # the person names it: that one is used
    assert training_vae(meta, model, override) == override
    assert scoring_vae(meta, model, override) == (override, f"VAE {override} (--vae)")


def test_another_vae_at_the_recorded_path_is_refused(trained: Path, tmp_path) -> None:
    moved = tmp_path / "run"
    shutil.copytree(trained, moved)
    save_vae(moved / "prior" / "vae.pt", _vae(1), spacing_mm=1.5)  # retrained in place
    model = moved / "models" / "m.pt"
    meta = load_checkpoint(model)[1]
    for lookup in (recorded_vae, training_vae, scoring_vae):
        with pytest.raises(BinnInputError, match="not the VAE the model was trained with"):
            lookup(meta, model)


def test_records_without_a_model_file_or_digest() -> None:
    """An older record (no digest) still resolves; a relative record of an in-memory network
    cannot, and says so; no record at all is stated."""
    with pytest.raises(BinnInputError, match="given in memory"):
        recorded_vae({VAE_KEY: "vae.pt"}, None)
    assert recorded_vae({}, Path("m.pt")) is None
    with pytest.raises(BinnInputError, match="does not record the VAE"):
        training_vae({}, Path("m.pt"), None)
    assert scoring_vae({}, Path("m.pt"), None) == (
        None,
        "R_VAE skipped: no --vae given and the model records no VAE",
    )
    assert scoring_vae({}, None, None)[1] == "R_VAE skipped: no --vae given"


def test_an_older_record_without_digest_resolves_against_the_model(tmp_path) -> None:
    (tmp_path / "m").mkdir()
    save_vae(tmp_path / "m" / "vae.pt", _vae(0))
    assert recorded_vae({VAE_KEY: "vae.pt"}, tmp_path / "m" / "m.pt") == tmp_path / "m" / "vae.pt"
    absolute = tmp_path / "m" / "vae.pt"
    assert recorded_vae({VAE_KEY: str(absolute)}, tmp_path / "x.pt") == absolute


def test_binn_track_refines_with_the_moved_models_vae(trained: Path, tmp_path, monkeypatch):
    """The command line, run from a folder whose ``vae.pt`` is garbage: the model's own VAE
    refines the fields (a garbage file loaded would be bad input, exit 2)."""
    from binn.cli import main

    moved = tmp_path / "moved"
    shutil.copytree(trained, moved)
    work = tmp_path / "work"
    work.mkdir()
    (work / "vae.pt").write_bytes(b"not a VAE")
    monkeypatch.chdir(work)
    argv = ["track", "--data", str(moved / "data" / "s1.npz"), "--method", "binn", "--model",
            str(moved / "models" / "m.pt"), "--param", "refine=1", "--device", "cpu"]  # fmt: skip
    assert main([*argv, "--out", "fields.npz"]) == 0
    assert (work / "fields.npz").is_file()
    (moved / "prior" / "vae.pt").unlink()
    assert main([*argv, "--out", "again.npz"]) == 2  # missing: an error, not ./vae.pt
    assert not (work / "again.npz").exists()
