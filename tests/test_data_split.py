"""Subject-level split of real data: deterministic, stratified, disjoint; bad input named."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from binn.errors import BinnInputError
from binn.register.data.cli import add_data_commands
from binn.register.data.split import SPLITS, make_split, split_table
from tests.workflow_helpers import write_acdc_dataset, write_acdc_subject


def test_split_is_deterministic_stratified_and_disjoint(tmp_path: Path) -> None:
    names = write_acdc_dataset(tmp_path / "acdc", {"NOR": 5, "DCM": 5})
    split = make_split(tmp_path / "acdc", "acdc", val_fraction=0.2, test_fraction=0.2, seed=3)
    parts = [set(split[s]) for s in SPLITS]
    assert set().union(*parts) == set(names)
    assert sum(len(p) for p in parts) == len(names)  # disjoint
    assert [len(p) for p in parts] == [6, 2, 2]
    for s in ("val", "test"):  # one of each group in val and in test
        assert sorted(split["subjects"][n]["group"] for n in split[s]) == ["DCM", "NOR"]
    assert split["excluded"] == {}
    assert split["seed"] == 3
    # the same subjects listed in another order give the same split; another seed another one
    again = make_split(tmp_path / "acdc", "acdc", seed=3, subjects=names[::-1])
    assert all(again[s] == split[s] for s in SPLITS)
    seeds = {tuple(make_split(tmp_path / "acdc", "acdc", seed=k)["test"]) for k in range(6)}
    assert len(seeds) > 1


def test_unusable_subjects_are_excluded_with_reasons(tmp_path: Path) -> None:
    root = tmp_path / "acdc"
    write_acdc_dataset(root, {"NOR": 4, "DCM": 4})
    write_acdc_subject(root, "patient100", "NOR", seed=100, es_labels=False)
    write_acdc_subject(root, "patient101", "HCM", seed=101)  # a group of one
    write_acdc_subject(root, "patient102", "DCM", seed=0)  # the same ED image as patient000
    write_acdc_subject(root, "patient103", "NOR", seed=103)
    (root / "patient103" / "Info.cfg").write_text("ED: 1\nGroup: NOR\n")  # no ES frame
    split = make_split(root, "acdc", seed=0)
    excluded = split["excluded"]
    assert set(excluded) == {"patient100", "patient101", "patient102", "patient103"}
    assert "patient100_frame02_gt.nii.gz" in excluded["patient100"]
    assert "HCM" in excluded["patient101"]
    assert "patient000" in excluded["patient102"]
    assert "Info.cfg: no valid 1-based 'ES: N' line" in excluded["patient103"]
    assert not set(excluded) & {n for s in SPLITS for n in split[s]}
    table = split_table(split)
    assert table.count("excluded") == 4 and table.splitlines()[0].startswith("subject,split")


def test_too_few_subjects_is_an_error(tmp_path: Path) -> None:
    write_acdc_dataset(tmp_path / "acdc", {"NOR": 2})
    with pytest.raises(BinnInputError, match="too few usable subjects"):
        make_split(tmp_path / "acdc", "acdc")


def test_test_directory_sharing_an_image_keeps_the_test_subject(tmp_path: Path) -> None:
    write_acdc_dataset(tmp_path / "train", {"NOR": 3, "DCM": 3})
    write_acdc_subject(tmp_path / "test", "patient118", "DCM", seed=4)  # = training patient004
    write_acdc_subject(tmp_path / "test", "patient119", "NOR", seed=119)
    split = make_split(tmp_path / "train", "acdc", test_dir=tmp_path / "test", seed=0)
    assert split["test"] == ["patient118", "patient119"]
    assert "patient118" in split["excluded"]["patient004"]
    assert "patient004" not in split["train"] + split["val"]
    test_subject = (tmp_path / "test" / "patient118").resolve()
    assert split["subjects"]["patient118"]["dir"] == str(test_subject)
    # a name present in both directories is an error, not a guess
    write_acdc_subject(tmp_path / "test", "patient000", "NOR", seed=500)
    with pytest.raises(BinnInputError, match="patient000"):
        make_split(tmp_path / "train", "acdc", test_dir=tmp_path / "test")


def test_split_command_writes_json_and_nothing_on_error(tmp_path: Path) -> None:
    write_acdc_dataset(tmp_path / "acdc", {"NOR": 3, "RV": 3})
    parser = argparse.ArgumentParser()
    add_data_commands(parser.add_subparsers(dest="command"))
    out, table = tmp_path / "split.json", tmp_path / "split.csv"
    argv = ["split", "--layout", "acdc", "--data-dir", str(tmp_path / "acdc"), "--out", str(out)]
    args = parser.parse_args([*argv, "--table", str(table), "--seed", "1"])
    assert args.func(args) == 0
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(make_split(tmp_path / "acdc", "acdc", seed=1)))
    assert len(table.read_text().splitlines()) == 7
    bad = tmp_path / "bad.json"
    args = parser.parse_args(
        ["split", "--layout", "acdc", "--data-dir", str(tmp_path / "none"), "--out", str(bad)]
    )
    with pytest.raises(BinnInputError, match="does not exist"):
        args.func(args)
    assert not list(tmp_path.glob("bad*"))
