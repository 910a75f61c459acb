"""Registration training (l2 and binn losses), the R_VAE traps, resume, tracking engine."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch

from binn.errors import BinnInputError
from binn.register.checkpoint import load_checkpoint
from binn.register.data.subject import CineSubject
from binn.register.losses import freeze, vae_penalty
from binn.register.network import RegistrationNet
from binn.register.track import Registrar, track_sequence
from binn.register.train import (
    PairSet,
    TrainConfig,
    registration_loss,
    resolve_precision,
    train_registration,
)

SIZE = 32


def toy_subject(seed: int, frames: int = 4, slices: int = 2, size: int = SIZE) -> CineSubject:
    """A textured ring whose radius and position change over the frames (frame 0 = ED)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    cy, cx = size / 2 + rng.uniform(-2, 2, 2)
    images = np.zeros((frames, slices, size, size), np.float32)
    labels = np.zeros((frames, slices, size, size), np.uint8)
    for t in range(frames):
        shrink = 1.0 - 0.25 * t / max(frames - 1, 1)
        for z in range(slices):
            r = np.hypot(yy - cy - 0.5 * t, xx - cx) / shrink
            inner, outer = 5.0 - z, 9.0 - z
            lab = np.where(r < inner, 3, np.where(r < outer, 2, 0)).astype(np.uint8)
            img = np.where(lab == 3, 0.9, np.where(lab == 2, 0.35, 0.1))
            img = img + 0.05 * np.sin(xx / 2.0 + z) * np.cos(yy / 3.0)
            images[t, z] = np.clip(img, 0, 1)
            labels[t, z] = lab
    return CineSubject(
        f"toy{seed}",
        images,
        labels[0].copy(),
        labels[-1].copy(),
        frames - 1,
        np.array([8.0, 1.5, 1.5]),
    )


def tiny_vae():
    from binn.learn.model import MotionVAE2D

    torch.manual_seed(0)
    return MotionVAE2D(image_size=SIZE, latent_dim=4, nf=4, max_norm=0.1)


def test_l2_training_lowers_validation_loss_writes_curves_and_resumes(tmp_path) -> None:
    train = [toy_subject(s) for s in (1, 2)]
    val = [toy_subject(3)]
    cfg = TrainConfig(
        method="l2",
        lam=0.01,
        width=0.0625,
        steps=30,
        batch_size=4,
        lr=1e-3,
        val_every=15,
        seed=0,
        device="cpu",
    )
    out = tmp_path / "m.pt"
    res = train_registration(train, val, cfg, out)
    assert res["best_val_loss"] < res["first_val_loss"]
    _net, meta = load_checkpoint(out, image_size=SIZE)
    assert (meta["method"], meta["width"], meta["image_size"]) == ("l2", 0.0625, SIZE)
    assert meta["setting"] == "lam=0.01" and meta["lam"] == 0.01
    rows = list(csv.DictReader(out.with_suffix(".curves.csv").open()))
    assert [int(r["step"]) for r in rows] == [0, 15, 30]
    assert out.with_suffix(".curves.png").stat().st_size > 0
    # a finished run is not retrained; the history is kept
    res2 = train_registration(train, val, cfg, out)
    assert res2["steps"] == 30 and res2["best_val_loss"] == res["best_val_loss"]
    # throughput counts the pairs this run trained on: 30 steps, then none
    assert res["train_pairs_per_second"] > 0 and math.isnan(res2["train_pairs_per_second"])
    assert len(list(csv.DictReader(out.with_suffix(".curves.csv").open()))) == 3


def test_resume_matches_uninterrupted_run(tmp_path) -> None:
    train, val = [toy_subject(1)], [toy_subject(3)]
    base = dict(method="l2", width=0.0625, batch_size=2, lr=1e-3, val_every=5, seed=1, device="cpu")
    full = train_registration(train, val, TrainConfig(steps=10, **base), tmp_path / "a.pt")
    # interrupted: train 5 steps, then continue the same run to 10 from its resume file
    part = tmp_path / "b.pt"
    train_registration(train, val, TrainConfig(steps=5, **base), part)
    resumed = train_registration(train, val, TrainConfig(steps=10, **base), part)
    assert resumed["best_val_loss"] == pytest.approx(full["best_val_loss"], rel=1e-5)


def test_vae_penalty_gradient_reaches_network_on_real_masks() -> None:
    """The reference code's trap: an empty (double-cropped) mask gives R_VAE no gradient."""
    subject = toy_subject(5)
    source, target, myo = PairSet([subject]).batch([0, 1])
    assert float(myo.mean()) > 0.05  # the ED myocardium is really there
    vae = freeze(tiny_vae())
    torch.manual_seed(0)
    net = RegistrationNet(0.0625, SIZE)
    # away from the identity: the bias-free VAE has R_VAE(0) = 0 with zero gradient
    torch.nn.init.normal_(net.head[-1].weight, std=0.05)
    field = net(source, target)
    assert float(field.detach().abs().max()) > 0.01
    vae_penalty(vae, field, myo).backward()
    grads = [p.grad.abs().sum() for p in net.parameters() if p.grad is not None]
    assert grads and float(sum(grads)) > 0
    assert all(p.grad is None for p in vae.parameters())
    # scoring uses the latent mean: the same field scores the same twice
    with torch.no_grad():
        f = field.detach()
        assert torch.equal(vae_penalty(vae, f, myo), vae_penalty(vae, f, myo))
    # the trap itself: with an empty (double-cropped) mask the network gets no gradient
    net.zero_grad()
    field = net(source, target)
    vae_penalty(vae, field, torch.zeros_like(myo)).backward()
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters() if p.grad is not None)


def test_binn_training_keeps_vae_frozen_and_needs_a_vae(tmp_path) -> None:
    vae = tiny_vae()
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    cfg = TrainConfig(
        method="binn",
        alpha=1e-3,
        width=0.0625,
        steps=6,
        batch_size=2,
        lr=1e-3,
        val_every=3,
        seed=0,
        device="cpu",
    )
    res = train_registration([toy_subject(1)], [toy_subject(2)], cfg, tmp_path / "b.pt", vae=vae)
    assert res["mask_coverage"] > 0.05
    for k, v in vae.state_dict().items():
        assert torch.equal(v, before[k]), k
    _, meta = load_checkpoint(tmp_path / "b.pt")
    assert meta["method"] == "binn" and meta["setting"] == "alpha=0.001"
    with pytest.raises(BinnInputError, match="needs a VAE"):
        train_registration([toy_subject(1)], [toy_subject(2)], cfg, tmp_path / "c.pt")


def test_track_sequence_network_and_classical(tmp_path) -> None:
    subject = toy_subject(7, frames=3)
    torch.manual_seed(0)
    net = RegistrationNet(0.0625, SIZE)
    res = track_sequence(subject.images, Registrar("l2", model=net, batch_size=4))
    assert res["fields"].shape == (3, 2, 2, SIZE, SIZE)
    assert np.all(res["fields"][0] == 0) and list(res["frames"]) == [0, 1, 2]
    assert res["ms_per_pair"] > 0
    res = track_sequence(
        subject.images, Registrar("demons", {"iterations": 20}), "es", subject.es_index
    )
    assert list(res["frames"]) == [0, 2] and res["fields"].shape == (2, 2, 2, SIZE, SIZE)
    assert np.abs(res["fields"][1]).max() > 0.1  # the ring moved and shrank


def test_model_of_other_crop_size_is_refused(tmp_path) -> None:
    from binn.register.checkpoint import save_checkpoint

    path = tmp_path / "m48.pt"
    save_checkpoint(path, RegistrationNet(0.0625, 48), method="l2", setting="lam=0.01")
    with pytest.raises(BinnInputError, match="crop size 48"):
        Registrar("l2", model=path, image_size=SIZE)
    with pytest.raises(BinnInputError, match="trained with method 'l2'"):
        Registrar("binn", model=path, image_size=48)


def test_pairs_are_gathered_per_batch_as_full_copies_would_be() -> None:
    subjects = [toy_subject(1, frames=4, slices=2), toy_subject(2, frames=3, slices=3)]
    pairs = PairSet(subjects)
    expected = [
        (s, t, z)
        for s in (0, 1)
        for t in range(1, subjects[s].frames)
        for z in range(subjects[s].slices)
    ]
    assert pairs.keys.tolist() == [list(k) for k in expected] and len(pairs) == 3 * 2 + 2 * 3
    source, target, myo = pairs.batch(torch.arange(len(pairs)))
    for i, (s, t, z) in enumerate(expected):
        np.testing.assert_array_equal(source[i, 0].numpy(), subjects[s].images[t, z])
        np.testing.assert_array_equal(target[i, 0].numpy(), subjects[s].images[0, z])
        np.testing.assert_array_equal(myo[i].numpy(), subjects[s].labels_ed[z] == 2)
    np.testing.assert_array_equal(pairs.spacing, [[1.5, 1.5], [1.5, 1.5]])
    assert pairs.myo_coverage() == pytest.approx(float(myo.mean()))
    # a validation subsample: fixed by its seed, at most max_pairs, from every subject
    sub = PairSet(subjects, max_pairs=5, seed=3)
    assert (
        len(sub) == 5 and sub.keys.tolist() == PairSet(subjects, max_pairs=5, seed=3).keys.tolist()
    )
    assert set(sub.keys[:, 0].tolist()) == {0, 1}
    assert {tuple(k) for k in sub.keys.tolist()} <= set(expected)
    assert sub.keys.tolist() != PairSet(subjects, max_pairs=5, seed=4).keys.tolist()
    src, tgt, _ = sub.batch(slice(0, 5))
    for i, (s, t, z) in enumerate(sub.keys.tolist()):
        np.testing.assert_array_equal(src[i, 0].numpy(), subjects[s].images[t, z])
        np.testing.assert_array_equal(tgt[i, 0].numpy(), subjects[s].images[0, z])
    assert len(PairSet(subjects, max_pairs=100)) == len(pairs)


def _weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=False)["state_dict"]


def test_killed_run_without_its_checkpoint_resumes_to_the_same_model(tmp_path, monkeypatch) -> None:
    """Snakemake deletes a killed job's outputs: the resume file alone must rebuild the model."""
    import binn.register.train as rt

    train, val = [toy_subject(1), toy_subject(2)], [toy_subject(3)]
    cfg = TrainConfig(
        method="l2",
        width=0.0625,
        steps=12,
        batch_size=2,
        lr=3e-3,
        val_every=4,
        seed=2,
        device="cpu",
    )
    full = train_registration(train, val, cfg, tmp_path / "a.pt")
    history = list(csv.DictReader((tmp_path / "a.curves.csv").open()))
    assert [int(r["step"]) for r in history] == [0, 4, 8, 12]
    # the checkpoint holds the best validation weights, whichever step they came from
    net, meta = load_checkpoint(tmp_path / "a.pt")
    best = min(history[1:], key=lambda r: float(r["val_loss"]))
    assert meta["step"] == int(best["step"]) == full["best_step"]
    assert meta["val_loss"] == pytest.approx(float(best["val_loss"]), rel=1e-6)
    assert rt.validate(net, PairSet(val), cfg, None, torch.device("cpu"))["loss"] == (
        pytest.approx(meta["val_loss"], rel=1e-5)
    )

    write_curves = rt._write_curves

    def killed_after_step_8(out, hist):  # runs right after the resume file is written
        write_curves(out, hist)
        if hist[-1]["step"] >= 8:
            raise KeyboardInterrupt

    monkeypatch.setattr(rt, "_write_curves", killed_after_step_8)
    with pytest.raises(KeyboardInterrupt):
        train_registration(train, val, cfg, tmp_path / "b.pt")
    assert (tmp_path / "b.resume.pt").is_file() and not (tmp_path / "b.pt").exists()
    monkeypatch.setattr(rt, "_write_curves", write_curves)
    resumed = train_registration(train, val, cfg, tmp_path / "b.pt")
    assert resumed["best_val_loss"] == full["best_val_loss"]
    a, b = _weights(tmp_path / "a.pt"), _weights(tmp_path / "b.pt")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0)


def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch, capsys) -> None:
    import io
    import sys

    cfg = TrainConfig(method="l2", width=0.0625, steps=2, batch_size=2, val_every=2, device="cpu")
    subjects = [toy_subject(1, frames=2, slices=1)]
    train_registration(subjects, subjects, cfg, tmp_path / "m.pt")
    assert "train-reg" not in capsys.readouterr().err  # a log file is not a terminal

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    train_registration(subjects, subjects, cfg, tmp_path / "n.pt")
    assert "train-reg l2" in terminal.getvalue()


def test_vae_of_another_pixel_spacing_is_refused(tmp_path, caplog) -> None:
    from binn.learn.checkpoint import save_checkpoint as save_vae
    from binn.register.checkpoint import training_vae
    from binn.register.data.subject import save_subject

    paths = []
    for seed in (1, 2):
        paths.append(tmp_path / f"s{seed}.npz")
        save_subject(paths[-1], toy_subject(seed, frames=2, slices=1), {})
    cfg = TrainConfig(method="binn", width=0.0625, steps=1, batch_size=2, val_every=1, device="cpu")
    vae = tmp_path / "vae.pt"
    save_vae(vae, tiny_vae(), spacing_mm=1.8)
    with pytest.raises(BinnInputError, match=r"the VAE is on 1\.8 mm pixels") as err:
        train_registration(paths[:1], paths[1:], cfg, tmp_path / "m.pt", vae_path=vae)
    assert str(vae) in str(err.value) and str(paths[0]) in str(err.value)
    assert not (tmp_path / "m.pt").exists()
    save_vae(vae, tiny_vae(), spacing_mm=1.5005)  # within binn.resample.SPACING_RTOL
    train_registration(paths[:1], paths[1:], cfg, tmp_path / "m.pt", vae_path=vae)
    meta = load_checkpoint(tmp_path / "m.pt")[1]
    assert meta["vae"] == "vae.pt"  # relative to the model's folder
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("m.pt", "vae.pt"):
        (tmp_path / name).rename(moved / name)
    assert training_vae(meta, moved / "m.pt", None) == moved / "vae.pt"
    (moved / "vae.pt").rename(vae)
    save_vae(vae, tiny_vae())  # an older checkpoint without spacing_mm: a warning
    with caplog.at_level("WARNING", logger="binn.register.train"):
        train_registration(paths[:1], paths[1:], cfg, tmp_path / "o.pt", vae_path=vae)
    assert "records no spacing_mm" in caplog.text


def test_resume_file_of_other_data_is_not_resumed(tmp_path, caplog) -> None:
    """Phantoms regenerated under the same names (Snakemake reruns training): start afresh."""
    base = dict(method="l2", width=0.0625, batch_size=2, lr=1e-3, val_every=3, seed=1, device="cpu")
    val = [toy_subject(3)]
    train_registration([toy_subject(1)], val, TrainConfig(steps=3, **base), tmp_path / "m.pt")
    fresh = train_registration(
        [toy_subject(2)], val, TrainConfig(steps=6, **base), tmp_path / "f.pt"
    )
    with caplog.at_level("WARNING", logger="binn.register.train"):
        other = train_registration(
            [toy_subject(2)], val, TrainConfig(steps=6, **base), tmp_path / "m.pt"
        )
    assert "other data" in caplog.text
    assert other["best_val_loss"] == fresh["best_val_loss"]
    a, b = _weights(tmp_path / "f.pt"), _weights(tmp_path / "m.pt")
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0)


def test_precision_resolves_to_what_the_device_computes_natively(monkeypatch) -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("float32", cpu) == "float32"
    assert resolve_precision("bfloat16", cpu) == "bfloat16"
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
    assert resolve_precision("auto", cpu) == "float32"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert resolve_precision("auto", cpu) == "bfloat16"
    with pytest.raises(BinnInputError, match="unknown precision 'float16'"):
        resolve_precision("float16", cpu)


def test_bfloat16_autocast_computes_the_float32_loss_and_gradient() -> None:
    """Autocast changes the network's arithmetic, not what it computes: from the same
    weights and batch, loss and weight gradient agree with float32 to bfloat16's accuracy
    (8 bits of mantissa), and the field stays float32."""
    torch.manual_seed(0)
    net = RegistrationNet(width=0.125, image_size=SIZE)
    with torch.no_grad():
        net.head[-1].weight.normal_(0.0, 0.05)  # a nonzero field
    source, target, myo = PairSet([toy_subject(1)]).batch(range(4))
    cfg = TrainConfig(method="l2", lam=0.01)
    results = []
    for mixed in (False, True):
        net.zero_grad()
        loss, _ = registration_loss(net, source, target, myo, cfg, None, mixed)
        loss.backward()
        grad = torch.cat([p.grad.flatten() for p in net.parameters()])
        results.append((loss, grad))
    (loss32, grad32), (loss16, grad16) = results
    assert loss16.dtype == torch.float32
    assert abs(float(loss16) - float(loss32)) < 1e-3 * float(loss32)  # measured 1e-4
    # the gradient sums many rounded products: close in direction (measured cosine 0.98,
    # relative error 0.2), and not identical (autocast really ran)
    cosine = torch.nn.functional.cosine_similarity(grad16, grad32, dim=0)
    relative = float(torch.linalg.norm(grad16 - grad32) / torch.linalg.norm(grad32))
    assert float(cosine) > 0.95 and 1e-4 < relative < 0.35


def test_bfloat16_training_learns_and_records_its_precision(tmp_path) -> None:
    cfg = TrainConfig(
        method="l2", width=0.0625, steps=30, batch_size=4, val_every=15, device="cpu",
        precision="bfloat16",
    )  # fmt: skip
    out = tmp_path / "m.pt"
    res = train_registration([toy_subject(1), toy_subject(2)], [toy_subject(3)], cfg, out)
    assert res["precision"] == "bfloat16" and res["best_val_loss"] < res["first_val_loss"]
    net, meta = load_checkpoint(out, image_size=SIZE)
    assert meta["train_config"]["precision"] == "bfloat16"
    assert all(p.dtype == torch.float32 for p in net.parameters())
