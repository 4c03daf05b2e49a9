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


# What a route may not do with a database session: every read and write is the data layer's.
SESSION_METHODS = {
    "exec",
    "execute",
    "get",
    "add",
    "add_all",
    "delete",
    "merge",
    "query",
    "scalar",
    "scalars",
    "flush",
    "commit",
    "refresh",
    "rollback",
}
SQL_LIBRARIES = ("sqlalchemy", "sqlmodel")


def _data_access(path: Path) -> list[str]:
    """Calls of a session's methods (`session.exec(...)`, `self.session.get(...)`), and
    imports of the SQL libraries, in the module at `path`."""
    found = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if "session" in name.lower() and node.func.attr in SESSION_METHODS:
                found.append(f"line {node.lineno}: {name}.{node.func.attr}()")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            )
            found += [
                f"line {node.lineno}: imports {m}"
                for m in modules
                if m and m.split(".")[0] in SQL_LIBRARIES
            ]
    return found


def test_routes_leave_reads_and_writes_to_the_data_layer() -> None:
    found = {
        path.name: problems
        for path in sorted((HUB / "api" / "routes").glob("*.py"))
        if (problems := _data_access(path))
    }
    assert found == {}


def test_the_check_sees_a_session_used_in_a_route(tmp_path: Path) -> None:
    route = tmp_path / "route.py"
    route.write_text(
        "from sqlmodel import select\n\n"
        "def f(session, db_session):\n"
        "    session.exec(select(1))\n"
        "    db_session.add(object())\n"
        "    session.commit()\n",
        encoding="utf-8",
    )
    assert _data_access(route) == [
        "line 1: imports sqlmodel",
        "line 4: session.exec()",
        "line 5: db_session.add()",
        "line 6: session.commit()",
    ]
