"""The mail senders: SMTP (against a tiny local SMTP sink) and the outbox."""

from __future__ import annotations

import asyncio
import logging
import socketserver
import threading
from collections.abc import Iterator
from email import message_from_bytes
from typing import ClassVar

import pytest

from pgcube.auth.email import (
    Mail,
    OutboxMailSender,
    SmtpMailSender,
    mail_sender_for,
    password_reset_mail,
    verification_mail,
)
from pgcube.settings import Settings

TOKEN = "Zk3P9vQ2rT8xZ1mN6bW4cY7hJ0sL5dF-aE2gU9iO3p_"


class _Sink(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib.send_message."""

    received: ClassVar[list[bytes]] = []

    def handle(self) -> None:
        self.wfile.write(b"220 sink ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 sink\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                data = b""
                while (chunk := self.rfile.readline()) != b".\r\n":
                    data += chunk
                self.received.append(data)
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_port() -> Iterator[int]:
    _Sink.received = []
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Sink) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.server_address[1]
        server.shutdown()


class _NoOutbox:
    async def keep(self, mail: Mail) -> int:
        raise AssertionError("the SMTP sender does not keep messages in the outbox")


def test_smtp_sends_after_the_caller_moved_on(smtp_port: int) -> None:
    settings = Settings.from_env(
        {},
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_starttls=False,
        mail_from="pgcube <robot@example.org>",
    )
    sender = mail_sender_for(settings)
    assert isinstance(sender, SmtpMailSender)
    mail = verification_mail("https://cube.example", "dev@example.com", TOKEN, 24, "acc")

    async def scenario() -> None:
        await sender.send(mail, _NoOutbox())
        await sender.aclose()

    asyncio.run(scenario())
    assert len(_Sink.received) == 1
    message = message_from_bytes(_Sink.received[0])
    assert message["To"] == "dev@example.com"
    assert message["From"] == "pgcube <robot@example.org>"
    body = message.get_payload(decode=True).decode()
    assert f"https://cube.example/core/verify-email/{TOKEN}" in body


def test_an_unreachable_smtp_server_is_logged_without_the_message(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env({}, smtp_host="127.0.0.1", smtp_port=1, smtp_starttls=False)
    sender = SmtpMailSender(settings)

    async def scenario() -> None:
        await sender.send(password_reset_mail("http://x", "dev@example.com", TOKEN, 60, "acc"), _NoOutbox())
        await sender.aclose()

    asyncio.run(scenario())
    assert "could not send email" in caplog.text
    assert TOKEN not in caplog.text


class _ListOutbox:
    def __init__(self) -> None:
        self.kept: list[Mail] = []

    async def keep(self, mail: Mail) -> int:
        self.kept.append(mail)
        return len(self.kept)


@pytest.mark.parametrize("development", [True, False])
def test_the_outbox_sender_keeps_the_message_and_logs_the_link_only_in_development(
    development: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    outbox = _ListOutbox()
    mail = verification_mail("http://localhost:8000", "dev@example.com", TOKEN, 24, "acc")
    asyncio.run(OutboxMailSender(development=development).send(mail, outbox))
    assert outbox.kept == [mail]
    assert (TOKEN in caplog.text) is development
    assert "outbox id 1" in caplog.text
