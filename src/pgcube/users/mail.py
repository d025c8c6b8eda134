"""The messages pgcube sends to end users, through the accounts' mail sender and outbox
(``pgcube.auth.email``): one-time codes."""

from __future__ import annotations

from pgcube.auth.email import Mail
from pgcube.users.models import Intent

_PURPOSES = {
    Intent.SIGNIN: "sign in",
    Intent.VERIFY_EMAIL: "verify your email address",
    Intent.CHANGE_PASSWORD: "change your password",
    Intent.CHANGE_EMAIL: "make this your new email address",
}


def code_mail(*, to: str, code: str, intent: Intent, project: str, minutes: int, account_id: str) -> Mail:
    """A code for ``intent``; kept in the outbox under the account that owns the project."""
    return Mail(
        to=to,
        account_id=account_id,
        subject=f"Your {project} code",
        body=(
            f"Your code to {_PURPOSES[intent]} in {project} is:\n\n  {code}\n\n"
            f"It works once and expires in {minutes} minutes. "
            "If you did not ask for it, ignore this message.\n"
        ),
    )
