"""The direction of imports between Anju's packages, read from the source (every `import`,
at the top of a module or inside a function): the contracts import nothing of ours, the
runtime library only the contracts, the edge and the hub the library and the contracts (never
each other), and only the harness, the benchmarks and the tests reach into everything."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("models", "anju", "edge", "hub", "firmware_mocks", "harness", "bench", "tests")

# What each package may import of ours (besides itself).
ALLOWED: dict[str, set[str]] = {
    "models": set(),
    "anju": {"models"},
    "edge": {"anju", "models"},
    "hub": {"anju", "models"},
    "firmware_mocks": {"models"},
}


def imported_modules(path: Path) -> set[str]:
    """The modules that the module at `path` imports (`from a.b import c`: `a.b`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def imported_packages(path: Path) -> set[str]:
    """The top-level packages of ours that the module at `path` imports."""
    return {name.split(".")[0] for name in imported_modules(path)} & set(OURS)


def crossings(package: str) -> list[str]:
    allowed = ALLOWED[package] | {package}
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for imported in sorted(imported_packages(path) - allowed):
            found.append(f"{path.relative_to(ROOT)} imports {imported}")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_lies_beneath_it(package: str) -> None:
    assert crossings(package) == []


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text(
        "import json\n\ndef later():\n    from edge.plates import clpr\n    import hub.main\n",
        encoding="utf-8",
    )
    assert imported_packages(module) == {"edge", "hub"}


# Inside the hub: the HTTP layers (the API, the web UI, the app that mounts them, and the
# command line that serves it) sit on top; the data layer, the caller and the audit log
# beneath never reach up into them.
HTTP_LAYERS = ("hub/api/", "hub/web/", "hub/main.py", "hub/__main__.py")


def test_the_hubs_data_layer_never_imports_its_http_layers() -> None:
    found = []
    for path in sorted((ROOT / "hub").rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        if where.startswith(HTTP_LAYERS):
            continue
        for name in sorted(imported_modules(path)):
            if name.startswith(("hub.api", "hub.web", "hub.main")):
                found.append(f"{where} imports {name}")
    assert found == []
