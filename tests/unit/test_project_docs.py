"""Documents that must stay in step with the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgcube.app import openapi_document
from pgcube.settings import Settings, SettingsError, setting_names

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_document_is_deterministic() -> None:
    """No generated (random) examples: the committed copy can only match a stable document."""
    assert openapi_document() == openapi_document()


def test_committed_openapi_document_is_current() -> None:
    committed = (ROOT / "docs" / "openapi.json").read_bytes()
    assert committed == openapi_document(), "run `make openapi` and commit docs/openapi.json"


def test_every_operation_has_an_operation_id() -> None:
    document = json.loads(openapi_document())
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation.get("operationId"), f"{method.upper()} {path} has no operation_id"


def test_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in setting_names() if f"`{name}`" not in readme]
    assert not missing, f"README.md does not document {missing}"


def test_settings_read_the_environment() -> None:
    settings = Settings.from_env({"PGCUBE_PORT": "9001", "PGCUBE_MIGRATE_ON_START": "false", "OTHER": "x"})
    assert settings.port == 9001
    assert settings.migrate_on_start is False
    assert settings.host == "127.0.0.1"


def test_a_bad_setting_names_its_variable() -> None:
    with pytest.raises(SettingsError, match="PGCUBE_POOL_MAX_SIZE"):
        Settings.from_env({"PGCUBE_POOL_MAX_SIZE": "many"})
