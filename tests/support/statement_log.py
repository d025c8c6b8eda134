"""Counting the statements pgcube sends, from PostgreSQL's own statement log.

``StatementLog`` is a loopback TCP proxy in front of the test PostgreSQL. The
server URL it hands out asks for ``log_statement=all`` and
``client_min_messages=log``, so PostgreSQL sends each line of its statement
log ("statement: …", "execute <name>: …") back to the connection that ran the
statement; the proxy reads them off the wire (NoticeResponse messages of
severity LOG) and keeps them. Works on any server the suite runs on (the
embedded one through its Unix socket, CI's PostgreSQL 15 over TCP), with no
access to the server's log files.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from tests.support.live import free_port

_NOTICE = ord("N")
_STATEMENT_PREFIXES = ("statement: ", "execute ")


def _backend(url: str) -> tuple[str | None, str, int]:
    """(unix socket path or None, host, port) of a PostgreSQL URL."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    if host.startswith("/"):
        return f"{host}/.s.PGSQL.{port}", host, port
    return None, host, port


def _notice_lines(payload: bytes) -> tuple[str, str]:
    """(severity, message) of a NoticeResponse's fields."""
    severity = message = ""
    for field in payload.split(b"\x00"):
        if field[:1] == b"V":
            severity = field[1:].decode()
        elif field[:1] == b"M":
            message = field[1:].decode()
    return severity, message


class StatementLog:
    def __init__(self, server_url: str) -> None:
        self._socket, self._host, self._port = _backend(server_url)
        self._server_url = server_url
        self.port = free_port()
        self.statements: list[str] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        """The server's URL through the proxy, with the statement log turned on."""
        parts = urlsplit(self._server_url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items() if k not in ("host", "port")}
        query |= {"sslmode": "disable", "log_statement": "all", "client_min_messages": "log"}
        netloc = f"{parts.username or 'postgres'}@127.0.0.1:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))

    def take(self) -> list[str]:
        """The statements logged since the last call."""
        with self._lock:
            taken, self.statements = self.statements, []
        return taken

    async def _serve(self) -> asyncio.Server:
        return await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._socket is not None:
            up_reader, up_writer = await asyncio.open_unix_connection(self._socket)
        else:
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        await asyncio.gather(self._pipe(reader, up_writer), self._read_server(up_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _read_server(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Forward the server's messages, noting its statement-log lines."""
        try:
            while True:
                header = await reader.readexactly(5)
                kind, length = header[0], struct.unpack("!I", header[1:])[0]
                payload = await reader.readexactly(length - 4)
                if kind == _NOTICE:
                    severity, message = _notice_lines(payload)
                    if severity == "LOG" and message.startswith(_STATEMENT_PREFIXES):
                        with self._lock:
                            self.statements.append(message)
                writer.write(header + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> StatementLog:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@contextmanager
def statement_log(server_url: str) -> Iterator[StatementLog]:
    with StatementLog(server_url) as log:
        yield log
