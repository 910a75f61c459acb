"""The settings a run tracks with: per method, the configured (canonical) settings.

Paths and wildcards carry a setting as its slug (:func:`binn.vocabulary.setting_slug`:
``alpha=0.01,refine=50`` -> ``alpha=0.01+refine=50``); a slug is mapped back to its
configured setting by lookup, never parsed. A network setting names its model by its
training weight alone (``alpha=0.01``); its ``refine*`` options act at tracking time.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from binn.vocabulary import (
    REFINE,
    get_method,
    network_model_setting,
    parse_setting,
    setting_slug,
)


@dataclass(frozen=True)
class RunSettings:
    """``by_method``: the canonical settings of each method, in configured order."""

    by_method: dict[str, tuple[str, ...]]

    @classmethod
    def from_register(cls, register: dict[str, Any], methods: tuple[str, ...]) -> RunSettings:
        """The settings of ``methods`` in a canonical ``register`` config block."""
        return cls({m: tuple(register[m]) for m in methods})

    def slugs(self, method: str) -> list[str]:
        """The settings of ``method`` in path form."""
        return [setting_slug(s) for s in self.by_method[method]]

    def setting(self, method: str, slug: str) -> str:
        """The canonical setting (``name=value[,name=value]``) behind a path slug."""
        for setting in self.by_method[method]:
            if setting_slug(setting) == slug:
                return setting
        raise ValueError(f"{method}: no configured setting has the path form {slug!r}")

    def params(self, method: str, slug: str) -> list[str]:
        """The ``name=value`` parameters of a setting, in canonical order."""
        return self.setting(method, slug).split(",")

    def refine_params(self, method: str, slug: str) -> list[str]:
        """The test-time refinement parameters of a network setting (``refine*=N``)."""
        return [kv for kv in self.params(method, slug) if kv.startswith(REFINE)]

    def unrefined(self, method: str) -> list[str]:
        """The slugs of the settings of ``method`` without refinement."""
        return [s for s in self.slugs(method) if not self.refine_params(method, s)]

    def model_setting(self, method: str, slug: str) -> str:
        """The training weight of a network setting, which alone names its model file:
        ``alpha=0.01+refine=50`` -> ``alpha=0.01``."""
        return network_model_setting(self.setting(method, slug))

    def model_settings(self, method: str) -> list[str]:
        """The distinct training weights of a network method (one model each), in order."""
        return list(dict.fromkeys(self.model_setting(method, s) for s in self.slugs(method)))

    def train_args(self, method: str, model_setting: str) -> str:
        """``binn train-reg`` weight option of a model setting, e.g. ``--alpha 0.001``."""
        weight = get_method(method).weight
        params = parse_setting(model_setting)
        if list(params) != [weight] or model_setting not in self.model_settings(method):
            raise ValueError(f"{method}: {model_setting!r} is not a configured training weight")
        value = model_setting.partition("=")[2]
        return f"--{weight} {shlex.quote(value)}"
