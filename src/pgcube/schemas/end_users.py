"""Bodies and answers of ``/api/auth_settings`` and ``/api/end_users`` (SPEC §11.3, ADR 0019).

The bodies are closed contracts: an unknown key, or a value of the wrong type, is a 400 naming
it, and nothing is written.
"""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

import msgspec

from pgcube.errors import InvalidJson, ValidationError
from pgcube.management.end_users import EndUser
from pgcube.management.models import AuthSettings
from pgcube.schemas.management import Pagination, iso_utc

Body = TypeVar("Body", bound=msgspec.Struct)

_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


def decode_exactly(raw: bytes, body_type: type[Body]) -> Body:
    """``raw`` as ``body_type``, each value of its own JSON type.

    Litestar converts a ``JSONBody`` leniently — ``"false"`` and ``0`` pass for a boolean —
    which a switch such as ``disabled`` must not: here they are a 400 naming the field.
    """
    try:
        return msgspec.json.decode(raw, type=body_type)
    except msgspec.ValidationError as exc:
        message = str(exc)
        path = _PATH.search(message)
        field = path.group("path") if path else ""
        # Worded as Litestar's own refusals (pgcube.api.errors): the field goes in details.
        raise ValidationError(_PATH.sub("", message), details={"field": field} if field else {}) from None
    except msgspec.DecodeError as exc:
        raise InvalidJson(f"The request body is not valid JSON: {exc}") from None


UserKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="The end user's _userkey")]


# --- auth settings -------------------------------------------------------------------------------
class AuthSettingsBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``PUT /api/auth_settings``: the settings to change; those left out keep their value."""

    database_id: str
    allow_email_signup: bool | msgspec.UnsetType = msgspec.UNSET
    require_verified_email: bool | msgspec.UnsetType = msgspec.UNSET
    verify_email_on_signup: bool | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, bool]:
        """The settings the body sets, by name."""
        return {
            name: value
            for name in AuthSettings.__struct_fields__
            if isinstance(value := getattr(self, name), bool)
        }


class AuthSettingsOut(msgspec.Struct, kw_only=True):
    allow_email_signup: bool
    """``auth.signup`` is open (default true)."""
    require_verified_email: bool
    """``auth.signin`` refuses an unverified email with 403 ``EMAIL_NOT_VERIFIED`` (default false)."""
    verify_email_on_signup: bool
    """``auth.signup`` sends a code and answers ``next_action: VERIFY_EMAIL`` (default false)."""

    @classmethod
    def of(cls, settings: AuthSettings) -> AuthSettingsOut:
        return cls(**msgspec.structs.asdict(settings))  # field for field: a new one fails here


class AuthSettingsAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    data: AuthSettingsOut


# --- end users -----------------------------------------------------------------------------------
class EndUserOut(msgspec.Struct, kw_only=True):
    user_key: str = msgspec.field(name="_userkey")
    email: str
    email_verified: bool
    display_name: str | None
    photo_url: str | None
    phone_number: str | None
    metadata: msgspec.Raw
    """The user's metadata object, as stored."""
    roles: list[str]
    auth_types: list[str]
    disabled: bool
    created_at: str
    last_signin_at: str | None

    @classmethod
    def of(cls, user: EndUser) -> EndUserOut:
        fields = msgspec.structs.asdict(user)  # field for field: a new one (a hash?) fails here
        fields["metadata"] = msgspec.Raw(user.metadata)
        fields["created_at"] = iso_utc(user.created_at)
        fields["last_signin_at"] = None if user.last_signin_at is None else iso_utc(user.last_signin_at)
        return cls(**fields)


class ListEndUsersAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    data: list[EndUserOut]
    pagination: Pagination


class EndUserBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``DELETE /api/end_users``."""

    database_id: str
    user_key: UserKey = msgspec.field(name="_userkey")


class EndUserPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/end_users``."""

    database_id: str
    user_key: UserKey = msgspec.field(name="_userkey")
    disabled: bool
    """True: the user cannot sign in, and every session they hold ends now. False: they can again."""


class EndUserAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    data: EndUserOut


class DeletedEndUserAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    deleted: str
    """The deleted user's ``_userkey``."""
