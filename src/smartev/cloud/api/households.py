"""The households API (being written in this change)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/households", tags=["households"])
