"""The upload floor: a bare ASGI app that only drains a request's body, for ``bench.file_bench``.

``POST /`` reads the body as uvicorn hands it over and answers its size; any
other request answers 200 (the readiness probe). No framework, no parsing, no
hashing, no disk: what receiving the bytes over loopback costs on the server
pgcube runs on (uvicorn + httptools + uvloop), and so the fastest any upload
route on this stack could be.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]


async def app(
    scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = str(size).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
