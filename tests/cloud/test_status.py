from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from smartev.cloud.app import create_app
from smartev.core.bus import EventBus
from smartev.core.clock import SimClock
from smartev.core.config import Settings

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def test_health_follows_the_world_clock(tmp_path: Path) -> None:
    clock = SimClock(START)
    app = create_app(Settings(data_dir=tmp_path), clock, EventBus())
    with TestClient(app) as client:
        clock.advance(125)
        health = client.get("/healthz").json()
        assert health == {
            "status": "ok",
            "version": health["version"],
            "uptime_s": 125.0,
            "clock_utc": "2026-06-01T08:02:05Z",
            "clock_speed": None,
        }


def test_unknown_paths_are_404_json(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path), SimClock(START), EventBus())
    with TestClient(app) as client:
        response = client.get("/nope")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}
