"""The FEM-driven synthetic training cine (``binn synth-cine``): the rotated case keeps the
registration convention, the inverse map inverts, the stored motion is the exact ground
truth of the rendered labels, and the generator is deterministic and refuses bad cases."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from binn.errors import BinnInputError
from binn.io import save_npz
from binn.register.data import synth_motion as motion
from binn.register.data.subject import load_subject
from binn.register.data.synth_anatomy import stored_labels, tissue_map
from binn.register.data.synth_cine import load_usable_cases, make_synthetic_cine
from binn.vocabulary import LV_CAVITY, MYOCARDIUM

SIZE, SPACING = 64, 2.0


def ring_case(name: str = "ring", centre=(30.0, 34.0), frames: int = 5) -> motion.FemCase:
    """An area-preserving radial contraction of a ring (an incompressible ring's motion):
    a point at ED radius ``R`` is at ``r = sqrt(R^2 - a)`` at ES, ``a`` growing to 72 px^2
    over the frames. ``disp`` is in the registration convention on the ED grid."""
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    dy, dx = yy - centre[0], xx - centre[1]
    radius = np.hypot(dy, dx)
    myocardium = (radius >= 11.0) & (radius <= 16.0)
    disp = np.zeros((frames, 2, SIZE, SIZE), np.float32)
    for k, a in enumerate(np.linspace(0.0, 72.0, frames)):
        # outside the cavity the map is smooth; near the centre keep it finite
        moved = np.sqrt(np.maximum(radius**2 - a, 0.25 * radius**2))
        scale = np.where(radius > 0, moved / np.maximum(radius, 1e-9), 1.0) - 1.0
        disp[k, 0], disp[k, 1] = scale * dy, scale * dx
    return motion.FemCase(name=name, disp=disp, myocardium=myocardium, spacing=SPACING)


def test_a_rotated_case_keeps_the_registration_convention():
    """Rotating an affine field ``u(q) = B (q - c)`` about the ring gives ``A B A^T (p - c')``."""
    case = ring_case()
    b = np.array([[0.05, -0.02], [0.03, -0.04]])
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    centre = np.array(ndimage.center_of_mass(case.myocardium))
    q = np.stack([yy - centre[0], xx - centre[1]])
    affine = np.einsum("ij,jhw->ihw", b, q).astype(np.float32)
    case = motion.FemCase("affine", np.stack([0 * affine, affine]), case.myocardium, SPACING)
    a = motion.orthogonal(np.radians(70.0), mirror=True)
    disp, myocardium = motion.rotate_case(case, a, np.array([1.0, -2.0]))
    out_centre = np.array([(SIZE - 1) / 2 + 1.0, (SIZE - 1) / 2 - 2.0])
    p = np.stack([yy - out_centre[0], xx - out_centre[1]])
    expected = np.einsum("ij,jhw->ihw", a @ b @ a.T, p)
    inner = np.hypot(*p) < 20
    assert np.abs(disp[1] - expected)[:, inner].max() < 1e-3
    assert abs(myocardium.sum() - case.myocardium.sum()) <= 0.03 * case.myocardium.sum()
    assert np.allclose(ndimage.center_of_mass(myocardium), out_centre, atol=0.5)


def test_source_positions_invert_the_field():
    field = ring_case().disp[-1]
    y = np.stack(np.mgrid[:SIZE, :SIZE]).astype(np.float64)
    x = motion.source_positions(field, y)
    flat = x.reshape(2, -1)
    u = np.stack([ndimage.map_coordinates(field[c], flat, order=1, mode="nearest") for c in (0, 1)])
    assert np.abs(x.reshape(2, -1) + u - y.reshape(2, -1)).max() < 1e-3


def test_cycle_starts_at_ed_and_reaches_es():
    disp = ring_case().disp
    fields = motion.cycle_fields(disp, frames=20, es_index=7)
    assert fields.shape == (20, 2, SIZE, SIZE)
    assert not fields[0].any()
    assert np.allclose(fields[7], disp[-1], atol=1e-5)  # activation 1 at ES: the ES state
    assert np.abs(fields[-1]).max() < np.abs(fields[7]).max()  # relaxing towards ED


@pytest.fixture(scope="module")
def subject():
    cases = [ring_case("a"), ring_case("b", centre=(33.0, 29.0))]
    return make_synthetic_cine(cases, seed=3, frames=12, slices=3)


def test_the_stored_motion_is_the_ground_truth_of_the_labels(subject):
    """Pulling the ES labels back with the stored ES motion gives the ED labels."""
    es = subject.es_index
    for z in range(subject.slices):
        grid = np.stack(np.mgrid[:SIZE, :SIZE]).astype(np.float64)
        where = grid + subject.motion[es, z]
        pulled = ndimage.map_coordinates(subject.labels_es[z], where, order=0, mode="nearest")
        ed_myo = subject.labels_ed[z] == MYOCARDIUM
        pulled_myo = pulled == MYOCARDIUM
        dice = 2 * (ed_myo & pulled_myo).sum() / (ed_myo.sum() + pulled_myo.sum())
        assert dice > 0.9, (z, dice)
        unmoved = 2 * (ed_myo & (subject.labels_es[z] == MYOCARDIUM)).sum()
        assert dice > unmoved / (ed_myo.sum() + (subject.labels_es[z] == MYOCARDIUM).sum())


def test_the_myocardium_keeps_its_area_and_the_motion_does_not_fold(subject):
    """The simulated motion is incompressible in the myocardium (det J ~ 1 there, so the
    labels keep their area up to the aliasing of nearest-neighbour label warping), the
    cavity empties in systole, and nowhere does the motion fold."""
    u = subject.motion.astype(np.float64)
    jac = (1 + np.gradient(u[:, :, 0], axis=2)) * (1 + np.gradient(u[:, :, 1], axis=3))
    jac -= np.gradient(u[:, :, 0], axis=3) * np.gradient(u[:, :, 1], axis=2)
    assert jac.min() > 0.0
    inner = ndimage.binary_erosion(subject.labels_ed == MYOCARDIUM, iterations=1)
    assert abs(jac[:, inner].mean() - 1.0) < 0.03
    myo = (subject.labels == MYOCARDIUM).sum(axis=(2, 3)).astype(float)
    assert np.all(np.abs(myo / myo[0] - 1.0) < 0.15)
    cavity = (subject.labels == LV_CAVITY).sum(axis=(2, 3)).astype(float)
    assert np.all(cavity[subject.es_index] < 0.8 * cavity[0])


def test_the_images_show_the_anatomy(subject):
    """Every slice's ED blood pool and myocardium differ in mean intensity (the generator
    keeps them apart), and the images use the [0, 1] range."""
    assert subject.images.dtype == np.float32
    assert 0.0 <= subject.images.min() and subject.images.max() <= 1.0
    for z in range(subject.slices):
        image, labels = subject.images[0, z], subject.labels_ed[z]
        gap = abs(image[labels == LV_CAVITY].mean() - image[labels == MYOCARDIUM].mean())
        assert gap > 0.05, (z, gap)


def test_same_seed_same_subject_other_seed_other_subject(subject):
    cases = [ring_case("a"), ring_case("b", centre=(33.0, 29.0))]
    again = make_synthetic_cine(cases, seed=3, frames=12, slices=3)
    assert np.array_equal(again.images, subject.images)
    assert np.array_equal(again.motion, subject.motion)
    other = make_synthetic_cine(cases, seed=4, frames=12, slices=3)
    assert not np.array_equal(other.images, subject.images)


def test_stored_labels_merge_tissues_into_acdc_values():
    rng = np.random.default_rng(0)
    tissue = tissue_map(rng, ring_case().myocardium, SPACING)
    labels = stored_labels(tissue)
    assert set(np.unique(labels)) <= {0, 1, 2, 3}
    assert np.array_equal(labels == MYOCARDIUM, ring_case().myocardium)
    cavity = ndimage.binary_fill_holes(ring_case().myocardium) & ~ring_case().myocardium
    assert np.array_equal(labels == LV_CAVITY, cavity)  # trabeculae count as cavity


def _write_case(path, case: motion.FemCase, status: str = "ok", spacing: float = SPACING):
    save_npz(
        path,
        {},
        status=np.asarray(status),
        case=np.asarray(case.name),
        disp=case.disp,
        mask=case.myocardium.astype(np.uint8),
        spacing=np.array([spacing, spacing]),
    )


def test_failed_cases_are_skipped_and_other_grids_refused(tmp_path):
    good, failed, coarse = tmp_path / "good.npz", tmp_path / "failed.npz", tmp_path / "c.npz"
    _write_case(good, ring_case("good"))
    _write_case(failed, ring_case("failed"), status="failed")
    _write_case(coarse, ring_case("coarse"), spacing=1.5)
    assert [c.name for c in load_usable_cases([good, failed], SPACING)] == ["good"]
    with pytest.raises(BinnInputError, match=r"1.5 mm pixels, the grid is 2.0 mm"):
        load_usable_cases([good, coarse], SPACING)
    with pytest.raises(BinnInputError, match="none of the simulated cases"):
        load_usable_cases([failed], SPACING)
    with pytest.raises(BinnInputError, match="no simulated cases"):
        make_synthetic_cine([], seed=0)


def test_the_command_writes_a_subject_and_refuses_to_overwrite(tmp_path):
    case = tmp_path / "case.npz"
    _write_case(case, ring_case())
    out = tmp_path / "s.npz"
    command = [sys.executable, "-m", "binn.cli", "synth-cine", "--cases", str(case)]
    command += ["--seed", "1", "--frames", "6", "--slices", "2", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    subject = load_subject(out)
    assert subject.images.shape == (6, 2, SIZE, SIZE) and subject.motion is not None
    assert subject.meta["source"] == "synthetic"
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 2 and "--force" in again.stderr
