"""A small, deterministic OpenAI-compatible server on a loopback port, for the ``xai.*`` tests.

pgcube has no fake provider (SPEC §14): the tests point ``PGCUBE_AI_BASE_URL``
at this server instead, and pgcube speaks real HTTP to it. It records every
request it gets (so a test can assert that the prompt and ``max_tokens``
arrived) and answers ``POST /v1/chat/completions`` as the test chose:

* by default, an echo: ``echo max_tokens=<n>: <the user message>``;
* ``answer_with(text)`` — that text as the message content;
* ``fail_with(status, body, headers)`` — an error answer (a 500, a 429 with ``Retry-After``);
* ``send_raw(body)`` — a 200 whose body is what the test says (JSON that does not parse,
  an object without ``choices``);
* ``hold()`` — requests wait until the block ends (a stall past the client's timeout, or
  model calls kept in flight while the test looks at pgcube's pool).

    with OpenAIServer() as provider:
        provider.answer_with('{"label": "sports"}')
        ...
        assert provider.requests[-1]["max_tokens"] == 256
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

MODEL = "fixture-chat-1"
"""The model the server says answered (whatever was asked for)."""
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


@dataclass
class _Reply:
    status: int = 200
    body: bytes | None = None
    """None: a chat completion of ``content`` (or the echo)."""
    content: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def echo(request: dict[str, Any]) -> str:
    """The default answer's text: what a test can predict from its own request."""
    user = next((m["content"] for m in request.get("messages", []) if m.get("role") == "user"), "")
    return f"echo max_tokens={request.get('max_tokens')}: {user}"


def completion(content: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-fixture",
            "object": "chat.completion",
            "model": MODEL,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": USAGE,
        }
    ).encode()


class OpenAIServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        """Every JSON body received, in order; with ``_path`` and ``_authorization`` added."""
        self._reply = _Reply()
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        """The base URL to give pgcube (``PGCUBE_AI_BASE_URL``)."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- what the next requests get ----------------------------------------------------------

    def reset(self) -> None:
        """Back to echoing, no request recorded, nothing held."""
        with self._lock:
            self._reply = _Reply()
            self.requests.clear()
        self._open.set()

    def answer_with(self, content: str) -> None:
        self._reply = _Reply(content=content)

    def fail_with(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body if body is not None else {"error": {"message": f"fixture {status}"}})
        self._reply = _Reply(status=status, body=raw.encode(), headers=headers or {})

    def send_raw(self, body: bytes) -> None:
        self._reply = _Reply(body=body)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Requests arriving in the block wait (unanswered) until it ends."""
        self._open.clear()
        try:
            yield
        finally:
            self._open.set()

    def wait_for_requests(self, count: int, seconds: float = 10.0) -> bool:
        """Whether ``count`` requests have arrived within ``seconds``."""
        deadline = time.monotonic() + seconds
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    @property
    def last(self) -> dict[str, Any]:
        assert self.requests, "the provider got no request"
        return self.requests[-1]

    # --- serving -----------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = json.loads(raw or b"{}")
                request["_path"] = self.path
                request["_authorization"] = self.headers.get("Authorization")
                with provider._lock:
                    provider.requests.append(request)
                    reply = provider._reply
                provider._open.wait(timeout=60)
                if self.path != "/v1/chat/completions":
                    self._send(404, json.dumps({"error": {"message": "no such route"}}).encode(), {})
                    return
                body = reply.body
                if body is None:
                    body = completion(reply.content if reply.content is not None else echo(request))
                self._send(reply.status, body, reply.headers)

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): nobody to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the tests read ``requests``

        return Handler

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._open.set()
        self._server.shutdown()
        self._server.server_close()
