"""The workflow's configuration: config files read strictly, settings made canonical.

Snakemake merges the config files and fills the defaults of ``config/schema.yaml``; this
module adds what the schema cannot say: a YAML syntax error names the file, line and column
(Snakemake's own message names neither), a key given twice in one file is refused (YAML
keeps the last one silently), an unknown key names the file, its line and the key with the
keys allowed beside it (Snakemake's ``validate`` prints the whole schema instead), a value
the schema refuses is named by its key path alone (:func:`validate_config`), the methods
under ``register`` are the vocabulary's (:data:`binn.vocabulary.METHODS`), and every
setting is written in its one canonical form (:func:`binn.vocabulary.canonical_setting`),
so a setting has one string in paths and tables.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
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


def check_config_files(
    paths: Sequence[str | Path], schema: str | Path | dict[str, Any] | None = None
) -> None:
    """Check config files before their merge: each must be YAML (or JSON) holding a mapping,
    with no key given twice and, when ``schema`` (a path or the loaded schema) is given, no
    key the schema does not know.

    Raises :class:`BinnInputError` naming the file and the line (and column) of a syntax
    error, the line of a repeated key, or every unknown key with its line, the keys
    allowed at that level and the closest of them (:func:`unknown_keys`).
    """
    rules = load_schema(schema) if isinstance(schema, str | Path) else schema
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BinnInputError(path, f"cannot read the config file ({exc.strerror})") from exc
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.load(fh, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise BinnInputError(path, _syntax_error(exc)) from exc
        if not isinstance(data, dict):
            kind = "nothing" if data is None else f"a {type(data).__name__}"
            raise BinnInputError(
                path, f"a config file must hold a mapping of keys, it holds {kind}"
            )
        if rules is not None:
            problems = unknown_keys(_node_items(node), rules)
            if problems:
                raise BinnInputError(path, "; ".join(problems))


def _syntax_error(exc: yaml.YAMLError) -> str:
    """A YAML error as ``line L, column C: YAML syntax error: <problem> (<context>)``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = "" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}: "
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    start = getattr(exc, "context_mark", None)
    if context and start is not None and start is not mark:
        context += f" that starts on line {start.line + 1}, column {start.column + 1}"
    return f"{where}YAML syntax error: {problem}" + (f" ({context})" if context else "")


def load_schema(path: str | Path) -> dict[str, Any]:
    """The workflow's JSON schema (``config/schema.yaml``) as a dict."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise BinnInputError(path, f"cannot read the config schema ({exc})") from exc


# One mapping entry of a config: the key, its value (a YAML node or a plain value) and its
# 1-based line (None for a value that did not come from a file).
_Item = tuple[str, Any, int | None]


def _node_items(node: yaml.Node | None) -> Iterator[_Item] | None:
    """The entries of a YAML mapping node, None for any other node."""
    if not isinstance(node, yaml.MappingNode):
        return None
    return ((str(k.value), v, k.start_mark.line + 1) for k, v in node.value)


def _dict_items(value: Any) -> Iterator[_Item] | None:
    """The entries of a mapping, None for any other value."""
    if not isinstance(value, dict):
        return None
    return ((str(k), v, None) for k, v in value.items())


def unknown_keys(
    items: Iterator[_Item] | None, schema: dict[str, Any], prefix: str = ""
) -> list[str]:
    """One message per key of ``items`` (a config's mapping) the JSON ``schema`` does not
    allow: its dotted path, line, closest allowed key and the keys allowed at its level.

    Follows ``properties`` and ``additionalProperties`` (False: only the properties; a
    schema: any key, checked against it). Values of the wrong type are left to the schema's
    validation.
    """
    if items is None or not isinstance(schema, dict):
        return []
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    problems: list[str] = []
    for key, value, line in items:
        path = f"{prefix}{key}"
        sub = properties.get(key, extra if isinstance(extra, dict) else None)
        if key not in properties and extra is False:
            problems.append(_unknown(path, line, sorted(properties), prefix))
            continue
        if sub:
            children = _node_items(value) if isinstance(value, yaml.Node) else _dict_items(value)
            problems += unknown_keys(children, sub, f"{path}.")
    return problems


def _unknown(path: str, line: int | None, allowed: list[str], prefix: str) -> str:
    """The message for one unknown key."""
    key = path.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(key, allowed, n=1)
    where = f"line {line}: " if line is not None else ""
    hint = f" (did you mean {prefix + close[0]!r}?)" if close else ""
    level = f"under {prefix[:-1]!r}" if prefix else "at the top level"
    return f"{where}unknown key {path!r}{hint}; the keys {level} are {', '.join(allowed)}"


def validate_config(config: dict[str, Any], schema: str | Path, source: str) -> None:
    """Validate the merged ``config`` against the JSON ``schema`` file and fill its defaults
    (Snakemake's ``validate``), with short messages.

    Unknown keys are named first (:func:`unknown_keys`, ``source`` says where the merged
    config came from); a value the schema refuses raises :class:`BinnInputError` naming its
    key path and the reason, without the schema and config that ``validate`` prints.
    """
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    problems = unknown_keys(_dict_items(config), load_schema(schema))
    if problems:
        raise BinnInputError(source, "; ".join(problems))
    try:
        validate(config, str(Path(schema).resolve()))  # absolute: not the caller's folder
    except WorkflowError as exc:
        error = exc.__context__  # validate raises inside `except ValidationError`
        if not hasattr(error, "absolute_path"):
            raise
        key = ".".join(str(p) for p in error.absolute_path) or "the config"
        raise BinnInputError(source, f"{key}: {error.message}") from None


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
