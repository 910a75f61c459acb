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


def test_check_output_refuses_existing_outputs_unless_force(tmp_path: Path) -> None:
    from binn.io import check_output

    out = tmp_path / "s.npz"
    assert check_output(out) == out  # nothing there: fine
    out.write_bytes(b"x")
    with pytest.raises(BinnInputError, match=r"exists .*--force"):
        check_output(out)
    assert check_output(out, force=True) == out and out.read_bytes() == b"x"  # not deleted
    with pytest.raises(BinnInputError, match="names a file, not an output folder"):
        check_output(out, force=True, folder=True)
    with pytest.raises(BinnInputError, match="names a folder"):
        check_output(tmp_path, force=True)


def test_force_never_replaces_a_folder_holding_foreign_files(tmp_path: Path) -> None:
    """A folder binn wrote (its manifest lists every name) is replaced with force; one
    holding anything else is refused, and what it holds stays."""
    from binn.io import MANIFEST, check_output, foreign_files, staged_folder

    out = tmp_path / "run"
    with staged_folder(out) as tmp:
        (tmp / "a.csv").write_text("1")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "a.csv"]
    assert foreign_files(out) == []
    with staged_folder(out, force=True) as tmp:
        (tmp / "b.csv").write_text("2")
    assert not (out / "a.csv").exists() and (out / "b.csv").read_text() == "2"
    (out / "notes.txt").write_text("mine")
    with pytest.raises(BinnInputError, match=r"did not write \(notes.txt\)"):
        check_output(out, force=True, folder=True)
    with pytest.raises(BinnInputError), staged_folder(out, force=True) as tmp:
        (tmp / "c.csv").write_text("3")
    assert (out / "notes.txt").read_text() == "mine" and (out / "b.csv").is_file()
    # a folder without a manifest: only names matching the caller's patterns are binn's
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "strain.csv").write_text("")
    assert foreign_files(legacy, known=("strain.*",)) == []
    assert foreign_files(legacy) == ["strain.csv"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_temporaries_of_a_killed_run_are_removed_on_the_next(tmp_path: Path) -> None:
    from binn.io import check_output, stale_temporaries

    out = tmp_path / "f.npz"
    stale_file = tmp_path / ".f.npz.ab12cd_3.npz"  # atomic_path's pattern
    stale_file.write_bytes(b"half")
    stale_dir = tmp_path / ".f.npz.zz99yy00.tmp"  # staged_folder's pattern
    stale_dir.mkdir()
    unrelated = [tmp_path / ".f.npz.notes", tmp_path / ".g.npz.ab12cd_3.npz"]
    for path in unrelated:
        path.write_text("keep")
    assert stale_temporaries(out) == sorted([stale_file, stale_dir])
    check_output(out)
    assert not stale_file.exists() and not stale_dir.exists()
    assert all(p.exists() for p in unrelated)
