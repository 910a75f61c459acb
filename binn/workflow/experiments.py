"""The experiments of a run: the paper's evidence, as subjects x networks x frames x runs.

An experiment names the subject set it tracks (``split``), the training domain of its
networks, the frames (``es``: ES->ED pairs only; ``all``: whole sequences) and its runs,
``(method, setting slug)`` pairs:

- ``validation``: every setting of every method, ES->ED only, on the validation subjects of
  the primary domain (phantom, or real in real mode); ``binn select`` picks per method the
  setting whose mean |det J - 1| is nearest the target (the paper's fair-comparison rule).
- ``comparison`` (Table 1, Table 2, Fig. 3): the selected setting of each method, whole
  sequences of the test subjects.
- ``alpha_sweep`` (Fig. 2): every unrefined training weight of the proposed method
  (:data:`binn.vocabulary.PROPOSED_METHOD`) on the test subjects.
- ``test_sweep``: every setting of every method, ES->ED only, on the test subjects: with
  ``validation`` it draws each method's accuracy against |det J - 1| over all its settings
  (the report's regularity curves), so no method is judged at its selected point alone.
- ``generalisation`` (Table 3): the selected networks trained on phantoms, on the family-B
  phantoms (synthetic mode) or on the real test subjects (real mode, selected by
  ``phantom_validation`` on the phantom validation subjects).
- ``synthetic_validation`` / ``synthetic_generalisation`` (Table 3, trained on simulation):
  every setting of the networks trained on the FEM-driven synthetic cine, ES->ED on the
  primary validation subjects (phantom, or real in real mode), and the selected ones on the
  subjects of ``generalisation``.
"""

from __future__ import annotations

from dataclasses import dataclass

from binn.vocabulary import PROPOSED_METHOD, TABLE3_EXPERIMENTS, method_names, network_methods
from binn.workflow.settings import RunSettings

SELECTED = "selected"
"""The setting slug of a run that tracks with the setting its selection file names."""
VALIDATION_EXPERIMENTS = ("validation", "phantom_validation", "synthetic_validation")
"""The experiments whose metrics ``binn select`` chooses settings from."""
EXPERIMENT_NAMES = (
    "validation",
    "phantom_validation",
    "comparison",
    "alpha_sweep",
    "test_sweep",
    "generalisation",
    "synthetic_validation",
    "synthetic_generalisation",
)
REPORT_EXPERIMENTS = (
    "validation",
    "test_sweep",
    "comparison",
    "alpha_sweep",
    *TABLE3_EXPERIMENTS,
)
"""The experiments whose metrics and curves the report reads."""
REGULARITY_EXPERIMENTS = ("validation", "test_sweep")
"""The experiments of the report's accuracy-against-regularity curves."""


@dataclass(frozen=True)
class Experiment:
    """One experiment: subjects tracked (``split``), network ``domain``, ``frames``, runs.

    ``runs``: ``(method, setting slug)`` pairs; ``selection``: the validation experiment
    whose selection files the ``selected`` runs read (None for validation experiments).
    """

    name: str
    split: str
    domain: str
    frames: str
    runs: tuple[tuple[str, str], ...]
    selection: str | None = None


def design(settings: RunSettings, real: bool, test_frames: str = "all") -> dict[str, Experiment]:
    """The experiments of a run by name (see the module docstring).

    ``real``: real mode (the primary subjects and networks are real);
    ``test_frames``: the frames tracked on the real test subjects (``all`` or ``es``).
    """
    methods = method_names()
    everything = tuple((m, s) for m in methods for s in settings.slugs(m))
    selected = tuple((m, SELECTED) for m in methods)
    sweep = tuple((PROPOSED_METHOD, s) for s in settings.unrefined(PROPOSED_METHOD))
    networks = tuple((m, SELECTED) for m in network_methods())
    primary = "real" if real else "phantom"
    val, test = ("real_val", "real_test") if real else ("val", "test")
    frames = test_frames if real else "all"
    out = [
        Experiment("validation", val, primary, "es", everything),
        Experiment("comparison", test, primary, frames, selected, "validation"),
        Experiment("alpha_sweep", test, primary, frames, sweep),
        Experiment("test_sweep", test, primary, "es", everything),
    ]
    every_network = tuple((m, s) for m in network_methods() for s in settings.slugs(m))
    if real:
        out += [
            Experiment("phantom_validation", "val", "phantom", "es", every_network),
            Experiment("generalisation", test, "phantom", frames, networks, "phantom_validation"),
        ]
    else:
        out.append(
            Experiment("generalisation", "general", "phantom", "all", networks, "validation")
        )
    general = out[-1]
    out += [
        Experiment("synthetic_validation", val, "synthetic", "es", every_network),
        Experiment(
            "synthetic_generalisation",
            general.split,
            "synthetic",
            general.frames,
            networks,
            "synthetic_validation",
        ),
    ]
    return {e.name: e for e in out}
