"""learn: training, checkpoints, R_VAE, the plausibility CLI and bad input.

One small VAE (32 px windows, 16 exact ring-inflation cases) is trained once per module.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from binn.cli import main as binn_main
from binn.errors import BinnInputError
from binn.io import save_npz
from binn.learn.checkpoint import save_checkpoint
from binn.learn.config import TrainConfig
from binn.learn.dataset import case_window, read_records
from binn.learn.evaluate import roc_auc, separation
from binn.learn.model import MotionVAE2D
from binn.learn.score import load_vae, r_vae
from binn.learn.train import TrainResult, artefact_paths, learning_rate, train_vae
from tests.learn_fixtures import write_failed_record, write_ring_records

SIZE = 32
SMALL = TrainConfig(
    image_size=SIZE, nf=8, lr=1e-3, batch_size=8, epochs=160, val_fraction=0.25, seed=0
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainResult, list[Path]]:
    root = tmp_path_factory.mktemp("vae")
    paths = write_ring_records(root / "cases", list(range(16)), size=SIZE, frames=10)
    failed = write_failed_record(root / "cases", "synth_0999", "mesh failed")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 32 px windows: threading overhead exceeds the work
    try:
        result = train_vae([*paths, failed], root / "vae.pt", SMALL, "cpu", root / "failed.csv")
    finally:
        torch.set_num_threads(threads)
    return result, paths


def test_training_lowers_validation_loss(trained: tuple[TrainResult, list[Path]]) -> None:
    result, _ = trained
    # the bias-free untrained VAE reconstructs ~0, so its loss is ~ the gradient energy itself
    assert result.best_val_loss < 0.5 * result.untrained_val_loss
    assert not set(result.train_cases) & set(result.val_cases)
    assert len(result.val_cases) == 4 and "synth_0999" not in result.train_cases


def test_checkpoint_and_artefacts(trained: tuple[TrainResult, list[Path]]) -> None:
    result, _ = trained
    data = torch.load(result.checkpoint, weights_only=True)
    for key in ("arch", "image_size", "latent_dim", "beta", "max_norm", "mask_dilation"):
        assert key in data
    assert data["arch"] == "MotionVAE2D" and data["image_size"] == SIZE
    assert data["spacing_mm"] == pytest.approx(1.8)  # the records' grid travels with the prior
    assert data["epoch"] == result.best_epoch and data["val_loss"] == result.best_val_loss
    paths = artefact_paths(result.checkpoint)
    rows = paths["csv"].read_text().splitlines()
    assert rows[0] == "epoch,train_loss,val_loss,seconds" and len(rows) == SMALL.epochs + 2
    for name in ("loss_png", "recon_png", "state"):
        assert paths[name].stat().st_size > 0
    failed_csv = (result.checkpoint.parent / "failed.csv").read_text().splitlines()
    assert failed_csv == ["case,reason", "synth_0999,mesh failed"]


def test_score_separates_mechanics_from_nonsense(
    trained: tuple[TrainResult, list[Path]],
) -> None:
    result, paths = trained
    vae = load_vae(result.checkpoint)
    records, _ = read_records(paths)
    held_out = [r for r in records if r.name in result.val_cases]
    sep = separation(vae, held_out, seed=1)
    assert sep.auc_per_corruption["folded"] >= 0.95
    assert sep.auc_per_corruption["smooth_random"] >= 0.9
    # energy-matched corruptions: gradient energy alone is at chance, the prior is not
    # (this small 32 px prior of 12 rings measured 0.79-0.84 against a control of 0.50)
    for name in ("shuffled_gradients", "compressible", "strain_reversed"):
        assert abs(sep.control_auc_per_corruption[name] - 0.5) < 0.1, name
        assert sep.auc_per_corruption[name] >= 0.7, (name, sep.auc_per_corruption)


def test_r_vae_differentiable_frozen_and_crop_consistent(
    trained: tuple[TrainResult, list[Path]],
) -> None:
    result, paths = trained
    vae = load_vae(result.checkpoint)
    assert not vae.training and all(not p.requires_grad for p in vae.parameters())
    rec = read_records(paths[:1])[0][0]
    field = torch.from_numpy(rec.disp[-2:]).requires_grad_(True)
    mask = torch.from_numpy(rec.mask).expand(2, *rec.mask.shape)
    score = r_vae(vae, field, mask)
    assert score.shape == (2,) and bool(torch.isfinite(score).all())
    score.sum().backward()
    assert field.grad is not None and float(field.grad.abs().sum()) > 0
    torch.testing.assert_close(r_vae(vae, field.double(), mask).float(), score, rtol=1e-4, atol=0)
    # a larger canvas is cropped around the LV: the same score as the LV-centred window
    window, _ = case_window(rec, SIZE, 0)
    win_mask = torch.from_numpy(rec.mask.astype(np.float32))
    from binn.learn.masks import crop_window, lv_centre

    win_mask = crop_window(win_mask, lv_centre(rec.mask, rec.cavity), SIZE)
    canvas = torch.zeros(1, 2, 56, 56)
    canvas_mask = torch.zeros(1, 56, 56)
    canvas[..., 9 : 9 + SIZE, 14 : 14 + SIZE] = window[-1:]
    canvas_mask[..., 9 : 9 + SIZE, 14 : 14 + SIZE] = win_mask
    with torch.no_grad():
        direct = r_vae(vae, window[-1:], win_mask[None])
        cropped = r_vae(vae, canvas, canvas_mask)
    torch.testing.assert_close(cropped, direct, rtol=1e-4, atol=1e-6)


def test_plausibility_cli(
    trained: tuple[TrainResult, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result, paths = trained
    rec = read_records(paths[-1:])[0][0]
    fields = tmp_path / "fields.npz"
    save_npz(fields, {}, disp=rec.disp, mask=rec.mask.astype(np.uint8))
    capsys.readouterr()
    assert (
        binn_main(["plausibility", str(fields), "--model", str(result.checkpoint), "--json"]) == 0
    )
    scores = json.loads(capsys.readouterr().out)["scores"]
    vae = load_vae(result.checkpoint)
    with torch.no_grad():
        m = torch.from_numpy(rec.mask).expand(rec.disp.shape[0], *rec.mask.shape)
        expected = r_vae(vae, torch.from_numpy(rec.disp), m).tolist()
    assert len(scores) == rec.disp.shape[0]
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    nan = rec.disp.copy()
    nan[2, 1, 3, 3] = np.inf
    save_npz(tmp_path / "nan.npz", {}, disp=nan, mask=rec.mask.astype(np.uint8))
    argv = ["plausibility", str(tmp_path / "nan.npz"), "--model", str(result.checkpoint), "--json"]
    assert binn_main(argv) == 2


def test_bad_checkpoints_and_inputs(
    trained: tuple[TrainResult, list[Path]], tmp_path: Path
) -> None:
    result, _ = trained
    with pytest.raises(BinnInputError, match="trained for 32 px"):
        load_vae(result.checkpoint, image_size=96)
    data = torch.load(result.checkpoint, weights_only=True)
    torch.save({**data, "arch": "UNet"}, tmp_path / "other.pt")
    with pytest.raises(BinnInputError, match="architecture"):
        load_vae(tmp_path / "other.pt")
    save_checkpoint(tmp_path / "wrong.pt", MotionVAE2D(image_size=48, latent_dim=32, nf=16))
    wrong = torch.load(tmp_path / "wrong.pt", weights_only=True)
    torch.save({**wrong, "image_size": SIZE}, tmp_path / "wrong.pt")
    with pytest.raises(BinnInputError, match="do not fit"):
        load_vae(tmp_path / "wrong.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BinnInputError, match="readable"):
        load_vae(tmp_path / "junk.pt")
    vae = load_vae(result.checkpoint)
    field = torch.zeros(2, 2, SIZE, SIZE)
    mask = torch.ones(2, SIZE, SIZE)
    with pytest.raises(BinnInputError, match="NaN"):
        r_vae(vae, field.index_fill(3, torch.tensor([4]), float("nan")), mask)
    with pytest.raises(BinnInputError, match="does not match"):
        r_vae(vae, field, mask[:, :-1])
    with pytest.raises(BinnInputError, match="expected"):
        r_vae(vae, field[:, :1], mask)


def test_roc_auc_known_values() -> None:
    assert roc_auc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 1.0
    assert roc_auc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 0.0
    assert roc_auc(np.array([1.0, 2.0]), np.array([1.0, 3.0])) == pytest.approx(0.625)


TINY = TrainConfig(image_size=16, nf=4, latent_dim=4, batch_size=4, epochs=2, val_fraction=0.5)


def test_constant_rate_run_resumes_to_train_longer(tmp_path: Path) -> None:
    paths = write_ring_records(tmp_path / "cases", [1, 2, 3], size=16, frames=4)
    two = TrainConfig(**{**TINY.__dict__, "lr_schedule": "constant"})
    straight = train_vae(paths, tmp_path / "a.pt", two, "cpu")
    one = TrainConfig(**{**two.__dict__, "epochs": 1})
    train_vae(paths, tmp_path / "b.pt", one, "cpu")
    resumed = train_vae(paths, tmp_path / "b.pt", two, "cpu")

    def losses(r: TrainResult) -> list[tuple[float, float]]:
        return [(h["train_loss"], h["val_loss"]) for h in r.history[1:]]

    assert losses(resumed) == losses(straight)
    a = torch.load(artefact_paths(tmp_path / "a.pt")["state"], weights_only=True)["model"]
    b = torch.load(artefact_paths(tmp_path / "b.pt")["state"], weights_only=True)["model"]
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, rtol=0, atol=0)
    # a state file of a different run is refused and nothing is overwritten
    before = (tmp_path / "b.pt").read_bytes()
    other = TrainConfig(**{**TINY.__dict__, "lr": 1e-3})
    with pytest.raises(BinnInputError, match="different training run"):
        train_vae(paths, tmp_path / "b.pt", other, "cpu")
    assert (tmp_path / "b.pt").read_bytes() == before


def test_train_vae_cli_bad_input(tmp_path: Path) -> None:
    failed = [write_failed_record(tmp_path, f"c{i}", "solver") for i in range(2)]
    out = tmp_path / "vae.pt"
    argv = ["train-vae", *map(str, failed), "--out", str(out), "--size", "16"]
    assert binn_main(argv) == 2
    assert not out.exists()
    one = write_ring_records(tmp_path, [7], size=16, frames=3)
    assert binn_main(["train-vae", str(one[0]), "--out", str(out), "--size", "16"]) == 2
    assert not out.exists() and not list(tmp_path.glob("vae.*"))
    paths = write_ring_records(tmp_path, [1, 2], size=16, frames=3)
    argv = [
        "train-vae",
        *map(str, paths),
        "--out",
        str(out),
        "--size",
        "16",
        "--nf",
        "4",
        "--latent",
        "4",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--val-fraction",
        "0.5",
        "--device",
        "cpu",
        "--failed-table",
        str(tmp_path / "failed.csv"),
    ]
    assert binn_main(argv) == 0
    assert load_vae(out, image_size=16).latent_dim == 4
    assert (tmp_path / "failed.csv").read_text().splitlines() == ["case,reason"]


def test_killed_run_without_its_checkpoint_resumes_to_the_same_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Snakemake deletes a killed job's outputs: the state file alone must rebuild VAE.pt."""
    import binn.learn.train as lt

    paths = write_ring_records(tmp_path / "cases", [1, 2, 3], size=16, frames=4)
    cfg = TrainConfig(**{**TINY.__dict__, "epochs": 3})
    straight = train_vae(paths, tmp_path / "a.pt", cfg, "cpu")
    epoch = lt._epoch

    def killed_in_epoch_3(model, opt, data, c, e, dev):
        if e == 3:
            raise KeyboardInterrupt
        return epoch(model, opt, data, c, e, dev)

    monkeypatch.setattr(lt, "_epoch", killed_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train_vae(paths, tmp_path / "b.pt", cfg, "cpu")
    assert artefact_paths(tmp_path / "b.pt")["state"].is_file()
    assert not (tmp_path / "b.pt").exists()  # the checkpoint is written only at the end
    monkeypatch.setattr(lt, "_epoch", epoch)
    resumed = train_vae(paths, tmp_path / "b.pt", cfg, "cpu")

    def losses(r: TrainResult) -> list[tuple[float, float]]:
        return [(h["train_loss"], h["val_loss"]) for h in r.history[1:]]

    assert losses(resumed) == losses(straight) and len(losses(straight)) == 3
    a = torch.load(tmp_path / "a.pt", weights_only=True)
    b = torch.load(tmp_path / "b.pt", weights_only=True)
    best = min(straight.history[1:], key=lambda h: h["val_loss"])
    assert a["epoch"] == b["epoch"] == best["epoch"] and a["val_loss"] == b["val_loss"]
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=0, atol=0)


def test_progress_bar_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import io
    import sys

    paths = write_ring_records(tmp_path / "cases", [1, 2], size=16, frames=3)
    one = TrainConfig(**{**TINY.__dict__, "epochs": 1})
    train_vae(paths, tmp_path / "a.pt", one, "cpu")
    assert "train VAE" not in capsys.readouterr().err  # a log file is not a terminal

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    train_vae(paths, tmp_path / "b.pt", one, "cpu")
    assert "train VAE" in terminal.getvalue()


def test_state_of_another_model_format_is_not_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state file written before the band-only loss (same settings and data) is refused."""
    paths = write_ring_records(tmp_path / "cases", [1, 2, 3], size=16, frames=4)
    one = TrainConfig(**{**TINY.__dict__, "epochs": 1})
    for module in ("binn.learn.model", "binn.learn.score"):  # the old code wrote and read "window"
        monkeypatch.setattr(f"{module}.RECONSTRUCTION", "window")
    train_vae(paths, tmp_path / "b.pt", one, "cpu")
    monkeypatch.undo()
    with pytest.raises(BinnInputError, match="different training run"):
        train_vae(paths, tmp_path / "b.pt", one, "cpu")


def test_cosine_learning_rate_known_values() -> None:
    cfg = TrainConfig(lr=1e-3, epochs=4)
    rates = [learning_rate(cfg, e) for e in range(1, 5)]
    assert rates == pytest.approx([1e-3, 1e-3 * (1 + 2**-0.5) / 2, 5e-4, 1e-3 * (1 - 2**-0.5) / 2])
    constant = TrainConfig(lr=1e-3, epochs=4, lr_schedule="constant")
    assert [learning_rate(constant, e) for e in range(1, 5)] == [1e-3] * 4


def test_cosine_run_is_not_resumed_under_another_length(tmp_path: Path) -> None:
    """The annealed rate of each epoch depends on the total: epochs are part of the run."""
    paths = write_ring_records(tmp_path / "cases", [1, 2, 3], size=16, frames=4)
    one = TrainConfig(**{**TINY.__dict__, "epochs": 1})
    train_vae(paths, tmp_path / "b.pt", one, "cpu")
    with pytest.raises(BinnInputError, match="different training run"):
        train_vae(paths, tmp_path / "b.pt", TINY, "cpu")


def test_optimiser_follows_the_schedule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import binn.learn.train as lt

    paths = write_ring_records(tmp_path / "cases", [1, 2, 3], size=16, frames=4)
    cfg = TrainConfig(**{**TINY.__dict__, "epochs": 3, "lr": 1e-3})
    seen: list[float] = []
    epoch = lt._epoch

    def recording(model, opt, data, c, e, dev):
        loss = epoch(model, opt, data, c, e, dev)
        seen.append(opt.param_groups[0]["lr"])
        return loss

    monkeypatch.setattr(lt, "_epoch", recording)
    train_vae(paths, tmp_path / "a.pt", cfg, "cpu")
    assert seen == pytest.approx([1e-3, 7.5e-4, 2.5e-4])


def test_state_of_other_data_is_not_resumed(tmp_path: Path, caplog) -> None:
    """Cases re-simulated under the same names (Snakemake reruns train-vae): start afresh."""
    old = write_ring_records(tmp_path / "old", [1, 2, 3], size=16, frames=4)
    new = write_ring_records(tmp_path / "new", [1, 2, 3], size=16, frames=5)
    one = TrainConfig(**{**TINY.__dict__, "epochs": 1})
    train_vae(old, tmp_path / "b.pt", one, "cpu")
    with pytest.raises(BinnInputError, match="different training run"):
        train_vae(new, tmp_path / "b.pt", one, "cpu")  # the checkpoint is kept
    (tmp_path / "b.pt").unlink()  # as Snakemake does before rerunning the job
    with caplog.at_level("WARNING", logger="binn.learn.train"):
        rerun = train_vae(new, tmp_path / "b.pt", one, "cpu")
    assert "training afresh" in caplog.text
    fresh = train_vae(new, tmp_path / "c.pt", one, "cpu")
    assert [h["val_loss"] for h in rerun.history] == [h["val_loss"] for h in fresh.history]
