"""Serving the browser app: ``/`` is its ``index.html`` and ``/app/<path>`` its other static
files, from one directory (the package's ``smartev/web``), with a strict content security policy.

Unauthenticated, like a login page: the files hold no data (the app fetches that with the
person's token). Only regular files of the known types inside the directory are served: no
listings, no dotfiles, nothing reached through ``..``, an absolute path or a symlink that leads
out. Each answer carries an ``ETag`` and ``Cache-Control: no-cache``, so a browser keeps the
files and asks each time whether they changed (304), and an update shows at the next load.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException, Request, Response, status

import smartev

INDEX: Final = "index.html"
# Scripts, styles, images and connections from this origin only, no plugins, no framing, no
# <base> rewriting; ``data:``/``blob:`` images for what the app draws itself.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".ico": "image/x-icon",
}


def package_web_dir() -> Path:
    """Where the installed package keeps the app's files."""
    return Path(smartev.__file__).parent / "web"


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _not_modified(request: Request, etag: str) -> bool:
    sent = request.headers.get("if-none-match")
    if sent is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in sent.split(",")}
    return etag in tags or "*" in tags


def _safe_parts(path: str) -> list[str] | None:
    """The path's segments, or None when one of them could leave the directory or names a
    hidden file (empty, ``.``, ``..``, a dotfile, a backslash or NUL in it)."""
    parts = path.split("/")
    for part in parts:
        if not part or part.startswith(".") or "\\" in part or "\x00" in part:
            return None
    return parts


class _WebApp:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _root(self) -> Path:
        root = self.directory.resolve()
        if not (root / INDEX).is_file():
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail=f"the web app is not installed ({self.directory / INDEX} missing)",
            )
        return root

    def file(self, path: str) -> Path:
        """The regular file ``path`` names inside the directory; 404 for anything else."""
        root = self._root()
        missing = HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no app file {path[:200]}")
        parts = _safe_parts(path)
        if parts is None or Path(parts[-1]).suffix.lower() not in CONTENT_TYPES:
            raise missing
        try:
            target = root.joinpath(*parts).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, or a symlink loop
            raise missing from None
        if not target.is_relative_to(root) or not target.is_file():
            raise missing
        return target

    def index(self) -> Path:
        return self._root() / INDEX

    def serve(self, request: Request, target: Path) -> Response:
        try:
            body = target.read_bytes()
        except OSError:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, detail=f"no app file {target.name}"
            ) from None
        etag = _etag(body)
        headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
        if _not_modified(request, etag):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
        media_type = CONTENT_TYPES[target.suffix.lower()]
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(media_type=media_type, headers=headers)
        return Response(body, media_type=media_type, headers=headers)


def web_router(directory: Path) -> APIRouter:
    """The routes that serve the app in ``directory`` (``index.html`` and what it loads)."""
    app = _WebApp(directory)
    router = APIRouter(tags=["web"], include_in_schema=False)

    @router.api_route("/", methods=["GET", "HEAD"])
    def index(request: Request) -> Response:
        """The app's page (its login screen until the person logs in)."""
        return app.serve(request, app.index())

    @router.api_route("/app/{path:path}", methods=["GET", "HEAD"])
    def app_file(path: str, request: Request) -> Response:
        """One of the app's files: scripts, styles, images."""
        return app.serve(request, app.file(path))

    return router
