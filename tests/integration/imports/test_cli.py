"""``pgcube import`` against a running server: the same import, from the command line."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pgcube.import_client import ImportFailed, run_import
from tests.integration.imports.conftest import ImportDb
from tests.support.accounts import create_api_key
from tests.support.live import LiveServer


def cli(*args: str, api_key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGCUBE_")}
    if api_key is not None:
        env["PGCUBE_API_KEY"] = api_key
    return subprocess.run(
        [sys.executable, "-m", "pgcube.cli", "import", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_the_cli_imports_a_file_through_the_api(
    db: ImportDb, live_server: LiveServer, tmp_path: Path
) -> None:
    key = create_api_key(db.client, db.account)
    path = tmp_path / "Sensor Readings.ndjson.gz"
    path.write_bytes(
        gzip.compress(b"".join(b'{"sensor": %d, "value": %d.5}\n' % (i % 7, i) for i in range(5_000)))
    )
    done = cli(str(path), "--database", db.id, "--url", live_server.url, api_key=key)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "success": True,
        "collection": "sensor_readings",
        "inserted_count": 5_000,
    }
    assert done.stderr == ""  # no progress line when stderr is not a terminal
    assert db.count("sensor_readings") == 5_000

    upserted = tmp_path / "upsert.json"
    upserted.write_text(json.dumps([{"_key": "k1", "sensor": 1}, {"_key": "k1", "sensor": 2}]))
    args = (
        "--database",
        db.id,
        "--collection",
        "sensor_readings",
        "--url",
        live_server.url,
        "--api-key",
        key,
    )
    done = cli(str(upserted), *args, "--mode", "upsert")
    assert done.returncode == 0, done.stderr
    assert db.rows("sensor_readings") is not None
    assert ("k1", {"sensor": 2}) in (db.rows("sensor_readings") or [])


@pytest.mark.slow
def test_the_cli_reports_the_servers_error_and_fails(
    db: ImportDb, live_server: LiveServer, tmp_path: Path
) -> None:
    key = create_api_key(db.client, db.account)
    path = tmp_path / "items.json"
    path.write_text(json.dumps([{"name": "ok"}, {"name": 7}]))
    done = cli(str(path), "--database", db.id, "--url", live_server.url, api_key=key)
    assert done.returncode == 1
    assert done.stderr.startswith("pgcube import: VALIDATION_ERROR: Field 'name' of document 1"), done.stderr
    assert '"index": 1' in done.stderr
    assert db.count("items") == 0

    missing_key = cli(str(path), "--database", db.id, "--url", live_server.url)
    assert missing_key.returncode == 1
    assert "PGCUBE_API_KEY" in missing_key.stderr
    nowhere = cli(str(path), "--database", db.id, "--url", "http://127.0.0.1:9", api_key=key)
    assert nowhere.returncode == 1
    assert "cannot reach" in nowhere.stderr


def test_the_progress_line_counts_bytes_and_documents(
    db: ImportDb, live_server: LiveServer, tmp_path: Path
) -> None:
    key = create_api_key(db.client, db.account)
    path = tmp_path / "notes.json"
    path.write_text(json.dumps([{"note": i} for i in range(3_000)]))
    shown = io.StringIO()
    answer = run_import(path, url=live_server.url, api_key=key, database_id=db.id, progress=True, err=shown)
    assert answer["inserted_count"] == 3_000
    last = shown.getvalue().rstrip("\n").rsplit("\r", 1)[-1]
    assert "100%" in last
    assert "3,000 documents" in last
    assert f"{path.stat().st_size / 1000:.1f} kB / " in last
    with pytest.raises(ImportFailed, match="cannot read"):
        run_import(tmp_path / "absent.json", url=live_server.url, api_key=key, database_id=db.id)
