"""`python -m bench.api_fuzz --json FILE [--seconds N] [--roles admin,resident]`:
schemathesis against the hub's own OpenAPI.

A hub (its HTTP API, on a fresh SQLite database, with a compound, a building, a unit, an
admin and a resident) is served by uvicorn on a free port; schemathesis generates requests
for every operation from the OpenAPI document (valid and invalid ones), sends them as each
role in turn, and checks each response: no server error (5xx; the documented 503 of a
guard's command, which has no broker and no edge to reach here, is counted apart as
`unavailable`), and the status code, content type, headers and body as the document says.
With `--seconds N`, each role's rounds over every operation go on for N seconds (new random
requests each round); without, one round of `--examples` requests an operation. Keys:
`operations`, `requests`, `server_errors`, `responses_outside_schema` (targets 0 and 0;
`schema_violations`, its older name, too), `unavailable`, per role in `by_role`, with the
first failures listed.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from sqlmodel import Session

from bench.common import Row, base_parser, machine, print_table, write_json
from harness.processes import free_port, wait_until
from hub import auth, registry
from hub.core.config import HubSettings
from hub.core.security import SecretBox
from hub.main import create_app
from hub.tables import Building, Unit

PASSWORD = "fuzz-admin-password"
ROLES = ("admin", "resident")


@dataclass
class Tally:
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    refused_valid: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


# Requests the schema allows and the API refuses with a 400 or 422 because of a rule the
# schema cannot state (a paging cursor the API never issued, an end before its start, a
# far-off year, a plate in no valid format): not
# a violation of the documented contract, so counted apart.
REFUSED_VALID = "Schema-valid request rejected"
# The hub's documented "out of reach" (a guard's command with no broker and no edge, as here:
# the API alone is fuzzed): what it must answer then, counted apart from server errors.
UNAVAILABLE = 503


def _file(tally: Tally, status: int, failure: str) -> None:
    if status == UNAVAILABLE:
        tally.unavailable.append(failure)
    elif status >= 500:
        tally.server_errors.append(failure)
    elif failure.endswith(REFUSED_VALID) and status in (400, 422):
        tally.refused_valid.append(failure)
    else:
        tally.violations.append(failure)


def serve(workdir: Path) -> tuple[uvicorn.Server, str]:
    settings = HubSettings(
        database_url=f"sqlite:///{workdir / 'hub.sqlite'}",
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}",  # no broker: the API alone is fuzzed
        secret_keys=SecretBox.generate_key(),
        topic_prefix="fuzz",
        analytics_every_s=3600,
    )
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_until(lambda: server.started, 30, "uvicorn")
    engine = app.state.services.engine
    with Session(engine) as session:
        registry.create_compound(
            session=session, compound_id="c1", name="c1", box=settings.secret_box()
        )
        session.flush()
        session.add(Building(id="b1", compound_id="c1", name="1"))
        session.flush()
        session.add(Unit(id="u1", compound_id="c1", building_id="b1", label="101"))
        for role in ROLES:
            auth.create_user(
                session=session,
                settings=settings,
                username=role,
                password=PASSWORD,
                role=auth.Role(role),
                compound_id="c1",
                unit_id="u1" if role == "resident" else None,
            )
        session.commit()
    return server, f"http://127.0.0.1:{port}"


def token(base_url: str, role: str) -> str:
    response = httpx.post(
        f"{base_url}/api/auth/login", json={"username": role, "password": PASSWORD}
    )
    response.raise_for_status()
    return str(response.json()["token"])


# Operations left out: they would end or close the session every other request uses.
SESSION_ENDERS = {
    "/api/auth/logout",
    "/api/users/{username}/disable",
    "/api/users/{username}/sessions",
}


def fuzz(base_url: str, examples: int, role: str, seconds: float) -> tuple[int, Tally]:
    """Rounds over every operation as `role`, until `seconds` have passed (one round at
    least)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    tally = Tally()
    deadline = time.monotonic() + seconds
    operations = 0
    while True:
        operations = _round(schema, base_url, examples, role, tally)
        if time.monotonic() >= deadline:
            return operations, tally


def _round(
    schema: schemathesis.BaseSchema, base_url: str, examples: int, role: str, tally: Tally
) -> int:
    headers = {"Authorization": f"Bearer {token(base_url, role)}"}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SESSION_ENDERS:
            continue
        operations += 1

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            tally.requests += 1
            where = f"{case.method} {case.path} → {response.status_code}"
            try:
                case.validate_response(response, headers=headers)
            except (Exception, BaseExceptionGroup) as exc:  # each failed check, reported
                for title in _titles(exc):
                    _file(tally, response.status_code, f"{where}: {title}")

        check()
    return operations


def _titles(exc: BaseException) -> list[str]:
    """The failed checks' titles ("Undocumented status code", …), one a distinct failure."""
    inner = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    return [str(getattr(e, "title", "") or str(e).splitlines()[0])[:160] for e in inner]


def main(argv: list[str] | None = None) -> int:
    parser = base_parser("python -m bench.api_fuzz", __doc__)
    parser.add_argument("--examples", type=int, default=50, help="requests per operation")
    parser.add_argument("--seconds", type=float, default=0, help="each role's time (rounds)")
    parser.add_argument("--roles", default=",".join(ROLES), help="as whom, in turn")
    args = parser.parse_args(argv)
    roles = [r for r in args.roles.split(",") if r]
    if not roles or set(roles) - set(ROLES):
        parser.error(f"--roles: some of {', '.join(ROLES)}")
    started = time.monotonic()
    by_role: dict[str, tuple[int, Tally]] = {}
    with tempfile.TemporaryDirectory(prefix="anju-fuzz-") as tmp:
        server, base_url = serve(Path(tmp))
        try:
            for role in roles:
                by_role[role] = fuzz(base_url, args.examples, role, args.seconds)
        finally:
            server.should_exit = True
    operations = max(n for n, _ in by_role.values())
    tally = Tally()
    for _, one in by_role.values():
        tally.requests += one.requests
        tally.server_errors += one.server_errors
        tally.violations += one.violations
        tally.refused_valid += one.refused_valid
        tally.unavailable += one.unavailable
    results: dict[str, object] = {
        "operations": operations,
        "requests": tally.requests,
        "server_errors": len(tally.server_errors),
        "responses_outside_schema": len(tally.violations),
        "schema_violations": len(tally.violations),
        "valid_requests_refused": len(tally.refused_valid),
        "unavailable": len(tally.unavailable),
        "by_role": {
            role: {
                "requests": one.requests,
                "server_errors": len(one.server_errors),
                "responses_outside_schema": len(one.violations),
            }
            for role, (_, one) in by_role.items()
        },
        "first_server_errors": tally.server_errors[:20],
        "first_schema_violations": tally.violations[:20],
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine(),
    }
    print_table(
        f"schemathesis against the hub's OpenAPI ({operations} operations, as {args.roles})",
        [
            Row("requests", tally.requests, ""),
            Row("server_errors", len(tally.server_errors), "", "0", not tally.server_errors),
            Row("responses_outside_schema", len(tally.violations), "", "0", not tally.violations),
            Row("valid_requests_refused", len(tally.refused_valid), "", "(a rule)"),
            Row("unavailable (503, no broker)", len(tally.unavailable), "", "(documented)"),
        ],
    )
    for line in [*tally.server_errors, *tally.violations][:30]:
        print(f"  ! {line}")
    write_json(args.json, results)
    return 0 if not (tally.server_errors or tally.violations) else 1


if __name__ == "__main__":
    raise SystemExit(main())
