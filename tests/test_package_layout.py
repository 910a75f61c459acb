"""One installed namespace, and imports that point downstream only.

The stage folders sit at the top of the checkout and install as ``binn.simulate``,
``binn.learn``, ``binn.register`` and ``binn.analysis`` (pyproject's ``package-dir``). The
layers, bottom to top: the binn core (``binn.errors``, ``binn.io``, ...), simulate, learn,
register, analysis, then the fronts that drive every stage (``binn.cli``, ``binn.workflow``).
A module may import its own layer and the layers below it, never one above.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = {"simulate": 1, "learn": 2, "register": 3, "analysis": 4}
FRONTS = ("binn.cli", "binn.workflow")
FRONT_LAYER = 5
SOURCE_FOLDERS = ("binn", *STAGES, "pretrained")  # pretrained/: the shipped models (data)


def layer(module: str) -> int | None:
    """The layer of a binn module (0 = core); None for a module outside binn."""
    parts = module.split(".")
    if parts[0] != "binn":
        return None
    if len(parts) > 1 and parts[1] in STAGES:
        return STAGES[parts[1]]
    if any(module == f or module.startswith(f + ".") for f in FRONTS):
        return FRONT_LAYER
    return 0


def installed_name(path: Path) -> str:
    """Installed module name of a source file: ``register/track.py`` -> ``binn.register.track``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts if parts[0] == "binn" else ["binn", *parts])


def imported_modules(path: Path) -> list[str]:
    """Every absolute module name a source file imports (top level and inside functions)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def source_files() -> list[Path]:
    return sorted(p for folder in SOURCE_FOLDERS for p in (ROOT / folder).rglob("*.py"))


def test_layer_of_known_modules():
    assert layer("binn.errors") == 0
    assert layer("binn.simulate.fem") == 1
    assert layer("binn.analysis") == 4
    assert layer("binn.workflow.paths") == FRONT_LAYER
    assert layer("numpy") is None
    assert installed_name(ROOT / "register" / "data" / "__init__.py") == "binn.register.data"


def test_imports_point_downstream_only():
    upward, bare = [], []
    for path in source_files():
        here = installed_name(path)
        for name in imported_modules(path):
            if name.split(".")[0] in STAGES:
                bare.append(f"{here} imports {name} (not under binn)")
            target = layer(name)
            if target is not None and target > layer(here):
                upward.append(f"{here} -> {name}")
    assert not bare, bare
    assert not upward, upward


def test_only_binn_is_importable_outside_the_checkout(tmp_path):
    """Run from a folder that is not the checkout, with nothing on PYTHONPATH: the installed
    package serves ``binn.*``, and the stage folders' bare names do not exist."""
    code = (
        "import importlib.util, sys\n"
        "import binn.simulate, binn.learn, binn.register, binn.register.data, binn.analysis\n"
        f"stray = [n for n in {list(STAGES)!r} if importlib.util.find_spec(n) is not None]\n"
        "print('stray:', stray)\n"
        "sys.exit(1 if stray else 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("folder", list(STAGES))
def test_each_stage_folder_is_mapped_into_the_namespace(folder):
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"][f"binn.{folder}"] == folder
    assert f"binn.{folder}" in setuptools["packages"]


def test_every_package_folder_is_installed():
    """pyproject lists every package of the source folders (a folder with ``__init__.py``),
    so an ordinary (not editable) install holds all of them."""
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        installed_name(init)
        for folder in SOURCE_FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert sorted(setuptools["packages"]) == sorted(found)
