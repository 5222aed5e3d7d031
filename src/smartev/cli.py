"""The ``smartev`` command line."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from smartev import __version__
from smartev.cli_car import car_app
from smartev.cli_output import fail, out
from smartev.cli_sim import sim_app
from smartev.core.config import Settings, load_settings
from smartev.core.errors import SmartevError

app = typer.Typer(
    name="smartev",
    help="Open software for smart electric vehicles: the car, the cloud, the home, and a "
    "physics simulator of all three.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(sim_app)
app.add_typer(car_app)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML config file (default: $SMARTEV_CONFIG, else ./smartev.toml if present).",
        dir_okay=False,
    ),
]


def _settings(config: Path | None, **overrides: str | int | float | None) -> Settings:
    try:
        return load_settings(config, overrides=overrides)
    except SmartevError as exc:
        raise fail(str(exc)) from None


def _version_callback(value: bool) -> None:
    if value:
        out.print(f"smartev {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_version_callback,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Open software for smart electric vehicles."""


@app.command()
def up(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default: 127.0.0.1].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="TCP port to listen on [default: 8000].")] = None,
    speed: Annotated[
        float | None,
        typer.Option(help="Simulated seconds per real second [default: 60]."),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate: serve HTTPS (and wss:// for cars).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    mqtt: Annotated[
        str | None,
        typer.Option(
            help="MQTT broker for Home Assistant, mqtt://[user:password@]host[:port]: "
            "publish the demo household's devices there [default: none]."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the world keeps its data between runs [default: smartev under the "
            "user's data directory, $XDG_DATA_HOME or ~/.local/share].",
            file_okay=False,
        ),
    ] = None,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Start afresh: remove the world's data (database, keys, demo car and "
            "household) from the data directory first; nothing else there is touched.",
        ),
    ] = False,
    start: Annotated[
        str | None,
        typer.Option(
            help="World time of a new world, ISO 8601 with a UTC offset "
            "(2026-06-01T07:00:00+02:00) [default: 07:00 today, Europe/Berlin]; a world that "
            "ran before goes on from where it stopped, or jumps ahead to a later --start."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run the demo world and print the address to open and the demo logins.

    The cloud app on a simulated clock, with a demo household: a simulated home, the owner's
    phone, one simulated car (Xiaomi SU7) connected to the cloud, and the shipped automations.
    The car lives a day: it leaves home at 07:40 for work in Garching, drives back at 17:15 and
    charges at the home's wallbox. The demo owner is demo@smartev.example, the family member
    family@smartev.example (role guest for the car); their passwords are made at first start
    and kept in the data directory. Stops cleanly on Ctrl-C or SIGTERM.
    """
    import logging

    # deferred: keeps `smartev --help` fast
    from smartev.world import WorldReady, bind_listener, reset_data_dir, run_world

    settings = _settings(
        config,
        host=host,
        port=port,
        speed=speed,
        tls_cert=str(tls_cert) if tls_cert else None,
        tls_key=str(tls_key) if tls_key else None,
        mqtt_url=mqtt,
        data_dir=str(data_dir) if data_dir else None,
        clock_start=start,
    )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level != "debug":  # Alembic's plugin and migration chatter says nothing new
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        sock = bind_listener(settings.host, settings.port)
    except SmartevError as exc:
        raise fail(str(exc)) from None
    if reset:
        try:
            reset_data_dir(settings.data_dir, database_url=settings.database_url)
        except SmartevError as exc:
            sock.close()
            raise fail(str(exc)) from None

    def ready(world: WorldReady) -> None:
        demo = world.demo
        out.print(f"smartev is up at [bold]{world.url}[/]  (clock {settings.speed:g}× real time)")
        login = demo.login
        if login.password is not None:
            out.print(f"log in as [bold]{login.email}[/] / [bold]{login.password}[/]")
        else:
            out.print(f"log in as {login.email} (its password file is gone from the data dir)")
        family, role = demo.family, demo.family_role or "no role"
        if family.password is not None:
            out.print(
                f"family member: [bold]{family.email}[/] / [bold]{family.password}[/]  "
                f"(role {role} for the car)"
            )
        else:
            out.print(
                f"family member: {family.email} (role {role}; its password file is gone from "
                "the data dir)"
            )
        if demo.car_grpc:
            out.print(f"car {demo.car_vin}: KUKSA gRPC at {demo.car_grpc}")
        if settings.mqtt is not None:
            out.print(
                f"Home Assistant: MQTT discovery at {settings.mqtt.host}:{settings.mqtt.port}"
            )
        out.print("Press Ctrl-C to stop.")

    with sock:
        try:
            asyncio.run(run_world(settings, sock, on_ready=ready))
        except SmartevError as exc:
            raise fail(str(exc)) from None
    out.print("smartev stopped.")


@dataclass(frozen=True)
class _Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def _port_check(name: str, host: str, port: int, *, required: bool, busy_ok: str = "") -> _Check:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return _Check(name, not required, f"{host}:{port} in use{busy_ok}", required)
            return _Check(name, False, f"{host}:{port}: {exc.strerror}", required)
    return _Check(name, True, f"{host}:{port} free", required)


def _which(*candidates: str) -> str | None:
    for c in candidates:
        if "*" in c:
            found = sorted(Path("/").glob(c.lstrip("/")))
            if found:
                return str(found[-1])
        elif path := shutil.which(c):
            return path
    return None


def _service_check(name: str, purpose: str, *candidates: str) -> _Check:
    path = _which(*candidates)
    detail = f"found: {path}" if path else f"not found (needed for {purpose})"
    return _Check(name, path is not None, detail, required=False)


def _data_dir_check(data_dir: Path) -> _Check:
    probe = data_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.access(probe, os.W_OK):
        state = "exists" if data_dir.exists() else "will be created"
        return _Check("data directory", True, f"{data_dir} ({state}, writable)")
    return _Check("data directory", False, f"{data_dir} is not writable")


@app.command()
def doctor(config: ConfigOption = None) -> None:
    """Check this machine for smartev: Python, free ports, data directory, optional services.

    Exits 1 when something `smartev up` needs is missing; optional services only inform.
    """
    settings = _settings(config)
    py_ok = sys.version_info >= (3, 11)
    checks = [
        _Check("Python", py_ok, f"{sys.version.split()[0]} (needs >= 3.11)"),
        _Check("smartev", True, __version__),
        _port_check("cloud app port", settings.host, settings.port, required=True),
        _data_dir_check(settings.data_dir),
        _service_check(
            "PostgreSQL", "tests on PostgreSQL", "postgres", "/usr/lib/postgresql/*/bin/postgres"
        ),
        _port_check(
            "PostgreSQL port", "127.0.0.1", 5432, required=False, busy_ok=" (a server is listening)"
        ),
        _service_check(
            "Mosquitto", "the MQTT / Home Assistant bridge", "mosquitto", "/usr/sbin/mosquitto"
        ),
        _port_check(
            "MQTT port", "127.0.0.1", 1883, required=False, busy_ok=" (a broker is listening)"
        ),
        _service_check("Chromium", "browser tests of the web app", "chromium", "chromium-browser"),
    ]
    table = Table(title="smartev doctor", show_lines=False)
    table.add_column("check")
    table.add_column("", width=4)
    table.add_column("detail")
    for c in checks:
        mark = "[green]ok[/]" if c.ok else ("[red]FAIL[/]" if c.required else "[yellow]--[/]")
        table.add_row(c.name, mark, c.detail)
    out.print(table)
    failed = [c.name for c in checks if c.required and not c.ok]
    if failed:
        raise fail("not ready: " + ", ".join(failed))
    out.print("ready: `smartev up` can run here.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
