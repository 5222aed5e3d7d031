"""The real demo world for the browser tests and the web benchmark: ``smartev.world.run_world``
in a background thread with its own event loop, on a free loopback port and a fresh data dir;
and the two browser measurements (first meaningful paint of the car screen, telemetry to screen)
that the e2e tests print and ``bench/webapp.py`` reports.

The world runs in a thread because Playwright's sync API owns the test's thread; the test talks
to the world over HTTP like the browser does, and reaches server-side objects through
:meth:`LiveWorld.call` (a coroutine run on the world's loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx2
import pytest

from smartev.core.config import Settings
from smartev.demo_day import DaySchedule
from smartev.world import WorldReady, bind_listener, run_world

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

    from smartev.demo_world import DemoLogin, DemoWorld

T = TypeVar("T")

# A safety net for a broken world, not a timing assertion.
WAIT_S = 60.0


@dataclass(frozen=True, slots=True)
class Login:
    email: str
    password: str


@dataclass
class LiveWorld:
    """The running world, as a test sees it from its own thread."""

    ready: WorldReady = field(repr=False)  # (the logins' passwords stay out of failure output)
    demo: DemoWorld
    owner: Login = field(repr=False)
    family: Login = field(repr=False)
    data_dir: Path
    loop: asyncio.AbstractEventLoop = field(repr=False)

    @property
    def url(self) -> str:
        return self.ready.url  # ends with "/"

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    @property
    def household_id(self) -> str:
        return self.ready.demo.household_id

    @property
    def car_id(self) -> str:
        return self.ready.demo.car_vin

    @property
    def car_grpc(self) -> str:
        return self.ready.demo.car_grpc

    def call(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = WAIT_S) -> T:
        """Run a coroutine on the world's own loop (server-side objects live there)."""
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result(timeout)

    def now(self) -> datetime:
        """The world's clock (it runs 60× in the e2e tests)."""

        async def read() -> datetime:
            return self.demo.ctx.clock.now()

        return self.call(read)

    def api(self, login: Login) -> Api:
        """An HTTP client of the world's API, logged in as ``login``."""
        return Api.log_in(self.url, login)


class Api:
    """A small synchronous client of ``/api/v1`` with one person's access token."""

    def __init__(self, client: httpx2.Client, token: str, refresh_token: str) -> None:
        self.client = client
        self.token = token
        self.refresh_token = refresh_token

    @classmethod
    def log_in(cls, url: str, login: Login) -> Api:
        client = httpx2.Client(base_url=url.rstrip("/") + "/api/v1", timeout=WAIT_S)
        r = client.post("/auth/login", json={"email": login.email, "password": login.password})
        if r.status_code != 200:
            client.close()
            raise AssertionError(f"login of {login.email} failed: {r.status_code} {r.text}")
        body = r.json()
        client.headers["Authorization"] = f"Bearer {body['access_token']}"
        return cls(client, body["access_token"], body["refresh_token"])

    def request(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        r = self.client.request(method, path, **kwargs)
        if r.status_code != expect:
            raise AssertionError(f"{method} {path}: {r.status_code} (wanted {expect}) {r.text}")
        return r.json() if r.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, expect: int = 200) -> Any:
        return self.request("POST", path, expect, json=body)

    def put(self, path: str, body: Any, expect: int = 200) -> Any:
        return self.request("PUT", path, expect, json=body)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def clock_start_before_leaving(real_s: float, speed: float, day: date | None = None) -> datetime:
    """A world start time, today in the household's time zone, from which the car stays parked
    at home for about ``real_s`` seconds of real time at ``speed`` before it leaves for work."""
    schedule = DaySchedule()
    today = day or datetime.now(schedule.zone).date()
    leaves = datetime.combine(today, schedule.leave_home, tzinfo=schedule.zone)
    return leaves - timedelta(seconds=real_s * speed)


class _ThreadLoop(asyncio.SelectorEventLoop):
    """An event loop for a thread other than the main one: signals reach only the main thread,
    so ``run_world``'s SIGINT/SIGTERM handlers are not installed here (the test stops the world
    through its ``stop`` event instead)."""

    def add_signal_handler(  # type: ignore[override]
        self, sig: int, callback: Callable[..., object], *args: Any
    ) -> None:
        return None

    def remove_signal_handler(self, sig: int) -> bool:
        return False


@contextlib.contextmanager
def world_in_thread(settings: Settings) -> Iterator[LiveWorld]:
    """Run the demo world in a thread of its own until the block ends; yields once it is ready
    (the car connected, the logins known)."""
    loop = _ThreadLoop()
    started = threading.Event()
    stop: asyncio.Event | None = None
    got: dict[str, Any] = {}

    def on_ready(ready: WorldReady) -> None:
        got["ready"] = ready
        started.set()

    def on_started(demo: DemoWorld) -> None:
        got["demo"] = demo

    async def serve(sock: Any) -> None:
        nonlocal stop
        stop = asyncio.Event()
        await run_world(settings, sock, on_ready=on_ready, stop=stop, on_started=on_started)

    def main(sock: Any) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve(sock))
        except BaseException as exc:  # told to the test's thread, which raises it
            got["error"] = exc
        finally:
            started.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    with bind_listener("127.0.0.1", 0) as sock:
        thread = threading.Thread(target=main, args=(sock,), name="demo-world", daemon=True)
        thread.start()
        try:
            if not started.wait(WAIT_S):
                raise RuntimeError(f"the demo world was not ready within {WAIT_S:g} s")
            if "ready" not in got:
                raise RuntimeError("the demo world ended before it was ready") from got.get("error")
            ready: WorldReady = got["ready"]
            yield LiveWorld(
                ready=ready,
                demo=got["demo"],
                owner=_login(ready.demo.login),
                family=_login(ready.demo.family),
                data_dir=settings.data_dir,
                loop=loop,
            )
        finally:
            if thread.is_alive() and stop is not None:
                loop.call_soon_threadsafe(stop.set)
            thread.join(WAIT_S)
    if "error" in got:
        raise RuntimeError("the demo world failed") from got["error"]


def _login(login: DemoLogin) -> Login:
    if login.password is None:
        raise RuntimeError(f"the demo world does not know {login.email}'s password any more")
    return Login(login.email, login.password)


# --- the two browser measurements -------------------------------------------------------------

# One load of the car screen, in ms after the navigation's start: when the app marked `car-ready`
# (the car card first showed real values), Chromium's first contentful paint, and when the
# steps before it had their answers (the latest response of each kind), to see where time goes.
_LOAD_TIMES = """() => {
  const at = (name) => {
    const entry = performance.getEntriesByName(name)[0];
    return entry ? entry.startTime : null;
  };
  const resources = performance.getEntriesByType('resource');
  const last = (test) => {
    const ends = resources.filter((e) => test(new URL(e.name).pathname)).map((e) => e.responseEnd);
    return ends.length ? Math.max(...ends) : null;
  };
  return {
    ready_ms: at('car-ready'),
    fcp_ms: at('first-contentful-paint'),
    html_ms: performance.getEntriesByType('navigation')[0].responseEnd,
    files_ms: last((p) => p.startsWith('/app/')),
    refresh_ms: last((p) => p === '/api/v1/auth/refresh'),
    session_ms: last((p) => /^\\/api\\/v1\\/(auth\\/me|cars|households\\/[^/]+)$/.test(p)),
    state_ms: last((p) => /^\\/api\\/v1\\/cars\\/[^/]+\\/state$/.test(p)),
  };
}"""


@dataclass(frozen=True, slots=True)
class CarScreenLoad:
    """Milestones of one load of the car screen, ms after navigation start (None: not seen)."""

    ready_ms: float
    fcp_ms: float | None
    html_ms: float | None  # the page's HTML received
    files_ms: float | None  # the last of the app's files (/app/…) received
    refresh_ms: float | None  # the refresh token swapped for an access token
    session_ms: float | None  # me, cars and the household read
    state_ms: float | None  # the car's state read


def wait_car_ready(page: Page) -> None:
    """Wait until the app has marked ``car-ready``. (Predicates are passed as functions: an
    expression would be run through eval in the page, which the app's CSP forbids.)"""
    page.wait_for_function(
        "() => performance.getEntriesByName('car-ready').length > 0", timeout=WAIT_S * 1000
    )


def first_paint(context: BrowserContext, url: str, loads: int) -> list[CarScreenLoad]:
    """``loads`` fresh loads of ``url#/car`` in ``context`` (logged in: the refresh token is in
    its storage), one after the other, each in a new tab."""
    times: list[CarScreenLoad] = []
    for _ in range(loads):
        page = context.new_page()
        try:
            page.goto(url.rstrip("/") + "/#/car", wait_until="commit")
            wait_car_ready(page)
            page.wait_for_function(  # painted: Chromium reports it after the frame
                "() => performance.getEntriesByName('first-contentful-paint').length > 0",
                timeout=WAIT_S * 1000,
            )
            times.append(CarScreenLoad(**page.evaluate(_LOAD_TIMES)))
        finally:
            page.close()
    return times


# Watches the page until the element the test names shows `expected`, then notes the wall time
# (ms since the Unix epoch) at the next animation frame: when the new value is on screen.
_ARM = """({selector, expected}) => {
  window.__shownAt = null;
  const shows = () => {
    const el = document.querySelector(selector);
    return el !== null && el.textContent.includes(expected);
  };
  const observer = new MutationObserver(() => {
    if (!shows()) return;
    observer.disconnect();
    requestAnimationFrame(() => { window.__shownAt = performance.timeOrigin + performance.now(); });
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true,
                                   attributes: true});
  return shows();
}"""


@dataclass(frozen=True, slots=True)
class ShownValue:
    """A value set on the car through its KUKSA API and where the car screen shows it."""

    path: str  # the actuator whose target is set
    selector: str  # the element that shows it
    values: tuple[float, ...]  # set in turn, each different from the one before
    text: Callable[[float], str]  # what the element contains once it shows the value


def telemetry_to_screen(
    page: Page, grpc_target: str, shown: ShownValue, changes: int
) -> list[float]:
    """Set ``shown.path`` ``changes`` times on the car itself (its KUKSA gRPC API) and time each
    from just before the call to the next frame after the page shows the new value (ms)."""
    from kuksa_client.grpc import Datapoint, VSSClient  # type: ignore[import-untyped]

    host, port = grpc_target.rsplit(":", 1)
    latencies: list[float] = []
    with VSSClient(host, int(port)) as car:
        for i in range(changes):
            value = shown.values[i % len(shown.values)]
            if page.evaluate(_ARM, {"selector": shown.selector, "expected": shown.text(value)}):
                raise AssertionError(f"the page already shows {shown.text(value)!r}")
            sent_ms = time.time() * 1000
            car.set_target_values({shown.path: Datapoint(value)})
            page.wait_for_function("() => window.__shownAt !== null", timeout=WAIT_S * 1000)
            latencies.append(float(page.evaluate("window.__shownAt")) - sent_ms)
    return latencies


# The charge limit: set on the car through KUKSA, shown in the car card's charging tile (the
# parent of `car-charging`, "Limit 63 %"). Not the HVAC set point: the shipped pre-heat
# automation sets that at 07:30, in the middle of a measurement.
CHARGE_LIMIT_SHOWN = ShownValue(
    path="Vehicle.Powertrain.TractionBattery.Charging.ChargeLimit",
    selector=":has(> [data-test=car-charging])",
    values=(63, 71),
    text=lambda percent: f"Limit {percent:.0f} %",
)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# --- the pytest fixture -----------------------------------------------------------------------

# Real seconds the car stays parked at home after the world starts (then it drives to work): the
# tests that need a parked car run in this time, the drive-chart test last.
PARKED_REAL_S = 90.0
E2E_SPEED = 60.0


@pytest.fixture(scope="module", name="world")
def world_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorld]:
    """One demo world for a whole test module, at 60×, starting about 90 s of real time before
    the car leaves home for work."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("world") / "data",
        speed=E2E_SPEED,
        clock_start=clock_start_before_leaving(PARKED_REAL_S, E2E_SPEED),
    )
    with world_in_thread(settings) as world:
        yield world
