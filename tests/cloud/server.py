"""A real cloud for API tests: the app served by uvicorn on a loopback port in a thread of its
own, on a fresh database, with both clocks simulated (the test moves them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI

from smartev.cloud.app import CloudContext, create_app
from smartev.cloud.auth import Accounts
from smartev.core.bus import EventBus
from smartev.core.clock import SimClock
from smartev.core.config import Settings
from tests.net import free_port

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"
# Cheap argon2 parameters: the tests check the flow, not the hash's cost.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass
class RunningCloud:
    base_url: str
    app: FastAPI
    clock: SimClock
    auth_clock: SimClock

    @property
    def ctx(self) -> CloudContext:
        ctx: CloudContext = self.app.state.ctx
        return ctx

    def client(self, token: str | None = None) -> httpx2.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.Client(base_url=self.base_url, headers=headers, timeout=10)

    def sign_up(self, email: str, name: str = "Test", password: str = PASSWORD) -> str:
        """Create an account and log in; returns the access token."""
        with self.client() as c:
            r = c.post(
                "/api/v1/auth/signup",
                json={"email": email, "password": password, "display_name": name},
            )
            assert r.status_code == 201, r.text
            r = c.post("/api/v1/auth/login", json={"email": email, "password": password})
            assert r.status_code == 200, r.text
            token: str = r.json()["access_token"]
            return token


def make_app(db_url: str, data_dir: Path, **kwargs: Any) -> tuple[FastAPI, SimClock, SimClock]:
    clock = SimClock(START)
    auth_clock = SimClock(START)
    settings = Settings(data_dir=data_dir, database_url=db_url, secret_key=SECRET)
    accounts = Accounts(SECRET, auth_clock, hasher=FAST_HASHER)
    app = create_app(
        settings, clock, EventBus(), auth_clock=auth_clock, accounts=accounts, **kwargs
    )
    return app, clock, auth_clock


@contextmanager
def running_cloud(db_url: str, data_dir: Path, **kwargs: Any) -> Iterator[RunningCloud]:
    """Serve a fresh cloud on a free loopback port until the block ends."""
    app, clock, auth_clock = make_app(db_url, data_dir, **kwargs)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the cloud did not start")
        time.sleep(0.01)
    try:
        yield RunningCloud(f"http://127.0.0.1:{port}", app, clock, auth_clock)
    finally:
        server.should_exit = True
        thread.join(10)
