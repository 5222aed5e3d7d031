"""The cloud service: the HTTP/WebSocket app that cars, apps and homes talk to."""

from smartev.cloud.app import create_app

__all__ = ["create_app"]
