"""The runtime every other package stands on: clocks, the event bus, errors, config, units."""

from smartev.core.bus import Event, EventBus, Overflow, Subscription
from smartev.core.clock import Clock, RealClock, SimClock
from smartev.core.config import Settings, load_settings
from smartev.core.errors import ConfigError, InvalidInputError, PeerError, SmartevError

__all__ = [
    "Clock",
    "ConfigError",
    "Event",
    "EventBus",
    "InvalidInputError",
    "Overflow",
    "PeerError",
    "RealClock",
    "Settings",
    "SimClock",
    "SmartevError",
    "Subscription",
    "load_settings",
]
