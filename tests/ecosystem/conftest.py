"""Fixtures of the ecosystem tests (``mqtt_broker`` is shared: tests/conftest.py)."""
