"""Driver errors → pgcube errors, by SQLSTATE (exact code first, then class).

The one table of its kind: nothing else in pgcube looks at driver exceptions'
text. Errors not listed here are internal errors.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from pgcube import errors

log = logging.getLogger("pgcube.db")

_BY_CODE: dict[str, type[errors.PgcubeError]] = {
    "23505": errors.DuplicateKey,  # unique_violation
    "57014": errors.QueryTimeout,  # query_canceled (statement_timeout)
    "2201B": errors.InvalidQuery,  # invalid_regular_expression
    "22P05": errors.ValidationError,  # untranslatable_character (\u0000 in a jsonb string)
    "53300": errors.ServiceUnavailable,  # too_many_connections
    "57P01": errors.ServiceUnavailable,  # admin_shutdown
    "57P02": errors.ServiceUnavailable,  # crash_shutdown
    "57P03": errors.ServiceUnavailable,  # cannot_connect_now
    "40001": errors.Conflict,  # serialization_failure
    "40P01": errors.Conflict,  # deadlock_detected
    "55P03": errors.Conflict,  # lock_not_available
    # A web-key write whose new row a collection's row-level security refuses (SPEC §11.4).
    "42501": errors.Forbidden,  # insufficient_privilege
}

_BY_CLASS: dict[str, type[errors.PgcubeError]] = {
    "08": errors.ServiceUnavailable,  # connection exception
    # Data exceptions come from values in the request meeting the stored data:
    # an update operator on a value of another type ($incr on a string, $push
    # on an object), a number out of range, a malformed date.
    "22": errors.ValidationError,
}

_MESSAGES: dict[str, str] = {
    "2201B": "Invalid regular expression",
    "22P05": "Strings cannot contain the NUL character (\\u0000): PostgreSQL's jsonb does not store it",
    "40001": "The request conflicted with a concurrent one; retry it",
    "40P01": "The request conflicted with a concurrent one; retry it",
    "55P03": "The request conflicted with a concurrent one; retry it",
    "42501": "The collection's access rules do not allow this",
    "22": "A value in the request does not apply to the data it meets (wrong type or out of range)",
}


def map_db_error(exc: BaseException) -> errors.PgcubeError | None:
    """The pgcube error for a driver exception, or None when it is not ours to explain."""
    if isinstance(exc, errors.PgcubeError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", None) or ""
        cls = _BY_CODE.get(sqlstate) or _BY_CLASS.get(sqlstate[:2])
        if cls is None:
            return None
        if cls is errors.ServiceUnavailable:
            return errors.ServiceUnavailable()
        # No SQLSTATE in the answer: it tells a caller about the database underneath, and the
        # error's code already says what went wrong (issue 14, finding 13).
        return cls(_MESSAGES.get(sqlstate) or _MESSAGES.get(sqlstate[:2]))
    # Lost connections, refused connects and pool acquire time-outs.
    if isinstance(exc, asyncpg.exceptions.ConnectionDoesNotExistError | OSError | asyncio.TimeoutError):
        return errors.ServiceUnavailable()
    # When PostgreSQL closes a connection between two statements of a request (a
    # restart, a terminated backend), the next statement fails in the driver, not
    # the server: InternalClientError ("another operation is in progress": the FATAL
    # error arrived while idle), or InterfaceError ("connection is closed", "released
    # back to the pool"). Both also mean a misuse of the driver; they are logged, so
    # a bug does not hide behind a 503.
    if isinstance(exc, asyncpg.exceptions.InternalClientError | asyncpg.InterfaceError):
        log.warning("database connection lost mid-request: %s: %s", type(exc).__name__, exc)
        return errors.ServiceUnavailable()
    return None
