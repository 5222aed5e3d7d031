"""What every ``smartev`` command prints with: one console for results, one for errors."""

from __future__ import annotations

import typer
from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on one line of stderr; raise the returned Exit (code 1)."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)
