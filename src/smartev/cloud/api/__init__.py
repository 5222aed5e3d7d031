"""The REST API under ``/api/v1``: one router per domain."""

from __future__ import annotations

from fastapi import APIRouter

from smartev.cloud.api import accounts, cars, commands, geofences, households, trips

ROUTERS: tuple[APIRouter, ...] = (
    accounts.router,
    households.router,
    cars.router,
    commands.router,
    trips.router,
    geofences.router,
)
