"""The registration command line (train-reg, track, selection files, refinement options)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from binn.cli import main
from binn.errors import BinnInputError
from binn.io import load_npz
from binn.provenance import provenance
from binn.register.checkpoint import save_checkpoint
from binn.register.data.phantom import make_phantom
from binn.register.data.subject import load_subject, save_subject
from binn.register.network import RegistrationNet

SIZE = 32


@pytest.fixture(scope="module")
def subject_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "s.npz"
    save_subject(path, make_phantom(3, frames=4, slices=1, size=SIZE), provenance({}, 3))
    return path


def test_track_classical_with_params(subject_file, tmp_path) -> None:
    out = tmp_path / "f.npz"
    argv = [
        "track",
        "--data",
        str(subject_file),
        "--method",
        "demons",
        "--param",
        "iterations=10",
        "--frames",
        "es",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    f = load_npz(out, required={"fields": 5, "frames": 1})
    assert f["fields"].shape == (2, 1, 2, SIZE, SIZE) and np.all(f["fields"][0] == 0)
    # unnamed parameters are the validated setting (demons sigma=2 on the 2.0 mm grid)
    assert str(f["method"]) == "demons" and str(f["setting"]) == "iterations=10,sigma=2"
    assert str(f["subject"]) == load_subject(subject_file).name
    np.testing.assert_array_equal(f["spacing"], load_subject(subject_file).spacing)
    assert json.loads(str(f["geometry_json"]))["shape_zyx"] == [1, SIZE, SIZE]
    assert float(f["ms_per_pair"]) > 0 and float(f["seconds"]) > 0


def test_track_network_from_selection_fills_setting(subject_file, tmp_path) -> None:
    save_checkpoint(
        tmp_path / "l2_lam=0.01.pt",
        RegistrationNet(0.0625, SIZE),
        method="l2",
        setting="lam=0.01",
        spacing_mm=2.0,
    )
    sel = tmp_path / "select.json"
    sel.write_text(json.dumps({"method": "l2", "setting": "lam=0.01", "params": {"lam": 0.01}}))
    out = tmp_path / "f.npz"
    argv = [
        "track",
        "--data",
        str(subject_file),
        "--selection",
        str(sel),
        "--model",
        str(tmp_path / "l2_{setting}.pt"),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    f = load_npz(out)
    assert f["fields"].shape == (4, 1, 2, SIZE, SIZE) and list(f["frames"]) == [0, 1, 2, 3]
    assert str(f["setting"]) == "lam=0.01" and str(f["method"]) == "l2"


def test_track_out_dir_tracks_each_subject_as_a_single_run_would(tmp_path) -> None:
    """One process over several subjects writes, per subject, what ``--out`` writes alone."""
    files = []
    for seed in (4, 5):
        path = tmp_path / f"subj{seed}.npz"
        save_subject(path, make_phantom(seed, frames=4, slices=1, size=SIZE), provenance({}, seed))
        files.append(path)
    demons = ["--method", "demons", "--param", "iterations=10"]
    assert (
        main(["track", "--data", *map(str, files), *demons, "--out-dir", str(tmp_path / "d")]) == 0
    )
    for path in files:
        alone = tmp_path / f"alone_{path.name}"
        assert main(["track", "--data", str(path), *demons, "--out", str(alone)]) == 0
        batched = load_npz(tmp_path / "d" / path.name)
        assert str(batched["subject"]) == load_subject(path).name
        np.testing.assert_array_equal(batched["fields"], load_npz(alone)["fields"])
    # --out names one file: two subjects are refused, nothing written
    assert (
        main(["track", "--data", *map(str, files), *demons, "--out", str(tmp_path / "x.npz")]) == 2
    )
    assert not (tmp_path / "x.npz").exists()


def test_track_evaluate_scores_what_track_and_evaluate_give(tmp_path) -> None:
    """``binn track-evaluate`` (the workflow's job) writes the fields ``track --out-dir``
    writes and the metrics ``evaluate`` computes from them."""
    import pandas as pd

    files = []
    for seed in (6, 7):
        path = tmp_path / f"subj{seed}.npz"
        save_subject(path, make_phantom(seed, frames=4, slices=1, size=SIZE), provenance({}, seed))
        files.append(str(path))
    demons = ["--method", "demons", "--param", "iterations=10", "--frames", "es"]
    one = ["--experiment", "validation", "--out-dir", str(tmp_path / "a")]
    one += ["--metrics", str(tmp_path / "a.csv"), "--curves", str(tmp_path / "a.curves.csv")]
    assert main(["track-evaluate", "--data", *files, *demons, *one]) == 0
    assert main(["track", "--data", *files, *demons, "--out-dir", str(tmp_path / "b")]) == 0
    b_fields = [str(tmp_path / "b" / Path(f).name) for f in files]
    argv = ["evaluate", "--data", *files, "--fields", *b_fields, "--experiment", "validation"]
    assert main([*argv, "--out", str(tmp_path / "b.csv")]) == 0
    for f in files:
        a = load_npz(tmp_path / "a" / Path(f).name)["fields"]
        np.testing.assert_array_equal(a, load_npz(tmp_path / "b" / Path(f).name)["fields"])
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert len(a) == 2 and a["dice"].between(0, 1).all()
    timing = ["ms_per_pair"]  # the only column that differs between two runs
    pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing))


def test_bad_input_exit_code_2(subject_file, tmp_path) -> None:
    save_checkpoint(
        tmp_path / "m48.pt", RegistrationNet(0.0625, 48), method="l2", setting="x", spacing_mm=2.0
    )
    out = tmp_path / "f.npz"
    base = ["track", "--data", str(subject_file), "--out", str(out)]
    assert main([*base, "--method", "l2", "--model", str(tmp_path / "m48.pt")]) == 2
    assert main([*base, "--method", "l2"]) == 2  # no model
    assert main([*base, "--method", "demons", "--param", "bogus=1"]) == 2
    assert main([*base, "--method", "demons", "--param", "refine=10"]) == 2  # no network
    assert (
        main(
            ["track", "--data", str(tmp_path / "none.npz"), "--method", "demons", "--out", str(out)]
        )
        == 2
    )
    assert not out.exists()


def test_train_reg_cli(subject_file, tmp_path) -> None:
    out = tmp_path / "m.pt"
    argv = [
        "train-reg",
        "--train",
        str(subject_file),
        "--val",
        str(subject_file),
        "--method",
        "l2",
        "--out",
        str(out),
        "--width",
        "0.0625",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--val-every",
        "1",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    assert out.is_file() and out.with_suffix(".curves.csv").is_file()
    import torch

    ckpt = torch.load(out, weights_only=False)
    assert ckpt["spacing_mm"] == 2.0 and ckpt["image_size"] == SIZE  # the grid it learnt on
    assert main([*argv[:6], "binn", *argv[7:]]) == 2  # binn without --vae
    # an existing --out is refused unless --force, and left as it was
    before = out.read_bytes()
    assert main([*argv, "--steps", "1"]) == 2 and out.read_bytes() == before
    assert main([*argv, "--steps", "1", "--force"]) == 0 and out.read_bytes() != before


def test_track_refines_a_network_and_records_its_setting(subject_file, tmp_path) -> None:
    model = tmp_path / "l2.pt"
    save_checkpoint(
        model, RegistrationNet(0.0625, SIZE), method="l2", lam=0.01, setting="lam=0.01",
        spacing_mm=2.0,
    )  # fmt: skip
    out = tmp_path / "f.npz"
    argv = ["track", "--data", str(subject_file), "--method", "l2", "--model", str(model)]
    argv += ["--frames", "es", "--device", "cpu", "--param", "refine=1e1", "--out", str(out)]
    assert main(argv) == 0
    f = load_npz(out)
    assert str(f["setting"]) == "lam=0.01,refine=10" and f["refine_failures"].size == 0
    assert np.abs(f["fields"][1]).max() > 0  # the zero-initialised network field was refined


def test_track_selection_of_a_refined_setting_finds_the_trained_model(
    subject_file, tmp_path
) -> None:
    save_checkpoint(
        tmp_path / "l2_lam=0.01.pt",
        RegistrationNet(0.0625, SIZE),
        method="l2",
        lam=0.01,
        setting="lam=0.01",
        spacing_mm=2.0,
    )
    sel = tmp_path / "select.json"
    sel.write_text(json.dumps({"method": "l2", "setting": "lam=0.01,refine=3"}))
    out = tmp_path / "f.npz"
    argv = ["track", "--data", str(subject_file), "--selection", str(sel), "--frames", "es"]
    argv += ["--model", str(tmp_path / "l2_{setting}.pt"), "--device", "cpu", "--out", str(out)]
    assert main(argv) == 0
    assert str(load_npz(out)["setting"]) == "lam=0.01,refine=3"


def test_train_reg_defaults_are_the_workflow_defaults() -> None:
    """``binn train-reg`` without options trains as the workflow does (config/config.yaml)."""
    from pathlib import Path

    import yaml

    from binn.cli import build_parser

    cfg = yaml.safe_load((Path(__file__).parents[1] / "config" / "config.yaml").read_text())
    args = build_parser().parse_args(
        ["train-reg", "--train", "a", "--val", "b", "--method", "l2", "--out", "m.pt"]
    )
    reg = cfg["register"]
    assert (args.width, args.steps, args.lr, args.batch_size, args.precision) == (
        reg["width"],
        reg["steps"],
        reg["lr"],
        reg["batch_size"],
        reg["precision"],
    )


def test_track_threads_give_the_serial_fields(subject_file, tmp_path) -> None:
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.npz"
        argv = ["track", "--data", str(subject_file), "--method", "demons", "--param"]
        argv += ["iterations=5", "--threads", str(threads), "--out", str(out)]
        assert main(argv) == 0
        outs.append(load_npz(out)["fields"])
    np.testing.assert_array_equal(outs[0], outs[1])


def test_track_library_takes_a_typed_request_and_writes_what_the_command_writes(
    subject_file, tmp_path
) -> None:
    """``track_subjects`` (no argparse) writes the fields ``binn track`` writes."""
    from binn.register.config import TrackOptions
    from binn.register.track import TrackRequest, track_subjects

    request = TrackRequest(
        data=(subject_file,),
        outs=(tmp_path / "lib.npz",),
        method="demons",
        params={"iterations": 10.0},
        options=TrackOptions(frames="es"),
    )
    assert track_subjects(request) == [tmp_path / "lib.npz"]
    argv = ["track", "--data", str(subject_file), "--method", "demons", "--param"]
    argv += ["iterations=10", "--frames", "es", "--out", str(tmp_path / "cli.npz")]
    assert main(argv) == 0
    lib, cli = load_npz(tmp_path / "lib.npz"), load_npz(tmp_path / "cli.npz")
    np.testing.assert_array_equal(lib["fields"], cli["fields"])
    assert str(lib["setting"]) == str(cli["setting"]) == "iterations=10,sigma=2"
    with pytest.raises(BinnInputError, match="output files"):
        track_subjects(TrackRequest(data=(subject_file,), outs=(), method="demons"))


def test_resolve_method_merges_a_selection_and_fills_the_model_path(tmp_path) -> None:
    from binn.register.track import MethodChoice, resolve_method

    sel = tmp_path / "select.json"
    sel.write_text(json.dumps({"method": "ffd", "setting": "grid=8,penalty=0.01"}))
    choice = resolve_method(params={"penalty": 0.1}, selection=sel)
    assert choice == MethodChoice("ffd", {"grid": 8.0, "penalty": 0.1}, None)
    sel.write_text(json.dumps({"method": "binn", "setting": "alpha=0.01,refine=50"}))
    choice = resolve_method(selection=sel, model=str(tmp_path / "binn_{setting}.pt"))
    assert choice == MethodChoice("binn", {"refine": 50.0}, tmp_path / "binn_alpha=0.01.pt")
    with pytest.raises(BinnInputError, match="selects method 'binn'"):
        resolve_method("l2", selection=sel)
    with pytest.raises(BinnInputError, match="no selection"):
        resolve_method("l2", model="m_{setting}.pt")
    with pytest.raises(BinnInputError, match="give a method"):
        resolve_method()


def test_networks_on_another_grid_are_refused_naming_both_spacings(subject_file, tmp_path):
    """A network trained at 1.5 mm is not applied to 2.0 mm pixels; one whose checkpoint
    records no grid (trained before binn recorded it) is refused too."""
    out = tmp_path / "f.npz"
    base = ["track", "--data", str(subject_file), "--method", "l2", "--out", str(out)]
    for name, extra in (("m15.pt", {"spacing_mm": 1.5}), ("old.pt", {})):
        net = RegistrationNet(0.0625, SIZE)
        save_checkpoint(tmp_path / name, net, method="l2", setting="lam=0.01", **extra)
    with pytest.raises(
        BinnInputError, match=r"data is on 2 mm pixels but the network is on 1.5 mm"
    ):
        from binn.register.track import Registrar

        Registrar("l2", model=tmp_path / "m15.pt", image_size=SIZE, spacing_mm=2.0)
    assert main([*base, "--model", str(tmp_path / "m15.pt")]) == 2
    assert main([*base, "--model", str(tmp_path / "old.pt")]) == 2
    with pytest.raises(BinnInputError, match="records no grid spacing"):
        Registrar("l2", model=tmp_path / "old.pt", image_size=SIZE, spacing_mm=2.0)
    # --spacing-mm names the grid the subject files must be on
    assert main(["track", "--data", str(subject_file), "--method", "demons", "--param",
                 "iterations=2", "--spacing-mm", "1.5", "--out", str(out)]) == 2  # fmt: skip
    assert not out.exists()


def test_train_reg_refuses_validation_data_on_another_grid(subject_file, tmp_path):
    other = tmp_path / "s15.npz"
    save_subject(other, make_phantom(4, frames=4, slices=1, size=SIZE, spacing_mm=1.5), {})
    argv = ["train-reg", "--train", str(subject_file), "--val", str(other), "--method", "l2",
            "--out", str(tmp_path / "m.pt"), "--width", "0.0625", "--steps", "1",
            "--batch-size", "2", "--device", "cpu"]  # fmt: skip
    from binn.register.train import TrainConfig, train_registration

    cfg = TrainConfig(width=0.0625, steps=1, batch_size=2, device="cpu")
    with pytest.raises(BinnInputError, match=r"1.5 mm pixels but training subject .* 2 mm"):
        train_registration([subject_file], [other], cfg, tmp_path / "m.pt")
    assert main(argv) == 2 and not (tmp_path / "m.pt").exists()


def test_phantom_and_import_refuse_an_existing_out_unless_force(tmp_path):
    out = tmp_path / "p.npz"
    assert main(["phantom", "--seed", "1", "--frames", "4", "--slices", "1", "--size", "32",
                 "--out", str(out)]) == 0  # fmt: skip
    before = out.read_bytes()
    again = ["phantom", "--seed", "2", "--frames", "4", "--slices", "1", "--size", "32",
             "--out", str(out)]  # fmt: skip
    assert main(again) == 2 and out.read_bytes() == before
    assert main([*again, "--force"]) == 0 and out.read_bytes() != before
    (tmp_path / "folder.npz").mkdir()
    assert main([*again[:-1], str(tmp_path / "folder.npz"), "--force"]) == 2
    assert (tmp_path / "folder.npz").is_dir()
    # a temporary left by a hard kill is removed on the next run
    stale = tmp_path / ".p.npz.abcd1234.npz"
    stale.write_bytes(b"half")
    assert main([*again, "--force"]) == 0 and not stale.exists()
