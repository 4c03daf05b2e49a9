"""A request's body is refused before anything parses it when it is larger than its route
takes (413): a 50 MB body to the unauthenticated login was parsed whole. Face enrolment takes
its photos; every other body fits in `MAX_BODY_BYTES`. A body is read up to its limit before
the route sees it (a declared length over it is refused without reading a byte), then handed
on as it came."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.schemas.faces import MAX_PHOTO_CHARS, MAX_PHOTOS

MAX_BODY_BYTES = 1024 * 1024
FACE_BODY_BYTES = MAX_PHOTOS * MAX_PHOTO_CHARS + 64 * 1024  # the photos and their consent
_LARGER = ((re.compile(r"^/api/people/[^/]+/face$"), FACE_BODY_BYTES),)


def limit_for(path: str) -> int:
    return next((size for pattern, size in _LARGER if pattern.match(path)), MAX_BODY_BYTES)


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, limit)
            return
        messages = await _read_body(receive, limit)
        if messages is None:
            await _refuse(send, limit)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self._app(scope, replay, send)


async def _read_body(receive: Receive, limit: int) -> list[Message] | None:
    """The body's messages, or None once they add up to more than `limit` bytes."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return messages


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"the request's body is over {limit} bytes"}).encode()
    length = str(len(body)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", length)]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
