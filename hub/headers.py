"""Headers on every response of the hub: no page of it may be framed (a gate command clicked
inside someone else's page would come from the hub's own page, past every same-site check),
scripts and styles come only from the hub itself, and browsers neither guess content types
nor leak the hub's addresses in a Referer.

The UI has no inline script or style (hub/web/templates, hub/web/static): its pages satisfy
the policy as it is, and later pages must load their data from served scripts too. FastAPI's
/docs and /redoc pages are built from inline scripts: they get the same headers except the
script and style sources (framing is forbidden there too).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_POLICY = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})

COMMON = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    docs = path in DOCS_PATHS
    policy = DOCS_POLICY if docs else POLICY
    return [*COMMON, (b"content-security-policy", policy.encode("ascii"))]


class SecurityHeaders:
    """Pure ASGI (no buffering of bodies, server-sent events untouched); a header the
    route set itself is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        added = headers_for(scope.get("path", ""))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in added if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self._app(scope, receive, with_headers)
