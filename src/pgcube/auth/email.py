"""Outgoing email: the messages pgcube sends, and the senders that deliver them.

Two senders implement ``MailSender``:

* ``OutboxMailSender`` (the default, when ``PGCUBE_SMTP_HOST`` is unset): the
  message is kept in ``pgcube.outbox`` inside the request's transaction, so
  it exists exactly when the token it carries does, and is written to the
  log. In development mode the log line holds the whole message, link
  included, so a local user can follow it; outside development mode the log
  names only the outbox row (no token ever reaches a production log, A6).
* ``SmtpMailSender``: sends through the configured SMTP server, in a worker
  thread, after the caller has moved on: the request's answer and timing do
  not depend on the mail server (and do not reveal whether an email was
  sent, G2). A message whose delivery fails is logged without its body; the
  user can ask for another. Messages are not kept in the outbox: a token
  is never stored in clear where it can be mailed instead.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

import anyio.to_thread
import msgspec

from pgcube.settings import Settings

log = logging.getLogger("pgcube.email")
outbox_log = logging.getLogger("pgcube.outbox")

SMTP_TIMEOUT = 20.0
_MAX_PARALLEL_DELIVERIES = 4


class Mail(msgspec.Struct, frozen=True, kw_only=True):
    to: str
    subject: str
    body: str
    account_id: str | None = None


class Outbox(Protocol):
    async def keep(self, mail: Mail) -> int:
        """Store ``mail`` in ``pgcube.outbox``; its row id."""
        ...


class MailSender(Protocol):
    async def send(self, mail: Mail, outbox: Outbox) -> None: ...

    async def aclose(self) -> None: ...


class OutboxMailSender:
    def __init__(self, development: bool) -> None:
        self._development = development

    async def send(self, mail: Mail, outbox: Outbox) -> None:
        row_id = await outbox.keep(mail)
        if self._development:
            outbox_log.info("email (outbox id %d) to %s — %s\n%s", row_id, mail.to, mail.subject, mail.body)
        else:
            outbox_log.info("email (outbox id %d) kept in pgcube.outbox: %s", row_id, mail.subject)

    async def aclose(self) -> None:
        return None


class SmtpMailSender:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._tasks: set[asyncio.Task[None]] = set()
        self._parallel = asyncio.Semaphore(_MAX_PARALLEL_DELIVERIES)

    async def send(self, mail: Mail, outbox: Outbox) -> None:
        task = asyncio.create_task(self._deliver(mail))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, mail: Mail) -> None:
        async with self._parallel:
            try:
                await anyio.to_thread.run_sync(self._send_sync, mail)
            except Exception as exc:  # a mail server problem must not take the service down
                log.warning("could not send email %r to %s: %s", mail.subject, mail.to, type(exc).__name__)

    def _send_sync(self, mail: Mail) -> None:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.mail_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        host = s.smtp_host or "localhost"
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.smtp_port == 465:
            smtp = smtplib.SMTP_SSL(host, s.smtp_port, timeout=SMTP_TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(host, s.smtp_port, timeout=SMTP_TIMEOUT)
        with smtp:
            if s.smtp_port != 465 and s.smtp_starttls:
                smtp.starttls(context=context)
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
            smtp.send_message(message)

    async def aclose(self) -> None:
        """Let queued deliveries finish (bounded) when the service stops."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=SMTP_TIMEOUT)


def mail_sender_for(settings: Settings) -> MailSender:
    if settings.smtp_host:
        return SmtpMailSender(settings)
    return OutboxMailSender(development=settings.is_development)


# --- the messages ----------------------------------------------------------------------


def verification_mail(base_url: str, to: str, token: str, ttl_hours: int, account_id: str) -> Mail:
    link = f"{base_url}/core/verify-email/{token}"
    return Mail(
        to=to,
        account_id=account_id,
        subject="Verify your pgcube email address",
        body=(
            "Welcome to pgcube.\n\n"
            f"Open this link to verify your email address:\n\n  {link}\n\n"
            f"The link works once and expires in {ttl_hours} hours. "
            "If you did not register, ignore this message.\n"
        ),
    )


def already_registered_mail(base_url: str, to: str, account_id: str) -> Mail:
    return Mail(
        to=to,
        account_id=account_id,
        subject="Someone tried to register with your pgcube email address",
        body=(
            "Someone (maybe you) tried to register a pgcube account with this email address, "
            "which already has one.\n\n"
            f"If it was you, log in at {base_url}/core/login, or reset your password with "
            f"POST {base_url}/core/password-reset/request.\n"
            "If it was not you, you can ignore this message: nothing has changed.\n"
        ),
    )


def password_reset_mail(base_url: str, to: str, token: str, ttl_minutes: int, account_id: str) -> Mail:
    return Mail(
        to=to,
        account_id=account_id,
        subject="Reset your pgcube password",
        body=(
            "Someone (maybe you) asked to reset the password of your pgcube account.\n\n"
            f"Your reset token is:\n\n  {token}\n\n"
            f"Send it with your new password: POST {base_url}/core/password-reset/confirm "
            '{"token": "<the token>", "password": "<new password>"}\n\n'
            f"The token works once and expires in {ttl_minutes} minutes. Resetting signs out every "
            "session of the account and revokes every API key it has: create new keys afterwards "
            "for your programs. If you did not ask for this, ignore this message.\n"
        ),
    )
