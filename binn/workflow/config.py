"""The workflow's configuration: config files read strictly, settings made canonical.

Snakemake merges the config files and fills the defaults of ``config/schema.yaml``; this
module adds what the schema cannot say: a key given twice in one file is refused (YAML
keeps the last one silently), the methods under ``register`` are the vocabulary's
(:data:`binn.vocabulary.METHODS`), and every setting is written in its one canonical form
(:func:`binn.vocabulary.canonical_setting`), so a setting has one string in paths and tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from binn.errors import BinnInputError
from binn.vocabulary import (
    canonical_setting,
    check_network_setting,
    get_method,
    method_names,
)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise BinnInputError(
                key_node.start_mark.name,
                f"line {line}: key {key!r} given twice (first on line {seen[key]})",
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def check_config_files(paths: list[str | Path]) -> None:
    """Refuse a config file with a duplicate key (Snakemake's loader keeps the last one).

    Raises :class:`BinnInputError` naming the file, the key and its line.
    """
    for path in paths:
        with open(path) as fh:
            yaml.load(fh, Loader=_UniqueKeyLoader)  # a SafeLoader subclass


def canonical_config(config: dict[str, Any]) -> dict[str, Any]:
    """A validated config with ``register`` canonical (:func:`canonical_register`)."""
    return {**config, "register": canonical_register(config["register"])}


def canonical_register(register: dict[str, Any]) -> dict[str, Any]:
    """``register`` with every setting in canonical form (``alpha=1e-3`` -> ``alpha=0.001``).

    Every registered method needs a settings list. Refused (:class:`BinnInputError` naming
    ``register.<method>``): a list (the schema's form of a settings list) under a name that
    is not a registered method, a network setting that is not its weight plus ``refine*``
    options (:func:`binn.vocabulary.check_network_setting`), two settings of a method with
    one canonical form.
    """
    for name, value in register.items():
        if isinstance(value, list):
            get_method(name, f"register.{name}")
    out = dict(register)
    for method in method_names():
        source = f"register.{method}"
        if method not in register:
            raise BinnInputError(source, "no settings listed for this registered method")
        canonical: list[str] = []
        for text in register[method]:
            setting = canonical_setting(text, source)
            if get_method(method).is_network:
                check_network_setting(method, setting, source)
            if setting in canonical:
                raise BinnInputError(source, f"setting {text!r} is listed twice (as {setting!r})")
            canonical.append(setting)
        out[method] = canonical
    return out


def config_text(config: dict[str, Any]) -> str:
    """``config`` as YAML, keys sorted: what the run's ``config.yaml`` holds (rerunning with
    the same text reproduces the run)."""
    return yaml.safe_dump(config, sort_keys=True)
