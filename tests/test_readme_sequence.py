"""The README's "The command line" block runs as written, in order, through ``binn.cli.main``.

The block is read from README.md. Its placeholders are filled with what the sequence makes:
``results/simulate/cases/*.npz`` with two simulated cases (the README's ``case.npz`` and one
more), the ``...`` of ``train-reg`` with the README's ``subject.npz`` (training) and one more
phantom (validation), and the NIfTI files of ``evaluate-pair`` with the ED and ES frames of
``subject.npz``. Only counts are cut for speed (epochs, steps, bench cases), never an image
size, so a command whose default size disagrees with another's fails here as it would for
a reader.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from binn.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
CASES_GLOB = "results/simulate/cases/*.npz"
TOY = {  # extra flags for speed: counts only
    "train-vae": ["--epochs", "1"],
    "train-reg": ["--steps", "2", "--val-every", "1"],
    "bench": ["--cases", "1"],
}


def readme_commands() -> list[list[str]]:
    """The ``binn`` command lines of the README's "The command line" code block."""
    section = README.read_text().split("## The command line", 1)[1]
    block = section.split("```", 2)[1]
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0] == "binn", line
            commands.append(words[1:])
    return commands


def _fill(argv: list[str], cases: list[str]) -> list[str]:
    """Replace the README's placeholders (see the module docstring)."""
    out: list[str] = []
    for i, word in enumerate(argv):
        if word == CASES_GLOB:
            out += cases
        elif word == "...":
            out.append({"--train": "subject.npz", "--val": "val.npz"}[argv[i - 1]])
        else:
            out.append(word)
    return out


def _run(argv: list[str], capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 0, f"binn {shlex.join(argv)} failed"
    return capsys.readouterr().out


def _write_pair_nifti(subject_npz: Path) -> None:
    """ED.nii.gz / ED_gt.nii.gz / ES.nii.gz / ES_gt.nii.gz from a subject file."""
    from binn.nifti import save_volume
    from binn.register.data.subject import load_subject

    s = load_subject(subject_npz)
    save_volume("ED.nii.gz", s.images[0], s.spacing)
    save_volume("ED_gt.nii.gz", s.labels_ed, s.spacing)
    save_volume("ES.nii.gz", s.images[s.es_index], s.spacing)
    save_volume("ES_gt.nii.gz", s.labels_es, s.spacing)


@pytest.mark.slow
def test_readme_command_line_sequence(tmp_path, monkeypatch, capsys) -> None:
    from binn.learn.score import load_vae
    from binn.register.data.subject import load_subject

    monkeypatch.chdir(tmp_path)
    commands = readme_commands()
    names = [c[0] if c[0] not in ("verify", "bench") else " ".join(c[:2]) for c in commands]
    assert names == [
        "simulate", "verify cylinder", "train-vae", "plausibility", "phantom", "synth-cine",
        "train-reg", "track", "evaluate-pair", "bench simulate",
    ]  # fmt: skip
    cases: list[str] = []
    for argv, name in zip(commands, names, strict=True):
        if name == "train-vae":  # the workflow's cases: the README's case.npz and one more
            folder = Path(CASES_GLOB).parent
            folder.mkdir(parents=True)
            shutil.copy("case.npz", folder / "synth_0003.npz")
            _run(["simulate", "--synthetic", "4", "--out", str(folder / "synth_0004.npz")], capsys)
            cases = sorted(str(p) for p in Path().glob(CASES_GLOB))
        if name == "train-reg":  # a validation subject for the ``...`` of --val
            _run(["phantom", "--seed", "2", "--out", "val.npz"], capsys)
        if name == "evaluate-pair":
            _write_pair_nifti(Path("subject.npz"))
        out = _run(_fill(argv, cases) + TOY.get(argv[0], []), capsys)
        _check(name, out)
    vae = load_vae("vae.pt")
    subject = load_subject("subject.npz")
    # the defaults agree: one grid for the simulations, the VAE and the phantoms
    assert vae.image_size == subject.images.shape[-1]
    np.testing.assert_allclose(np.load("case.npz")["spacing"], subject.spacing[1:])
    assert np.load("case.npz")["disp"].shape[-1] == subject.images.shape[-1]
    fields = np.load("fields.npz")["fields"]
    t, z, h, w = subject.images.shape
    assert fields.shape == (t, z, 2, h, w) and np.isfinite(fields).all()
    assert np.abs(fields[1:]).max() > 0 and not np.abs(fields[0]).any()


def _check(name: str, out: str) -> None:
    """Sanity of one step's printed output and files."""
    if name == "simulate":
        data = np.load("case.npz")
        assert str(data["status"]) == "ok"
        assert data["disp"].ndim == 4 and data["disp"].shape[1] == 2
        assert np.isfinite(data["disp"]).all() and np.abs(data["disp"]).max() > 0
    elif name == "verify cylinder":
        assert json.loads(out)["inner_radius_rel_error"] < 0.005
    elif name == "plausibility":
        scores = json.loads(out)["scores"]
        assert len(scores) >= 2 and np.isfinite(scores).all()
    elif name == "phantom":
        assert Path("subject.npz").is_file()
    elif name == "synth-cine":
        assert np.load("synth.npz")["motion"].ndim == 5
    elif name == "train-reg":
        assert Path("model.pt").is_file() and np.isfinite(json.loads(out)["best_val_loss"])
    elif name == "evaluate-pair":
        result = json.loads(out)
        assert result["method"] == "demons" and result["evaluable_slices"] >= 1
        dice = [s["dice"] for s in result["slices"] if s["evaluable"]]
        assert all(0.0 <= d <= 1.0 for d in dice)
    elif name == "bench simulate":
        assert json.loads(out)


def test_readme_is_for_users_and_its_results_block_is_generated() -> None:
    """At most 150 lines; the one results table sits between the markers ``binn publish``
    fills (naming the commit it came from), and no other line names a commit."""
    import re

    text = README.read_text()
    assert len(text.splitlines()) <= 150
    before, rest = text.split("<!-- results:start -->\n", 1)
    block, after = rest.split("<!-- results:end -->", 1)
    assert "| Method |" in block and "From commit `" in block
    commit = re.compile(r"`[0-9a-f]{7,40}`")
    assert not commit.search(before) and not commit.search(after)
