"""Unauthenticated liveness: ``/healthz`` for probes and a human-readable status page at ``/``.

Both show only what is safe to show anyone: that the service runs, its version and its clock.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from smartev import __version__

if TYPE_CHECKING:
    from smartev.cloud.app import CloudContext

router = APIRouter(tags=["status"])


class Health(BaseModel):
    status: str
    version: str
    uptime_s: float
    clock_utc: str
    clock_speed: float | None


def _health(request: Request) -> Health:
    ctx: CloudContext = request.app.state.ctx
    clock = ctx.clock
    return Health(
        status="ok",
        version=__version__,
        uptime_s=round(clock.monotonic() - ctx.started_monotonic, 3),
        clock_utc=clock.now().isoformat().replace("+00:00", "Z"),
        clock_speed=getattr(clock, "speed", 1.0),
    )


@router.get("/healthz")
async def healthz(request: Request) -> Health:
    """Liveness probe: 200 with the version and the service's clock while it runs."""
    return _health(request)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>smartev</title>
<style>
 body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem;
        color: #1b1f24; }}
 dt {{ font-weight: 600; }} dd {{ margin: 0 0 .8rem 0; font-variant-numeric: tabular-nums; }}
 .ok {{ color: #1a7f37; }}
</style></head>
<body>
<h1>smartev <small>{version}</small></h1>
<p class="ok" id="status">The cloud service is running.</p>
<dl>
 <dt>Simulated clock (UTC)</dt><dd id="clock">{clock}</dd>
 <dt>Clock speed</dt><dd id="speed">{speed}</dd>
 <dt>Uptime (simulated)</dt><dd id="uptime">{uptime} s</dd>
</dl>
<p>Health probe: <a href="/healthz">/healthz</a></p>
<script>
setInterval(async () => {{
  try {{
    const h = await (await fetch("/healthz")).json();
    document.getElementById("clock").textContent = h.clock_utc;
    document.getElementById("uptime").textContent = h.uptime_s.toFixed(0) + " s";
    document.getElementById("status").textContent = "The cloud service is running.";
  }} catch (e) {{
    document.getElementById("status").textContent = "The cloud service does not answer.";
  }}
}}, 1000);
</script>
</body></html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def status_page(request: Request) -> HTMLResponse:
    """A page a person can open: the service runs, and what time its clock says."""
    h = _health(request)
    speed = "real time" if h.clock_speed in (None, 1.0) else f"{h.clock_speed:g}× real time"
    if h.clock_speed is None:
        speed = "stopped (moved by hand)"
    return HTMLResponse(
        _PAGE.format(
            version=html.escape(h.version),
            clock=html.escape(h.clock_utc),
            speed=html.escape(speed),
            uptime=f"{h.uptime_s:.0f}",
        )
    )
