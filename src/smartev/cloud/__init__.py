"""The cloud service: the HTTP/WebSocket app that cars, apps and homes talk to.

The app factory is :func:`smartev.cloud.app.create_app`; the package itself imports nothing, so
its pure parts (session detection, costs) load without the web stack.
"""
