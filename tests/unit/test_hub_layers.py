"""The hub's layers, read from the source: the API's models in one home (`hub/schemas/`),
and routes that leave every read and write to the data layer."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HUB = ROOT / "hub"

# Models that are not the API's: the web UI's forms, and the settings' sections.
NOT_THE_APIS = ("hub/web/", "hub/analytics/policy.py", "hub/core/config.py")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _pydantic_models(path: Path) -> list[str]:
    return [
        node.name
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ClassDef)
        and any(isinstance(base, ast.Name) and base.id == "BaseModel" for base in node.bases)
    ]


def test_the_apis_models_live_in_hub_schemas() -> None:
    found = []
    for path in sorted(HUB.rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        if where.startswith(("hub/schemas/", *NOT_THE_APIS)):
            continue
        found += [f"{where}: {name}" for name in _pydantic_models(path)]
    assert found == []
