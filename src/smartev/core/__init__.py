"""The runtime every other package stands on: ``clock``, ``bus``, ``errors``, ``config``, ``units``.

Import from the modules (``from smartev.core.clock import SimClock``): this package imports
nothing itself, so a light module (``errors``) never drags in a heavy one (``config``, pydantic).
"""
