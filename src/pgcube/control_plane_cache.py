"""What this process keeps from the control plane, and how a notification evicts it (ADR 0012).

Five caches behind one ``Trust``:

* ``keys`` — API key id → ``KeyAuthRow`` (account, secret digest, database
  scope) of a live key (``pgcube.auth.service``);
* ``sessions`` — session id → ``SessionRow`` (account, live or not): what an
  access token's check needs (``pgcube.auth.service``, ADR 0015);
* ``databases`` — database id → ``Database`` (its owner included: tenancy is
  checked against it, ``pgcube.management.service``);
* ``collections`` — (database id, name) → ``Collection`` with its declared fields;
* ``user_sessions`` — end-user session id → ``UserSessionRow`` (user, database,
  live or not, expiry): what an end user's ``id_token`` check needs
  (``pgcube.users.principals``).

``ControlPlaneCaches`` is the listener's subscriber (``pgcube.db.notify``).
The payloads are written by the triggers of migration 0002::

    key:<key id>                    a row of pgcube.api_keys
    database:<database id>          a row of pgcube.databases
    collection:<database id>:<name> a row of pgcube.collections or pgcube.fields
    account:<account id>            a deleted pgcube.accounts row
    session:<session id>            a row of pgcube.sessions (migration 0004)
    sessions:<account id>           the account's sessions_valid_after (migration 0004)
    user_session:<session id>       a row of a database's _sessions (migration 0006)
    end_user:<_userkey>             a database's _users row disabled, deleted or signed out
    reset                           a control-plane table was truncated

Nothing absent is cached (an unknown key or database is looked up again), so
only changes and removals matter; an unknown payload drops everything. A
process that makes a change itself also forgets the entry at once
(``forget_*``), so its own next request never waits for the notification.
"""

from __future__ import annotations

import asyncio
import weakref

from pgcube.auth.repository import KeyAuthRow, SessionRow
from pgcube.cache import GuardedCache, Trust
from pgcube.db.notify import Listener
from pgcube.management.models import Collection, Database
from pgcube.users.repository import UserSessionRow


class ControlPlaneCaches:
    def __init__(self) -> None:
        self.trust = Trust()
        self.keys: GuardedCache[str, KeyAuthRow] = GuardedCache(self.trust)
        self.sessions: GuardedCache[str, SessionRow] = GuardedCache(self.trust)
        self.databases: GuardedCache[str, Database] = GuardedCache(self.trust)
        self.collections: GuardedCache[tuple[str, str], Collection] = GuardedCache(self.trust)
        self.user_sessions: GuardedCache[str, UserSessionRow] = GuardedCache(self.trust)

    def clear(self) -> None:
        self.keys.clear()
        self.sessions.clear()
        self.databases.clear()
        self.collections.clear()
        self.user_sessions.clear()

    def forget_key(self, key_id: str) -> None:
        self.keys.evict(key_id)

    def forget_session(self, session_id: str) -> None:
        self.sessions.evict(session_id)

    def forget_account_credentials(self, account_id: str) -> None:
        """Every session and key of the account (a password reset revoked them all)."""
        self.sessions.evict_where(lambda _, row: row.account_id == account_id)
        self.keys.evict_where(lambda _, row: row.account_id == account_id)

    def forget_database(self, database_id: str) -> None:
        # Its collections and scoped keys are announced too (the cascade fires their
        # triggers); evicting them here as well keeps a drop whole even if one is missed.
        self.databases.evict(database_id)
        self.collections.evict_where(lambda key, _: key[0] == database_id)
        self.keys.evict_where(lambda _, row: row.database_id == database_id)
        self.user_sessions.evict_where(lambda _, row: row.database_id == database_id)

    def forget_collection(self, database_id: str, name: str) -> None:
        self.collections.evict((database_id, name))

    def forget_user_session(self, session_id: str) -> None:
        self.user_sessions.evict(session_id)

    def forget_end_user(self, user_key: str) -> None:
        """Every session of the end user (disabled, deleted, or a password changed)."""
        self.user_sessions.evict_where(lambda _, row: row.user_key == user_key)

    # --- the listener's subscriber (pgcube.db.notify.Subscriber) ----------------------------

    def connected(self) -> None:
        self.clear()

    def confirmed(self, sent_at: float) -> None:
        self.trust.renew(sent_at)

    def lost(self) -> None:
        self.trust.withdraw()

    def message(self, payload: str) -> None:
        kind, _, ident = payload.partition(":")
        if kind == "key":
            self.forget_key(ident)
        elif kind == "collection":
            database_id, _, name = ident.partition(":")
            self.forget_collection(database_id, name)
        elif kind == "database":
            self.forget_database(ident)
        elif kind == "session":
            self.forget_session(ident)
        elif kind == "sessions":
            self.forget_account_credentials(ident)
        elif kind == "user_session":
            self.forget_user_session(ident)
        elif kind == "end_user":
            self.forget_end_user(ident)
        else:  # an account deleted, a truncate, or a payload this version does not know
            self.clear()


_PER_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ControlPlaneCaches] = (
    weakref.WeakKeyDictionary()
)


def caches() -> ControlPlaneCaches:
    """This process's caches.

    One set per event loop: a worker process runs one loop, so this is one set
    per process; servers that share a process (tests) each run their own loop
    and so get their own set, fed and trusted by their own listener only.
    Without a running listener they are never trusted and every look-up reads
    PostgreSQL.
    """
    loop = asyncio.get_running_loop()
    found = _PER_LOOP.get(loop)
    if found is None:
        found = _PER_LOOP[loop] = ControlPlaneCaches()
    return found


async def start_invalidation(url: str) -> Listener:
    """Start this process's listener on ``url`` (the caches work once it has connected)."""
    listener = Listener(url, caches())
    await listener.start()
    return listener
