"""Serving the web app over a real socket: ``/`` and ``/app/<path>`` from a directory of the
test's own, with the security headers, content types and revalidation (ETag, 304); what is not
an app file (traversal, dotfiles, symlinks out, directories, unknown types) is a 404; a missing
app is a 503 that says so; nothing of the API is opened by it."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartev.cloud.web import CONTENT_SECURITY_POLICY, package_web_dir
from tests.cloud.server import RunningCloud, running_cloud

INDEX = b'<!doctype html><title>smartev</title><script type="module" src="/app/app.js"></script>'


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    web = tmp_path / "web"
    (web / "lib").mkdir(parents=True)
    (web / "index.html").write_bytes(INDEX)
    (web / "app.js").write_text("import { h } from './lib/dom.js';\n")
    (web / "lib" / "dom.js").write_text("export const h = 1;\n")
    (web / "style.css").write_text("body { margin: 0 }\n")
    (web / "icon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (web / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (web / "manifest.json").write_text("{}")
    (web / "favicon.ico").write_bytes(b"\x00\x00\x01\x00")
    (web / ".env").write_text("SECRET=1")
    (web / "notes.txt").write_text("not an app file")
    (web / "lib" / ".hidden.js").write_text("hidden")
    outside = tmp_path / "outside.js"
    outside.write_text("secret outside")
    (web / "escape.js").symlink_to(outside)
    (web / "inside.js").symlink_to(web / "app.js")
    (web / "folder.js").mkdir()
    return web


@pytest.fixture
def cloud(tmp_path: Path, web_dir: Path) -> Iterator[RunningCloud]:
    with running_cloud(f"sqlite:///{tmp_path}/cloud.db", tmp_path, web_dir=web_dir) as running:
        yield running


def raw_get(cloud: RunningCloud, path: str) -> tuple[int, bytes]:
    """GET with the path sent exactly as written (an HTTP client would normalise ``..``)."""
    host, port = cloud.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


SECURITY = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def test_the_page_and_its_files_with_headers_and_types(cloud: RunningCloud) -> None:
    with cloud.client() as c:
        page = c.get("/")
        assert page.status_code == 200
        assert page.content == INDEX
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        for name, value in SECURITY.items():
            assert page.headers[name] == value
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["etag"].startswith('"')
        expected = {
            "app.js": "text/javascript; charset=utf-8",
            "lib/dom.js": "text/javascript; charset=utf-8",
            "style.css": "text/css; charset=utf-8",
            "icon.svg": "image/svg+xml",
            "logo.png": "image/png",
            "manifest.json": "application/json",
            "favicon.ico": "image/x-icon",
            "inside.js": "text/javascript; charset=utf-8",  # a symlink that stays inside
        }
        for path, content_type in expected.items():
            r = c.get(f"/app/{path}")
            assert r.status_code == 200, path
            assert r.headers["content-type"] == content_type, path
            for name, value in SECURITY.items():
                assert r.headers[name] == value, (path, name)
        assert c.get("/app/lib/dom.js").text == "export const h = 1;\n"
        head = c.head("/app/app.js")
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len("import { h } from './lib/dom.js';\n"))


def test_revalidation_with_etags(cloud: RunningCloud, web_dir: Path) -> None:
    with cloud.client() as c:
        first = c.get("/app/app.js")
        etag = first.headers["etag"]
        again = c.get("/app/app.js", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert (
            c.get("/app/app.js", headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
        )
        (web_dir / "app.js").write_text("export const changed = true;\n")
        changed = c.get("/app/app.js", headers={"If-None-Match": etag})
        assert changed.status_code == 200
        assert changed.headers["etag"] != etag
        assert changed.text == "export const changed = true;\n"
        index_etag = c.get("/").headers["etag"]
        assert c.get("/", headers={"If-None-Match": index_etag}).status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/app/../outside.js",
        "/app/lib/../../outside.js",
        "/app/%2e%2e/outside.js",
        "/app/..%2foutside.js",
        "/app//etc/passwd",
        "/app/%2fetc%2fpasswd",
        "/app/.env",
        "/app/lib/.hidden.js",
        "/app/escape.js",  # a symlink out of the directory
        "/app/folder.js",  # a directory
        "/app/lib",
        "/app/lib/",
        "/app/",
        "/app/notes.txt",  # not a type the app serves
        "/app/missing.js",
        "/app/lib\\dom.js",
        "/app/index.html/",
    ],
)
def test_what_is_not_an_app_file_is_404(cloud: RunningCloud, path: str) -> None:
    status, body = raw_get(cloud, path)
    assert status == 404, (path, status, body[:200])
    assert b"secret" not in body


def test_only_the_app_is_public(cloud: RunningCloud) -> None:
    with cloud.client() as c:
        assert c.get("/api/v1/auth/me").status_code == 401
        assert c.get("/api/v1/cars").status_code == 401
        assert c.get("/healthz").status_code == 200
        assert c.post("/app/app.js").status_code == 405


def test_a_missing_app_is_503_that_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "web"
    with (
        running_cloud(f"sqlite:///{tmp_path}/cloud.db", tmp_path, web_dir=missing) as cloud,
        cloud.client() as c,
    ):
        for path in ("/", "/app/app.js"):
            r = c.get(path)
            assert r.status_code == 503
            assert "the web app is not installed" in r.json()["detail"]
            assert str(missing) in r.json()["detail"]


def test_the_package_app_is_served_by_default(tmp_path: Path) -> None:
    """Without a directory the app serves the package's own ``smartev/web``."""
    installed = (package_web_dir() / "index.html").is_file()
    with running_cloud(f"sqlite:///{tmp_path}/cloud.db", tmp_path) as cloud, cloud.client() as c:
        r = c.get("/")
    if installed:
        assert r.status_code == 200
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    else:
        assert r.status_code == 503
