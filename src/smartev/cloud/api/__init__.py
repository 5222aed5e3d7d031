"""The REST API under ``/api/v1``: one router per domain."""

from __future__ import annotations

from fastapi import APIRouter

from smartev.cloud.api import (
    accounts,
    audit,
    battery,
    cars,
    commands,
    device_keys,
    geofences,
    households,
    invites,
    live,
    sharing,
    signals,
    trips,
)

ROUTERS: tuple[APIRouter, ...] = (
    accounts.router,
    households.router,
    invites.router,
    sharing.router,
    cars.router,
    signals.router,
    commands.router,
    device_keys.router,
    trips.router,
    battery.router,
    geofences.router,
    audit.router,
    live.router,
)
