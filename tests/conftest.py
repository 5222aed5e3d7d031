"""Fixtures shared by tests in more than one package."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mqtt import MosquittoBroker, find_mosquitto, running_broker

# Set by `make test`: a service that is not installed fails the run instead of skipping.
REQUIRE_SERVICES = "SMARTEV_REQUIRE_SERVICES"


@pytest.fixture
def mqtt_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A Mosquitto broker private to this test on a free loopback port; skipped when Mosquitto
    is not installed (failed under SMARTEV_REQUIRE_SERVICES)."""
    binary = find_mosquitto()
    if binary is None:
        message = "Mosquitto is not installed (`make services` installs Debian's mosquitto)"
        if os.environ.get(REQUIRE_SERVICES, "") not in ("", "0"):
            pytest.fail(f"{message}; {REQUIRE_SERVICES} is set, so this is an error")
        pytest.skip(message)
    with running_broker(binary, tmp_path) as broker:
        yield broker
