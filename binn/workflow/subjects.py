"""The subject sets of a run and the training domains of its networks.

Phantom sets (synthetic cine with ground truth, made by ``binn phantom``): ``train``,
``val`` and ``test`` of family A and ``general`` of the configured ``general_family``;
phantom ``i`` of set ``s`` is named ``f"{s}{i:03d}"``. Synthetic training sets (FEM-driven
cine made by ``binn synth-cine`` from the run's simulated cases): ``synth_train`` and
``synth_val``, named the same way, ``synthetic.n_train`` / ``n_val`` of them. Real sets
(real mode only): ``real_train``, ``real_val`` and ``real_test``, the subjects of ``split.json``
(:mod:`binn.workflow.real_data`).

A network is trained per *domain*: ``phantom`` (phantom ``train`` / ``val``), ``synthetic``
(``synth_train`` / ``synth_val``) or ``real`` (``real_train`` / ``real_val``).
"""

from __future__ import annotations

from typing import Any

from binn.vocabulary import phantom_seed

PHANTOM_SPLITS = ("train", "val", "test", "general")
SYNTHETIC_SPLITS = ("synth_train", "synth_val")
REAL_SPLITS = ("real_train", "real_val", "real_test")
GENERATED_SPLITS = PHANTOM_SPLITS + SYNTHETIC_SPLITS
"""The subject sets the run generates (phantoms and synthetic training cine)."""
DOMAIN_SPLITS = {
    "phantom": ("train", "val"),
    "synthetic": SYNTHETIC_SPLITS,
    "real": ("real_train", "real_val"),
}
"""The (training, validation) subject sets of the networks of each domain."""
DOMAINS = tuple(DOMAIN_SPLITS)
PHANTOM_FAMILY = "A"
"""The phantom family of every set but ``general``."""


def is_real(split: str) -> bool:
    """Whether ``split`` is a real subject set (``real_train`` / ``real_val`` / ``real_test``)."""
    return split in REAL_SPLITS


def is_synthetic(split: str) -> bool:
    """Whether ``split`` is a synthetic training set (``synth_train`` / ``synth_val``)."""
    return split in SYNTHETIC_SPLITS


def split_of_real_set(split: str) -> str:
    """The ``split.json`` key of a real subject set: ``real_test`` -> ``test``."""
    return split.removeprefix("real_")


def numbered_subjects(split: str, count: int) -> list[str]:
    """The names of a generated set: ``f"{split}{i:03d}"`` for ``i`` below ``count``."""
    return [f"{split}{i:03d}" for i in range(count)]


def phantom_subjects(phantom: dict[str, Any], split: str) -> list[str]:
    """Names of the phantoms of ``split`` (config block ``phantom``, ``n_<split>`` of them)."""
    return numbered_subjects(split, phantom[f"n_{split}"])


def synthetic_subjects(synthetic: dict[str, Any], split: str) -> list[str]:
    """Names of the synthetic subjects of ``split`` (config block ``synthetic``: ``n_train``
    for ``synth_train``, ``n_val`` for ``synth_val``)."""
    return numbered_subjects(split, synthetic[f"n_{split.removeprefix('synth_')}"])


def phantom_subject_seed(run_seed: int, split: str, subject: str) -> int:
    """The seed of phantom or synthetic ``subject`` of ``split``
    (:func:`binn.vocabulary.phantom_seed`)."""
    return phantom_seed(run_seed, split, int(subject.removeprefix(split)))


def phantom_family(phantom: dict[str, Any], split: str) -> str:
    """The phantom family of ``split``: ``general_family`` for ``general``, else A."""
    return phantom["general_family"] if split == "general" else PHANTOM_FAMILY
