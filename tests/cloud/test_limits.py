"""Bad requests at the edge, over a real socket: oversized bodies (declared or streamed) are
refused before they are read, broken JSON and wrong types get a 422 that says where, and a
refused password is never echoed back."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from smartev.cloud.limits import MAX_BODY_BYTES
from tests.cloud.server import running_cloud


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("limits")
    with running_cloud(f"sqlite:///{tmp / 'cloud.db'}", tmp) as cloud:
        yield cloud.base_url


def test_a_body_over_the_limit_is_413_before_it_is_read(base_url: str) -> None:
    big = b'{"email": "' + b"a" * MAX_BODY_BYTES + b'"}'
    r = httpx2.post(f"{base_url}/api/v1/auth/login", content=big)
    assert r.status_code == 413
    assert f"larger than {MAX_BODY_BYTES} bytes" in r.json()["detail"]


def test_a_streamed_body_over_the_limit_is_413_too(base_url: str) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(MAX_BODY_BYTES // 4096 + 2):
            yield b" " * 4096

    r = httpx2.post(
        f"{base_url}/api/v1/auth/login",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413


def test_broken_json_and_wrong_types_are_422_naming_the_place(base_url: str) -> None:
    r = httpx2.post(
        f"{base_url}/api/v1/auth/signup",
        content=b'{"email": "x@example.org",',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][0] == "body"
    r = httpx2.post(
        f"{base_url}/api/v1/auth/signup",
        json={"email": "x@example.org", "password": 12345, "display_name": "X"},
    )
    assert r.status_code == 422
    assert ["body", "password"] in [e["loc"] for e in r.json()["detail"]]


def test_a_refused_password_is_not_echoed(base_url: str) -> None:
    secret = "short-pw"  # too short: refused
    r = httpx2.post(
        f"{base_url}/api/v1/auth/signup",
        json={"email": "y@example.org", "password": secret, "display_name": "Y"},
    )
    assert r.status_code == 422
    assert secret not in r.text
