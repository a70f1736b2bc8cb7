"""The package is a house in layers: every import points to the same layer or one below, and nothing is
imported by a string that an import could name (no importlib)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dwi
from dwi import flows, schemas

# bottom to top
LAYERS = [
    ["dwi", "dwi.config", "dwi.errors"],
    ["dwi.reference", "dwi.schemas"],
    ["dwi.sources"],
    ["dwi.readers"],
    ["dwi.check.batch", "dwi.check.harmonise", "dwi.check.validate", "dwi.check"],
    ["dwi.formats"],
    ["dwi.check.engine"],
    ["dwi.store"],
    ["dwi.derive"],
    ["dwi.publish"],
    ["dwi.stages"],
    ["dwi.flows", "dwi.cli"],
]
PACKAGES = {
    "dwi": Path(dwi.__file__).parent,
    "dwi.flows": Path(flows.__file__).parent,
    "dwi.schemas": Path(schemas.__file__).parent,
}


def _modules() -> dict[str, Path]:
    out = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            if package == "dwi" and path.parent.name in ("flows", "schemas") and path.parent.parent == folder:
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def layer(module: str) -> int:
    """The layer of a module: its own entry, else its closest package's."""
    name = module
    while name:
        for i, names in enumerate(LAYERS):
            if name in names:
                return i
        name = name.rpartition(".")[0]
    raise KeyError(module)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every dwi import, at module level or inside functions, outside `if TYPE_CHECKING`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "dwi":
            for alias in node.names:  # `from dwi.x import y` may import the module dwi.x.y
                sub = f"{node.module}.{alias.name}"
                found.append((node.lineno, sub if sub in MODULES else node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "dwi"]
    return found


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    here = layer(module)
    up = [
        (line, target)
        for line, target in _imports(MODULES[module])
        if not target.startswith(module + ".") and layer(target) > here
    ]
    assert not up, f"{module} (layer {here}) imports from a higher layer: {up}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_nothing_is_imported_by_string(module):
    text = MODULES[module].read_text(encoding="utf-8")
    assert "importlib" not in text and "__import__" not in text
