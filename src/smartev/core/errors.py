"""The root of smartev's error tree.

Every package has one root error in its own ``errors.py`` that derives from :class:`SmartevError`.
Each error also says *whose fault* it is, so a caller can tell bad input from a broken peer from a
bug (a bug is any exception that is not a ``SmartevError``):

- :class:`InvalidInputError` — the caller or a user gave something wrong; retrying the same input
  will fail again.
- :class:`PeerError` — something on the other side (a car, a service, a file written by someone
  else) misbehaved or is unreachable; retrying later may work.
- :class:`ConfigError` — the operator's configuration is wrong or incomplete.
"""

from __future__ import annotations


class SmartevError(Exception):
    """Base of every error smartev raises on purpose."""


class InvalidInputError(SmartevError, ValueError):
    """The input was wrong: the message names the field and what would be right."""


class PeerError(SmartevError):
    """A peer (car, service, broker, file) misbehaved or could not be reached."""


class ConfigError(SmartevError):
    """The configuration (env ``SMARTEV_*`` or ``smartev.toml``) is wrong."""
