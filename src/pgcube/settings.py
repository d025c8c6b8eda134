"""Settings, read once from ``PGCUBE_*`` environment variables.

Every field below is one variable: ``PGCUBE_`` + the field name in upper case
(``database_url`` → ``PGCUBE_DATABASE_URL``). The README lists them all; a test
keeps that list and this class in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from pgcube import query_limits

ENV_PREFIX = "PGCUBE_"

Environment = Literal["development", "production"]


class Settings(msgspec.Struct, frozen=True, kw_only=True, cache_hash=True):
    # --- where the data lives -------------------------------------------------
    database_url: str | None = None
    """PostgreSQL to use. Unset: an embedded PostgreSQL in ``data_dir``."""
    data_dir: str = ".pgcube"
    """Embedded PostgreSQL cluster and generated development secrets."""
    migrate_on_start: bool = True
    """Apply the control-plane migrations when ``pgcube serve`` starts."""

    # --- serving ---------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    environment: Environment = "development"
    """``production`` refuses weak secrets and hides nothing less."""
    log_level: str = "info"
    access_log: bool = True
    public_url: str = ""
    """Base URL used in links sent by email; defaults to http://host:port."""
    forwarded_allow_ips: str = ""
    """Proxies (comma-separated IPs, or ``*``) whose X-Forwarded-For names the client; empty: none."""

    # --- the connection pool -----------------------------------------------------
    pool_min_size: int = 2
    pool_max_size: int = 10
    pool_acquire_timeout: float = 5.0
    """Seconds to wait for a free connection before answering 503."""
    statement_timeout_ms: int = 5000
    """Every statement runs under this timeout; past it, 504 QUERY_TIMEOUT."""

    # --- request limits ----------------------------------------------------------
    max_body_bytes: int = 1024 * 1024
    max_import_bytes: int = 1024 * 1024 * 1024
    """Largest upload to /api/import_data (it streams: memory does not grow with it)."""
    import_idle_timeout: float = 60.0
    """Seconds an import upload may send nothing before it is abandoned (and rolled back)."""
    import_min_rate: int = 16 * 1024
    """Bytes per second an import upload must average, over the time spent waiting for the client,
    once its first ``import_idle_timeout`` seconds are past; slower, it is abandoned (0: no minimum)."""
    import_deadline: float = 3600.0
    """Seconds an import upload may last, first byte to last, before it is abandoned (and rolled back)."""
    max_import_decompressed_bytes: int = 4 * 1024 * 1024 * 1024
    """Largest import file once gzip is undone (413 past it, nothing written)."""
    import_max_concurrent: int = 4
    """Imports at once in one process; never more than half of ``pool_max_size``."""
    import_max_concurrent_per_account: int = 2
    """Imports at once per account in one process (429 past it)."""
    max_document_bytes: int = 1024 * 1024
    max_batch_size: int = 1000
    max_page_size: int = query_limits.MAX_PAGE_SIZE
    max_json_depth: int = 64

    # --- query language limits ---------------------------------------------------
    query_max_depth: int = query_limits.MAX_DEPTH
    query_max_conditions: int = query_limits.MAX_CONDITIONS
    query_max_list_values: int = query_limits.MAX_LIST_VALUES
    query_max_regex_length: int = query_limits.MAX_REGEX_LENGTH

    # --- accounts and tokens -----------------------------------------------------
    jwt_secret: str | None = None
    """HS256 signing secret, at least 32 bytes. Development: generated in data_dir."""
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    refresh_reuse_grace: int = 10
    require_email_verification: bool = True
    email_token_ttl: int = 24 * 3600
    password_reset_ttl: int = 3600
    login_max_failures: int = 5
    login_failure_window: int = 15 * 60
    login_address_max_failures: int = 20
    """Failed logins from one client address (any accounts) before its progressive delay starts."""
    login_max_delay: int = 15 * 60
    """The longest block one more failed login can bring (the delays double up to it; ADR 0015)."""
    email_resend_interval: int = 60

    # --- email -------------------------------------------------------------------
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    mail_from: str = "pgcube <no-reply@localhost>"

    # --- quotas and rate limits ----------------------------------------------------
    quota_databases: int = 100
    quota_collections: int = 200
    quota_api_keys: int = 50
    quota_documents: int = 10_000_000
    """Documents per account, checked by imports and inserts (estimated from PostgreSQL's statistics;
    ``pgcube.data.quota``)."""
    rate_limit_requests: int = 0
    """Requests (documents, for batches) per key or account per window on /api; off (0) by default:
    a self-hosted database serves its owner's loads at full speed (ADR 0013)."""
    rate_limit_account_requests: int | None = None
    """Requests (documents, for batches) per account per window on /api, all its keys and tokens
    together, so fifty keys do not make fifty times the limit; unset: ``rate_limit_requests``."""
    rate_limit_core_requests: int = 300
    """Requests per client address per window on /core."""
    rate_limit_window: int = 60
    """Seconds; windows are aligned on the Unix epoch. A limit of 0 turns that limit off."""

    # --- files (SPEC §12) -----------------------------------------------------------
    storage_url: str = ""
    """Where file bytes live: empty for ``<data_dir>/files``, or ``s3://bucket/prefix`` (ADR 0021)."""
    s3_endpoint: str = ""
    """The S3-compatible store's URL (empty: AWS S3 of ``s3_region``)."""
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    max_file_bytes: int = 50 * 1024 * 1024
    """Largest file (413 FILE_TOO_LARGE past it)."""
    file_types: str = ""
    """Allowed content types, comma-separated, ``type/*`` for a whole type (``image/*,application/pdf``);
    empty: any (400 INVALID_FILE_TYPE otherwise)."""
    quota_storage_bytes: int = 10 * 1024 * 1024 * 1024
    """File bytes per database, pending uploads counted at their announced size
    (403 STORAGE_QUOTA_EXCEEDED past it)."""
    upload_ttl: int = 15 * 60
    """Seconds a presigned upload (``file.presign_upload``) may be used."""
    pending_upload_retention: int = 24 * 3600
    """Seconds before an upload never finished (``pending``) is removed, bytes and all."""

    # --- vectors and AI (SPEC §13, §14) --------------------------------------------
    embedder: Literal["local", "openai", "none"] = "local"
    """What turns text into vectors: ``local`` (WordLlama, offline, 256 dimensions), ``openai`` (any
    OpenAI-compatible ``/embeddings``) or ``none`` (vectors only)."""
    embed_base_url: str = ""
    """The ``openai`` embedder's base URL (``…/v1``); empty: ``ai_base_url``."""
    embed_model: str = "text-embedding-3-small"
    embed_api_key: str = ""
    """The ``openai`` embedder's key; empty: ``ai_api_key``."""
    embed_dimensions: int = 0
    """Dimensions asked of the ``openai`` embedder (0: the model's own)."""
    ai_base_url: str = ""
    """An OpenAI-compatible API (``https://api.openai.com/v1``, Ollama's ``http://localhost:11434/v1``);
    empty: the ``xai.*`` ops but ``xai.vectorize`` answer 501 AI_NOT_CONFIGURED."""
    ai_api_key: str = ""
    ai_model: str = ""
    """The chat model of the ``xai.*`` ops (required with ``ai_base_url``)."""
    ai_timeout: float = 60.0
    """Seconds a model call may take before 504 AI_TIMEOUT."""
    ai_max_output_tokens: int = 1024
    """The most tokens one ``xai.*`` answer may ask of the model."""

    # --- data lifecycle ------------------------------------------------------------
    trash_retention: int = 24 * 3600
    idempotency_retention: int = 24 * 3600
    count_estimate_threshold: int = 100_000
    """Collections with more rows than this report an estimated num_documents."""

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def files_path(self) -> Path:
        """Where the local store keeps file bytes (``storage_url`` unset)."""
        return self.data_path / "files"

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``environ`` (default ``os.environ``), then ``overrides``."""
        source = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for name in cls.__struct_fields__:
            value = source.get(ENV_PREFIX + name.upper())
            if value is not None and value != "":
                raw[name] = value
        raw.update(overrides)
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise SettingsError(_env_message(str(exc))) from None


class SettingsError(ValueError):
    """A ``PGCUBE_*`` variable has a value of the wrong type."""


def _env_message(msgspec_message: str) -> str:
    # msgspec names the field as "$.field"; point at the variable instead.
    if "$." in msgspec_message:
        head, _, field = msgspec_message.rpartition("$.")
        return f"{head}{ENV_PREFIX}{field.upper()}"
    return msgspec_message


def setting_names() -> list[str]:
    """The environment variable of every setting, in declaration order."""
    return [ENV_PREFIX + name.upper() for name in Settings.__struct_fields__]
