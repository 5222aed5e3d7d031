"""The devices API: a household's devices (its cars and home devices) with their values and
specs; calling an action and writing a property.

Members see the devices (a car only with a role for it, and only the signals that role sees);
the owner and the drivers of the household's cars control them (:mod:`smartev.cloud.home_access`).
An action answers with the device's outputs (a car: the command's id and final state), or with
why not: 409 (offline, refused — the reason in plain words), 422 (invalid input), 504 (the device
did not answer in time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Annotated, Any, Final, TypeVar

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from smartev.cloud.access import may_see_signal
from smartev.cloud.api.common import ErrorBody, HouseholdId, domain_errors, error_responses
from smartev.cloud.api.home_routes import control_access
from smartev.cloud.api.home_routes import member_access as member_access
from smartev.cloud.car_device import CarCommandTimeoutError, CarDevice
from smartev.cloud.deps import Caller, context
from smartev.cloud.home_access import HomeAccess
from smartev.cloud.home_hub import HomeHub
from smartev.core.clock import Clock
from smartev.ecosystem.errors import UnknownDeviceError
from smartev.spec.car_device import car_command_name
from smartev.spec.devices import (
    DeviceActionError,
    DeviceDriver,
    DeviceOfflineError,
    PropertySpec,
    Scalar,
    UnknownMemberError,
)
from smartev.spec.errors import InvalidValueError

router = APIRouter(prefix="/api/v1/households", tags=["devices"])

T = TypeVar("T")
# A device that never answers ends the request after this much clock time (504).
ACTION_TIMEOUT_S: Final = 60.0
_DEVICES = "/{household_id}/devices"

DEVICE_ID_PATTERN = r"^[a-z][a-z0-9_]{0,31}:[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
REF_PATTERN = r"^[A-Za-z0-9_]{1,64}(\.[A-Za-z0-9_]{1,64}){1,15}$"
DeviceId = Annotated[
    str, Path(pattern=DEVICE_ID_PATTERN, description="The device's id: <kind>:<id>.")
]
ActionRef = Annotated[
    str, Path(pattern=REF_PATTERN, description="The action's ref: <service>.<name>.")
]
PropertyRef = Annotated[
    str,
    Path(pattern=REF_PATTERN, description="The property's ref: <service>.<name> (a car: VSS)."),
]
Value = bool | int | float | Annotated[str, Field(max_length=256)]

TIMEOUT_RESPONSE: Final[dict[int | str, dict[str, Any]]] = {
    504: {"model": ErrorBody, "description": "The device did not answer in time."}
}


class ArgOut(BaseModel):
    name: str
    format: str = Field(description="bool | int | float | string")
    unit: str | None
    low: float | None
    high: float | None
    values: list[bool | int | float | str] = Field(description="The allowed values (enum).")
    required: bool
    description: str


class PropertyOut(BaseModel):
    ref: str
    format: str = Field(description="bool | int | float | string")
    unit: str | None
    low: float | None
    high: float | None
    values: list[bool | int | float | str]
    access: list[str] = Field(description="read, write, notify")
    description: str


class ActionOut(BaseModel):
    ref: str
    inputs: list[ArgOut]
    outputs: list[ArgOut]
    description: str


class EventOut(BaseModel):
    ref: str
    args: list[ArgOut]
    description: str


class ServiceOut(BaseModel):
    name: str
    description: str
    properties: list[PropertyOut]
    actions: list[ActionOut]
    events: list[EventOut]


class DeviceOut(BaseModel):
    id: str
    name: str
    kind: str
    online: bool
    values: dict[str, bool | int | float | str]


class DeviceDetailOut(DeviceOut):
    services: list[ServiceOut]


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: dict[Annotated[str, Field(max_length=64)], Value] = Field(
        default_factory=dict, max_length=16, description="The action's inputs."
    )


class ActionResultOut(BaseModel):
    device_id: str
    action: str
    outputs: dict[str, bool | int | float | str]


class PropertyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Value


def _arg(spec: PropertySpec) -> ArgOut:
    return ArgOut(
        name=spec.name,
        format=str(spec.format),
        unit=spec.unit,
        low=spec.low,
        high=spec.high,
        values=list(spec.values),
        required=spec.required,
        description=spec.description,
    )


def _visible_values(access: HomeAccess, driver: DeviceDriver) -> dict[str, Scalar]:
    values = dict(driver.values())
    if isinstance(driver, CarDevice):
        role = access.cars[driver.car_id].role
        values = {path: v for path, v in values.items() if may_see_signal(role, path)}
    return values


def _device_out(access: HomeAccess, driver: DeviceDriver) -> DeviceOut:
    return DeviceOut(
        id=driver.device_id,
        name=driver.name,
        kind=driver.spec.kind,
        online=driver.online,
        values=_visible_values(access, driver),
    )


def _detail_out(access: HomeAccess, driver: DeviceDriver) -> DeviceDetailOut:
    spec = driver.spec
    services = []
    for service in spec.services:
        properties = [
            PropertyOut(
                ref=f"{service.name}.{p.name}",
                format=str(p.format),
                unit=p.unit,
                low=p.low,
                high=p.high,
                values=list(p.values),
                access=sorted(str(a) for a in p.access),
                description=p.description,
            )
            for p in service.properties
        ]
        if isinstance(driver, CarDevice):
            role = access.cars[driver.car_id].role
            properties = [p for p in properties if may_see_signal(role, p.ref)]
        services.append(
            ServiceOut(
                name=service.name,
                description=service.description,
                properties=properties,
                actions=[
                    ActionOut(
                        ref=f"{service.name}.{a.name}",
                        inputs=[_arg(i) for i in a.inputs],
                        outputs=[_arg(o) for o in a.outputs],
                        description=a.description,
                    )
                    for a in service.actions
                ],
                events=[
                    EventOut(
                        ref=f"{service.name}.{e.name}",
                        args=[_arg(a) for a in e.args],
                        description=e.description,
                    )
                    for e in service.events
                ],
            )
        )
    base = _device_out(access, driver)
    return DeviceDetailOut(**base.model_dump(), services=services)


def _visible(hub: HomeHub, access: HomeAccess, driver: DeviceDriver) -> bool:
    return not isinstance(driver, CarDevice) or access.sees_car(driver.car_id)


def _device(hub: HomeHub, access: HomeAccess, device_id: str) -> DeviceDriver:
    try:
        driver = hub.registry.driver(device_id)
    except UnknownDeviceError:
        driver = None
    if driver is None or not _visible(hub, access, driver):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no device {device_id} in household {access.household_id} for you",
        )
    return driver


async def _controlled_device(
    request: Request, household_id: str, caller_id: str, device_id: str
) -> tuple[HomeAccess, HomeHub, DeviceDriver]:
    """The caller's access, the household's hub and the device, when the caller may control
    it (403 for others; 404 for a stranger or a device the caller does not see)."""
    access = await control_access(request, household_id, caller_id, "controlling devices")
    hub = await context(request).homes.hub(household_id)
    return access, hub, _device(hub, access, device_id)


def _unprocessable(loc: tuple[str, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message}])


async def bounded(clock: Clock, work: Awaitable[T], what: str) -> T:
    """``await work``, or 504 after :data:`ACTION_TIMEOUT_S` of clock time."""
    task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(ACTION_TIMEOUT_S))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        raise HTTPException(
            status.HTTP_504_GATEWAY_TIMEOUT,
            detail=f"{what} got no answer within {ACTION_TIMEOUT_S:g} s",
        )
    finally:
        task.cancel()
        timer.cancel()


async def run_device_work(clock: Clock, work: Awaitable[T], what: str) -> T:
    """Device errors as HTTP statuses: offline and refused 409, invalid 422, late 504."""
    try:
        return await bounded(clock, work, what)
    except UnknownMemberError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except InvalidValueError as exc:
        raise _unprocessable(("body",), str(exc)) from None
    except DeviceOfflineError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"offline: {exc}") from None
    except CarCommandTimeoutError as exc:
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, detail=str(exc)) from None
    except DeviceActionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"refused: {exc}") from None


@router.get(_DEVICES, responses=error_responses(401, 404), summary="The household's devices")
async def list_devices(
    household_id: HouseholdId, caller: Caller, request: Request
) -> list[DeviceOut]:
    access = await member_access(request, household_id, caller.user_id)
    hub = await context(request).homes.hub(household_id)
    drivers = [hub.registry.driver(d) for d in hub.registry.ids()]
    return [_device_out(access, d) for d in drivers if _visible(hub, access, d)]


@router.get(
    _DEVICES + "/{device_id}",
    responses=error_responses(401, 404),
    summary="One device with its spec",
)
async def get_device(
    household_id: HouseholdId, device_id: DeviceId, caller: Caller, request: Request
) -> DeviceDetailOut:
    access = await member_access(request, household_id, caller.user_id)
    hub = await context(request).homes.hub(household_id)
    return _detail_out(access, _device(hub, access, device_id))


@router.post(
    _DEVICES + "/{device_id}/actions/{action_ref}",
    responses={**error_responses(401, 403, 404, 409), **TIMEOUT_RESPONSE},
    summary="Call an action of a device (owner, drivers)",
)
async def call_action(
    household_id: HouseholdId,
    device_id: DeviceId,
    action_ref: ActionRef,
    body: ActionIn,
    caller: Caller,
    request: Request,
) -> ActionResultOut:
    access, hub, driver = await _controlled_device(request, household_id, caller.user_id, device_id)
    if isinstance(driver, CarDevice):
        with domain_errors():
            access.require_car_command(driver.car_id, car_command_name(action_ref))
    outputs: Mapping[str, Scalar] = await run_device_work(
        context(request).clock,
        hub.registry.call(device_id, action_ref, body.data),
        f"{device_id}/{action_ref}",
    )
    return ActionResultOut(device_id=device_id, action=action_ref, outputs=dict(outputs))


@router.put(
    _DEVICES + "/{device_id}/properties/{property_ref}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**error_responses(401, 403, 404, 409), **TIMEOUT_RESPONSE},
    summary="Write a property of a device (owner, drivers)",
)
async def write_property(
    household_id: HouseholdId,
    device_id: DeviceId,
    property_ref: PropertyRef,
    body: PropertyIn,
    caller: Caller,
    request: Request,
) -> None:
    _, hub, driver = await _controlled_device(request, household_id, caller.user_id, device_id)
    spec = driver.spec.properties.get(property_ref)
    if spec is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=str(
                UnknownMemberError(
                    driver.spec.kind, "property", property_ref, list(driver.spec.properties)
                )
            ),
        )
    if not spec.writable:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"{device_id}/{property_ref} is read-only"
        )
    await run_device_work(
        context(request).clock,
        hub.registry.write(device_id, property_ref, body.value),
        f"{device_id}/{property_ref}",
    )
