"""The browser tests skip only where there is no Chromium, and ``make test`` installs it only where
it is missing and can be had (root with apt). None of these tests needs a browser."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Browser

import tests.support.browser as browser_support
from tests.support.browser import CHROMIUM_ENV, ChromiumSettingError, find_chromium

ROOT = Path(__file__).resolve().parents[2]


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_setting_names_the_binary(tmp_path: Path) -> None:
    chosen = executable(tmp_path / "my-chromium")
    assert find_chromium({CHROMIUM_ENV: str(chosen), "PATH": ""}) == chosen


def test_a_setting_naming_no_binary_is_an_error_not_a_skip(tmp_path: Path) -> None:
    with pytest.raises(ChromiumSettingError, match=CHROMIUM_ENV):
        find_chromium({CHROMIUM_ENV: str(tmp_path / "missing")})


@pytest.mark.parametrize("name", ["chromium", "chromium-browser"])
def test_chromium_on_the_path_is_found(tmp_path: Path, name: str) -> None:
    assert find_chromium({"PATH": str(tmp_path)}) != tmp_path / name
    assert find_chromium({"PATH": str(executable(tmp_path / name).parent)}) == tmp_path / name


def test_without_chromium_the_tests_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_support, "DEBIAN_CHROMIUM", tmp_path / "chromium")
    assert find_chromium({"PATH": str(tmp_path)}) is None


def test_with_chromium_the_tests_run(request: pytest.FixtureRequest) -> None:
    if find_chromium() is None:
        pytest.skip(browser_support.NO_CHROMIUM)
    browser: Browser = request.getfixturevalue("browser")  # it starts: nothing was skipped
    assert browser.version.split(".")[0].isdigit()


# --- the Makefile's chromium step (make test runs it) -------------------------------------


def make_chromium(tmp_path: Path, chromium: Path, uid: int) -> list[str]:
    """Run ``make chromium`` with ``id`` and ``apt-get`` stubbed out; the apt-get calls it made."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    calls = tmp_path / "apt-get.calls"
    (stubs / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexit 100\n')  # apt fails: still fine
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    path = f"{stubs}{os.pathsep}{os.environ['PATH']}"
    make = ["make", "--no-print-directory", "-C", str(ROOT), "chromium", f"CHROMIUM={chromium}"]
    subprocess.run(make, env={**os.environ, "PATH": path}, check=True, capture_output=True)
    return calls.read_text().splitlines() if calls.exists() else []


@pytest.fixture
def _make() -> None:
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")


@pytest.mark.usefixtures("_make")
def test_make_installs_chromium_when_missing_as_root(tmp_path: Path) -> None:
    calls = make_chromium(tmp_path, tmp_path / "missing", uid=0)
    assert calls == ["update -qq", "install -y -qq --no-install-recommends chromium fonts-liberation"]


@pytest.mark.usefixtures("_make")
def test_make_does_nothing_when_chromium_is_there(tmp_path: Path) -> None:
    assert make_chromium(tmp_path, executable(tmp_path / "chromium"), uid=0) == []


@pytest.mark.usefixtures("_make")
def test_make_installs_nothing_when_not_root(tmp_path: Path) -> None:
    assert make_chromium(tmp_path, tmp_path / "missing", uid=1000) == []
