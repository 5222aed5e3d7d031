"""Browser fixtures for the web app's tests: Debian's Chromium driven by Playwright's sync API
(browser downloads do not work here, so Playwright launches the system's ``chromium``), a fresh
browser context per test, and the directory screenshots are saved to.

Every test under tests/web gets the ``browser`` marker. Without Chromium the tests are skipped,
or fail when SMARTEV_REQUIRE_SERVICES is set (``make test``), as tests/pg.py's do for PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

# Set by `make test`: a service that is not installed fails the run instead of skipping.
REQUIRE_SERVICES = "SMARTEV_REQUIRE_SERVICES"
REPO_ROOT = Path(__file__).resolve().parents[2]
DESKTOP = {"width": 1280, "height": 800}
_HERE = Path(__file__).resolve().parent


def find_chromium() -> str | None:
    """Debian's Chromium: on the PATH, or where the package puts it."""
    found = shutil.which("chromium")
    if found is not None:
        return found
    default = Path("/usr/bin/chromium")
    return str(default) if default.exists() else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A conftest's hook sees the whole session's items: mark only this directory's.
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the whole session."""
    executable = find_chromium()
    if executable is None:
        message = "Chromium is not installed (`make services` installs Debian's chromium)"
        if os.environ.get(REQUIRE_SERVICES, "") not in ("", "0"):
            pytest.fail(f"{message}; {REQUIRE_SERVICES} is set, so this is an error")
        pytest.skip(message)
    with sync_playwright() as playwright:
        # --no-sandbox: the tests may run as root in a container, where Chromium's sandbox
        # cannot start.
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a browser context of its own (no cookies or storage shared), desktop-sized."""
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go: $SMARTEV_ARTIFACTS, default build/artifacts (from the repository
    root when relative)."""
    directory = Path(os.environ.get("SMARTEV_ARTIFACTS", "build/artifacts"))
    if not directory.is_absolute():
        directory = REPO_ROOT / directory
    directory.mkdir(parents=True, exist_ok=True)
    return directory
