"""The one error hierarchy of pgcube.

Domain code raises these; ``pgcube.api.errors`` is the one place that turns
them (and everything else) into the response envelope of SPEC §3. Nothing in
here knows about HTTP beyond the status number each error class carries.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PgcubeError(Exception):
    """Base class: an error the client is told about, with a stable code."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details: dict[str, Any] = details or {}
        self.headers: dict[str, str] = headers or {}
        if code is not None:
            self.code = code  # type: ignore[misc]  # an instance may narrow its class's code
        super().__init__(self.message)


# --- 400 -------------------------------------------------------------------------
class ValidationError(PgcubeError):
    status = 400
    code = "VALIDATION_ERROR"
    default_message = "The request is not valid"


def missing_field(field: str) -> ValidationError:
    """The one wording of a required field that was not sent (or was empty)."""
    return ValidationError(f"Missing required field: {field}", details={"field": field})


class InvalidFileType(PgcubeError):
    status = 400
    code = "INVALID_FILE_TYPE"
    default_message = "This service does not take files of this type"


class UploadExpired(PgcubeError):
    status = 400
    code = "UPLOAD_EXPIRED"
    default_message = "The upload's time is up: ask for a new one"


class InvalidQuery(PgcubeError):
    status = 400
    code = "INVALID_QUERY"
    default_message = "The query is not valid"


class InvalidJson(PgcubeError):
    status = 400
    code = "INVALID_JSON"
    default_message = "The request body is not valid JSON"


class BatchLimitExceeded(PgcubeError):
    status = 400
    code = "BATCH_LIMIT_EXCEEDED"
    default_message = "Too many documents in one request"


class InvalidToken(PgcubeError):
    status = 400
    code = "INVALID_TOKEN"
    default_message = "The token is invalid, expired or already used"


class WeakPassword(PgcubeError):
    status = 400
    code = "WEAK_PASSWORD"
    default_message = "The password is too weak"


# --- 401 / 403 ---------------------------------------------------------------------
class AuthenticationFailed(PgcubeError):
    status = 401
    code = "AUTHENTICATION_FAILED"
    default_message = "Invalid API key or JWT token"


class InvalidCredentials(PgcubeError):
    status = 401
    code = "INVALID_CREDENTIALS"
    default_message = "Invalid email or password"


class InvalidSessionToken(PgcubeError):
    """An end user's ``id_token`` or refresh token that is bad, spent or of an ended session
    (SPEC §14: ``INVALID_TOKEN`` is a 401 for these, a 400 for one-time tokens)."""

    status = 401
    code = "INVALID_TOKEN"
    default_message = "The token is invalid, expired or revoked: sign in again"


class TokenExpired(PgcubeError):
    status = 401
    code = "TOKEN_EXPIRED"
    default_message = "The token has expired"


class Forbidden(PgcubeError):
    status = 403
    code = "FORBIDDEN"
    default_message = "You are not allowed to do this"


class EmailNotVerified(PgcubeError):
    status = 403
    code = "EMAIL_NOT_VERIFIED"
    default_message = "Verify your email address before logging in"


class QuotaExceeded(PgcubeError):
    status = 403
    code = "QUOTA_EXCEEDED"
    default_message = "Quota exceeded"


class StorageQuotaExceeded(QuotaExceeded):
    code = "STORAGE_QUOTA_EXCEEDED"
    default_message = "The database's storage quota is used up"


# --- 404 / 405 ---------------------------------------------------------------------
class NotFound(PgcubeError):
    status = 404
    code = "NOT_FOUND"
    default_message = "Not found"


class DatabaseNotFound(NotFound):
    code = "DATABASE_NOT_FOUND"
    default_message = "Database not found"


class CollectionNotFound(NotFound):
    code = "COLLECTION_NOT_FOUND"
    default_message = "Collection not found"


class DocumentNotFound(NotFound):
    code = "DOCUMENT_NOT_FOUND"
    default_message = "Document not found"


class FileNotFound(NotFound):
    code = "FILE_NOT_FOUND"
    default_message = "File not found"


class UnknownOp(NotFound):
    code = "UNKNOWN_OP"
    default_message = "Unknown operation"


class MethodNotAllowed(PgcubeError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    default_message = "Method not allowed"


# --- 409 / 413 / 422 / 429 -------------------------------------------------------
class DuplicateKey(PgcubeError):
    status = 409
    code = "DUPLICATE_KEY"
    default_message = "A document with this _key already exists"


class Conflict(PgcubeError):
    status = 409
    code = "CONFLICT"
    default_message = "Conflict"


class EmbedderMismatch(PgcubeError):
    status = 409
    code = "EMBEDDER_MISMATCH"
    default_message = "The vector collection was made with another embedder"


class PayloadTooLarge(PgcubeError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "The request body is too large"


class FileTooLarge(PayloadTooLarge):
    code = "FILE_TOO_LARGE"
    default_message = "The file is larger than this service takes"


class RangeNotSatisfiable(PgcubeError):
    status = 416
    code = "RANGE_NOT_SATISFIABLE"
    default_message = "The requested range is not within the file"


class IdempotencyMismatch(PgcubeError):
    status = 422
    code = "IDEMPOTENCY_KEY_REUSED"
    default_message = "This Idempotency-Key was used with a different request"


class RateLimitExceeded(PgcubeError):
    status = 429
    code = "RATE_LIMIT_EXCEEDED"
    default_message = "Too many requests"

    def __init__(self, *, limit: int, remaining: int, reset_at: int, retry_after: int) -> None:
        super().__init__(
            f"Too many requests. Try again in {retry_after} seconds.",
            details={
                "limit": limit,
                "remaining": remaining,
                "reset_at": reset_at,
                "retry_after": retry_after,
            },
            headers={"Retry-After": str(retry_after)},
        )


# --- 5xx -------------------------------------------------------------------------
class InternalError(PgcubeError):
    pass


class ServiceUnavailable(PgcubeError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    default_message = "The database is unavailable; try again shortly"

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(
            message,
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class FeatureUnavailable(PgcubeError):
    status = 501
    code = "FEATURE_UNAVAILABLE"
    default_message = "This feature is not available on this server"


class AiNotConfigured(PgcubeError):
    status = 501
    code = "AI_NOT_CONFIGURED"
    default_message = "No AI provider is configured on this server"


class AiProviderError(PgcubeError):
    status = 502
    code = "AI_PROVIDER_ERROR"
    default_message = "The AI provider failed to answer"


class AiTimeout(PgcubeError):
    status = 504
    code = "AI_TIMEOUT"
    default_message = "The AI provider took too long to answer"


class QueryTimeout(PgcubeError):
    status = 504
    code = "QUERY_TIMEOUT"
    default_message = "The query took too long and was cancelled"
