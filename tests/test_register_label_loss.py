"""The label-map term of registration training (``label_weight``): one-hot maps of the
stored labels, the exact motion of a synthetic cine all but zeroes it, and training uses it
(and refuses subjects without every frame's labels)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from binn.errors import BinnInputError
from binn.register.data.synth_cine import make_synthetic_cine
from binn.register.losses import label_mse
from binn.register.network import RegistrationNet
from binn.register.train import PairSet, TrainConfig, one_hot, registration_loss, train_registration
from binn.register.transform import warp
from binn.vocabulary import LV_CAVITY, MYOCARDIUM, RV_CAVITY
from tests.test_register_train import toy_subject
from tests.test_synth_cine import ring_case


@pytest.fixture(scope="module")
def cine():
    """A synthetic cine with its exact motion and every frame's labels (64 px)."""
    cases = [ring_case("a"), ring_case("b", centre=(33.0, 29.0))]
    return make_synthetic_cine(cases, seed=5, frames=6, slices=2)


def test_one_hot_has_a_channel_per_stored_label_and_other_values_are_background():
    labels = torch.tensor([[[0, RV_CAVITY, MYOCARDIUM, LV_CAVITY, 7]]])
    onehot = one_hot(labels)
    assert onehot.shape == (1, 4, 1, 5)
    assert torch.equal(onehot.sum(dim=1), torch.ones(1, 1, 5))
    assert onehot[0, :, 0].argmax(dim=0).tolist() == [0, 1, 2, 3, 0]


def test_the_exact_motion_aligns_the_labels(cine):
    """Warping every frame's one-hot labels by the stored motion (the registration
    convention the training warp uses) brings them onto ED's: the label term falls to a
    small fraction of its value without registration."""
    pairs = PairSet([cine], with_labels=True)
    source, target = pairs.labels(torch.arange(len(pairs)))
    keys = pairs.keys.numpy()
    field = torch.from_numpy(np.stack([cine.motion[t, z] for _, t, z in keys]))
    aligned = float(label_mse(warp(source, field), target))
    unaligned = float(label_mse(source, target))
    assert unaligned > 0.005
    assert aligned < 0.25 * unaligned


def test_the_label_term_enters_the_loss_with_its_weight(cine):
    pairs = PairSet([cine], with_labels=True)
    idx = torch.arange(4)
    source, target, myo = pairs.batch(idx)
    labels = pairs.labels(idx)
    torch.manual_seed(0)
    net = RegistrationNet(width=0.0625, image_size=64)
    images_only, parts = registration_loss(
        net, source, target, myo, TrainConfig(method="l2"), None, labels=labels
    )
    assert parts["labels"] == 0.0  # not computed at weight 0
    weighted, parts = registration_loss(
        net, source, target, myo, TrainConfig(method="l2", label_weight=2.0), None, labels=labels
    )
    assert parts["labels"] > 0.0
    assert float(weighted.detach()) == pytest.approx(
        float(images_only.detach()) + 2.0 * parts["labels"], rel=1e-5
    )
    with pytest.raises(BinnInputError, match="label maps"):
        registration_loss(
            net, source, target, myo, TrainConfig(method="l2", label_weight=1.0), None
        )


def test_training_with_labels_records_the_term_and_refuses_subjects_without_them(cine, tmp_path):
    cfg = TrainConfig(
        method="l2",
        width=0.0625,
        steps=4,
        batch_size=2,
        val_every=2,
        device="cpu",
        label_weight=1.0,
    )
    result = train_registration([cine], [cine], cfg, tmp_path / "m.pt")
    assert np.isfinite(result["best_val_loss"])
    with open(tmp_path / "m.curves.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert all(float(row["val_labels"]) > 0.0 for row in rows)
    with pytest.raises(BinnInputError, match="every frame's labels"):
        train_registration([toy_subject(0)], [cine], cfg, tmp_path / "n.pt")
