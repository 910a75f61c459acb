"""The shared core: atomic writes leave nothing half-written; npz round trip with provenance."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from binn.errors import BinnInputError
from binn.io import atomic_path, load_npz, save_npz, write_json


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("{broken")
        raise RuntimeError("crash")
    assert target.read_text().strip().startswith("{")
    assert '"v": 1' in target.read_text()


def test_outputs_get_the_usual_file_mode(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    write_json(target, [1])
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH


def test_npz_round_trip_with_provenance(tmp_path: Path) -> None:
    disp = np.random.default_rng(0).normal(size=(3, 2, 8, 8)).astype(np.float32)
    save_npz(tmp_path / "a.npz", {"seed": 7, "config_hash": "x"}, disp=disp, case="c1")
    data = load_npz(tmp_path / "a.npz", required={"disp": 4})
    np.testing.assert_array_equal(data["disp"], disp)
    assert str(data["case"]) == "c1"
    assert data["provenance"]["seed"] == 7


@pytest.mark.parametrize(
    ("arrays", "required", "message"),
    [
        ({"disp": np.zeros((2, 8, 8))}, {"mask": 2}, "missing array 'mask'"),
        ({"disp": np.zeros((2, 8, 8))}, {"disp": 4}, "expected 4 dimensions"),
        ({"disp": np.full((1, 2, 4, 4), np.nan)}, {"disp": 4}, "NaN or Inf"),
    ],
)
def test_bad_npz_is_named(tmp_path: Path, arrays: dict, required: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    save_npz(path, {}, **arrays)
    with pytest.raises(BinnInputError, match=message) as err:
        load_npz(path, required=required)
    assert str(path) in str(err.value)


def test_missing_and_corrupt_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(BinnInputError, match="does not exist"):
        load_npz(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(BinnInputError, match="not a readable"):
        load_npz(tmp_path / "junk.npz")
