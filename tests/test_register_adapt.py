"""Test-time adaptation (``adapt=N``): the copy lowers the training objective on the cine
it adapts to, leaves the trained network untouched, is deterministic, starts afresh for
every subject, and is refused where it cannot run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from binn.errors import BinnInputError
from binn.register.adapt import adapt_network
from binn.register.config import TrainConfig
from binn.register.losses import freeze
from binn.register.network import RegistrationNet
from binn.register.track import Registrar, track_sequence
from binn.register.train import PairSet, registration_loss
from binn.vocabulary import MYOCARDIUM, check_network_setting, split_refine
from tests.test_register_train import SIZE, tiny_vae, toy_subject

CPU = torch.device("cpu")


def _net() -> RegistrationNet:
    torch.manual_seed(0)
    return RegistrationNet(width=0.0625, image_size=SIZE).eval()


def _objective(net: RegistrationNet, subject, vae) -> float:
    """The binn training objective (alpha 0.01) over all of ``subject``'s pairs."""
    source, target, myo = PairSet([subject]).batch(slice(None))
    cfg = TrainConfig(method="binn", alpha=0.01)
    with torch.no_grad():
        return float(registration_loss(net.eval(), source, target, myo, cfg, vae)[0])


def _weights(net: RegistrationNet) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in net.state_dict().values()])


def test_adaptation_lowers_the_objective_and_leaves_the_trained_network_alone():
    subject, net, vae = toy_subject(3), _net(), freeze(tiny_vae())
    myo = subject.labels_ed == MYOCARDIUM
    before = _weights(net).clone()
    adapted = adapt_network(net, subject.images, myo, "binn", 0.01, vae, 30, CPU)
    assert torch.equal(_weights(net), before)
    assert _objective(adapted, subject, vae) < 0.8 * _objective(net, subject, vae)
    again = adapt_network(net, subject.images, myo, "binn", 0.01, vae, 30, CPU)
    assert torch.equal(_weights(again), _weights(adapted))  # deterministic
    unchanged = adapt_network(net, subject.images, myo, "binn", 0.01, vae, 0, CPU)
    assert torch.equal(_weights(unchanged), before)


def test_adaptation_needs_a_cine_and_for_binn_the_ed_myocardium():
    subject, net = toy_subject(3), _net()
    with pytest.raises(BinnInputError, match="ED myocardium"):
        adapt_network(net, subject.images, None, "binn", 0.01, tiny_vae(), 2, CPU)
    with pytest.raises(BinnInputError, match="needs a cine"):
        adapt_network(net, subject.images[:1], None, "l2", 0.01, None, 2, CPU)
    with pytest.raises(BinnInputError, match="does not match"):
        adapt_network(net, subject.images, np.ones((1, SIZE, SIZE), bool), "l2", 0.01, None, 2, CPU)
    adapt_network(net, subject.images, None, "l2", 0.01, None, 2, CPU)  # l2 needs no mask


def test_every_subject_adapts_from_the_trained_weights():
    """Tracking B after A gives B's fields as tracking B alone: nothing carries over."""
    a, b = toy_subject(1), toy_subject(2)
    registrar = Registrar("l2", {"adapt": 5}, _net(), SIZE, weight=0.01)
    fresh = Registrar("l2", {"adapt": 5}, _net(), SIZE, weight=0.01)
    track_sequence(a.images, registrar, "all", name="a")
    after_a = track_sequence(b.images, registrar, "all", name="b")["fields"]
    alone = track_sequence(b.images, fresh, "all", name="b")["fields"]
    assert np.array_equal(after_a, alone)
    raw = track_sequence(b.images, Registrar("l2", None, _net(), SIZE), "all")["fields"]
    assert not np.allclose(alone, raw)  # the adaptation did change the network


def test_adapt_is_a_test_time_option_counted_in_whole_steps():
    assert split_refine({"alpha": 0.01, "adapt": 200.0, "refine": 5.0}) == (
        {"alpha": 0.01},
        {"adapt": 200.0, "refine": 5.0},
    )
    check_network_setting("binn", "alpha=0.01,adapt=200")
    with pytest.raises(BinnInputError, match="adapt=<integer"):
        check_network_setting("binn", "alpha=0.01,adapt=2.5")
    with pytest.raises(BinnInputError, match="whole number"):
        Registrar("l2", {"adapt": -1}, _net(), SIZE, weight=0.01)
    with pytest.raises(BinnInputError, match="training weight"):
        Registrar("l2", {"adapt": 3}, _net(), SIZE)  # an in-memory net without its weight
