"""The analysis stage is split by kind, with no import circle: config < measures < tables <
rendering < commands < the command-line modules; only the command line sees parsed
arguments; each kind's folder is an installed package."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "analysis"
KINDS = {"config": 0, "measures": 1, "tables": 2, "rendering": 3, "commands": 4}
CLI = {"cli", "strain_cli", "bench_cli"}
CLI_RANK = len(KINDS)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(STAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["binn", "analysis", *parts])


def rank(module: str) -> int | None:
    """The kind's rank of a ``binn.analysis`` module (None: the package itself)."""
    parts = module.split(".")[2:]
    if not parts:
        return None
    if parts[0] in CLI:
        return CLI_RANK
    return KINDS[parts[0]]


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(STAGE.rglob("*.py"))}


def imports(tree: ast.Module) -> set[str]:
    """The ``binn.analysis`` modules a module imports (``from binn.analysis.x import y``
    counts ``binn.analysis.x.y`` when that is a module)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n.startswith("binn.analysis.")}


def test_every_module_has_a_kind() -> None:
    for name in modules():
        assert name == "binn.analysis" or rank(name) is not None, name


def test_kinds_import_downwards_only() -> None:
    known = modules()
    upward = [
        f"{name} -> {target}"
        for name, tree in known.items()
        for target in imports(tree)
        if target in known and rank(name) is not None and rank(target) > rank(name)
    ]
    assert not upward, upward


def test_no_import_circle() -> None:
    known = modules()
    graph = {name: {t for t in imports(tree) if t in known} for name, tree in known.items()}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                pytest.fail("import circle: " + " -> ".join([*path, name, target]))
            if target not in state:
                visit(target, [*path, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_only_the_command_line_takes_parsed_arguments() -> None:
    takers = []
    for name, tree in modules().items():
        if rank(name) == CLI_RANK:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for arg in [*node.args.args, *node.args.kwonlyargs]:
                    if arg.annotation is not None and "Namespace" in ast.unparse(arg.annotation):
                        takers.append(f"{name}.{node.name}({arg.arg})")
    assert not takers, takers


def test_binn_cli_reads_one_module_of_the_stage() -> None:
    from binn.cli import CLI_MODULES

    assert [m for m in CLI_MODULES if m.startswith("binn.analysis")] == ["binn.analysis.cli"]


@pytest.mark.parametrize("kind", [k for k in KINDS if (STAGE / k).is_dir()])
def test_each_kind_is_an_installed_package(kind: str) -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert (STAGE / kind / "__init__.py").is_file()
    assert f"binn.analysis.{kind}" in setuptools["packages"], "add it to pyproject's packages"
