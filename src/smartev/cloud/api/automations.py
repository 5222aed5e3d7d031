"""The automations API: a household's automations as YAML text (Home Assistant's shape, see
docs/automations.md), checked against the household's devices, zones, scenes and people when
saved; running one by hand; the traces of its runs.

Members read automations and traces; the owner creates, changes and deletes them; the owner and
the drivers of the household's cars run them by hand. A text that does not fit is refused with
422 and every problem found, each with its line, column and path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from smartev.cloud import automation_store as store
from smartev.cloud import schema as t
from smartev.cloud.api.automation_traces import (
    AutomationId,
    TraceOut,
    stored_automation,
    trace_out,
)
from smartev.cloud.api.common import HouseholdId, error_responses, from_us
from smartev.cloud.api.home_routes import control_access, member_access, owner_access, write_db
from smartev.cloud.deps import Caller, context, now_us, read_db
from smartev.cloud.home_hub import HomeHub
from smartev.ecosystem.errors import AutomationError
from smartev.ecosystem.trace import Trace

router = APIRouter(prefix="/api/v1/households", tags=["automations"])

MAX_SOURCE_CHARS: Final = 64 * 1024
_AUTOMATIONS = "/{household_id}/automations"
_OWNER_ONLY = "edit its automations"


class ProblemOut(BaseModel):
    line: int = Field(description="1-based line of the text.")
    column: int = Field(description="1-based column (0 when unknown).")
    path: str = Field(description="Where in the automation: triggers/0/entity_id.")
    message: str


class ValidationItem(BaseModel):
    type: str
    loc: list[str | int]
    msg: str


class ProblemsBody(BaseModel):
    """A 422: what was wrong. For automation and scene texts, ``problems`` lists every fault
    with its line; ``detail`` says the same in the shape of every other 422."""

    detail: list[ValidationItem]
    problems: list[ProblemOut] = Field(default_factory=list)


PROBLEMS_RESPONSE: Final[dict[int | str, dict[str, Any]]] = {
    422: {"model": ProblemsBody, "description": "The text or a field is invalid; every problem."}
}


def problems_of(error: AutomationError) -> list[ProblemOut]:
    return [
        ProblemOut(line=p.line, column=p.column, path=p.path, message=p.reason)
        for p in error.problems
    ]


def problems_body(error: AutomationError) -> dict[str, Any]:
    """The 422 body of a refused text (the app's handler of AutomationError answers with it)."""
    problems = problems_of(error)
    detail = [
        ValidationItem(type="value_error", loc=["body", "source"], msg=str(p)).model_dump()
        for p in error.problems
    ] or [ValidationItem(type="value_error", loc=["body", "source"], msg=str(error)).model_dump()]
    return {"detail": detail, "problems": [p.model_dump() for p in problems]}


class AutomationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        min_length=1, max_length=MAX_SOURCE_CHARS, description="The automation as YAML text."
    )
    enabled: bool = Field(True, strict=True, description="Whether its triggers fire.")


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS)


class ValidationOut(BaseModel):
    ok: bool
    alias: str | None = Field(description="The automation's alias when it is valid.")
    problems: list[ProblemOut]


class AutomationOut(BaseModel):
    id: str
    household_id: str
    alias: str
    source: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    problems: list[ProblemOut] = Field(
        description="Why the stored text no longer fits the household (a device went away); "
        "while there are problems the automation does not run."
    )

    @classmethod
    def of(cls, stored: store.StoredAutomation, hub: HomeHub) -> AutomationOut:
        broken = hub.broken.get(stored.id)
        return cls(
            id=stored.id,
            household_id=stored.household_id,
            alias=stored.alias,
            source=stored.source,
            enabled=stored.enabled,
            created_at=from_us(stored.created_us),
            updated_at=from_us(stored.updated_us),
            created_by=stored.created_by,
            problems=[] if broken is None else problems_of(broken),
        )


# ── automations ──────────────────────────────────────────────────────────────────────────────


@router.get(_AUTOMATIONS, responses=error_responses(401, 404), summary="The automations")
async def list_automations(
    household_id: HouseholdId, caller: Caller, request: Request
) -> list[AutomationOut]:
    ctx = context(request)
    await member_access(request, household_id, caller.user_id)
    hub = await ctx.homes.hub(household_id)
    rows = await read_db(ctx, lambda db: store.automations(db, household_id))
    return [AutomationOut.of(r, hub) for r in rows]


@router.post(
    _AUTOMATIONS + "/validate",
    responses=error_responses(401, 404),
    summary="Check an automation's text without saving it",
)
async def validate_automation(
    household_id: HouseholdId, body: SourceIn, caller: Caller, request: Request
) -> ValidationOut:
    await member_access(request, household_id, caller.user_id)
    hub = await context(request).homes.hub(household_id)
    try:
        automation = hub.parse("validation", body.source)
    except AutomationError as exc:
        return ValidationOut(ok=False, alias=None, problems=problems_of(exc))
    return ValidationOut(ok=True, alias=automation.alias, problems=[])


async def _save(
    request: Request,
    household_id: str,
    automation_id: str,
    body: AutomationIn,
    actor_id: str,
    save: Callable[..., store.StoredAutomation],
) -> AutomationOut:
    """Check the text against the household (AutomationError: 422 with problems), store it with
    ``save`` (:func:`store.add_automation` or :func:`store.change_automation`), then load it."""
    ctx = context(request)
    hub = await ctx.homes.hub(household_id)
    automation = hub.parse(automation_id, body.source)
    stored = await write_db(
        request,
        lambda db: save(
            db,
            household_id=household_id,
            automation_id=automation_id,
            alias=automation.alias,
            source=body.source,
            enabled=body.enabled,
            actor_id=actor_id,
            now_us=now_us(ctx),
        ),
    )
    hub.load(automation_id, body.source, enabled=body.enabled)
    return AutomationOut.of(stored, hub)


@router.post(
    _AUTOMATIONS,
    status_code=status.HTTP_201_CREATED,
    responses={**error_responses(400, 401, 403, 404, 409), **PROBLEMS_RESPONSE},
    summary="Add an automation (owner)",
)
async def create_automation(
    household_id: HouseholdId, body: AutomationIn, caller: Caller, request: Request
) -> AutomationOut:
    await owner_access(request, household_id, caller.user_id, _OWNER_ONLY)
    automation_id = t.new_id("aut")
    return await _save(
        request, household_id, automation_id, body, caller.user_id, store.add_automation
    )


@router.get(
    _AUTOMATIONS + "/{automation_id}",
    responses=error_responses(401, 404),
    summary="One automation",
)
async def get_automation(
    household_id: HouseholdId, automation_id: AutomationId, caller: Caller, request: Request
) -> AutomationOut:
    await member_access(request, household_id, caller.user_id)
    hub = await context(request).homes.hub(household_id)
    return AutomationOut.of(await stored_automation(request, household_id, automation_id), hub)


@router.put(
    _AUTOMATIONS + "/{automation_id}",
    responses={**error_responses(400, 401, 403, 404), **PROBLEMS_RESPONSE},
    summary="Replace an automation's text (owner); its running runs end aborted",
)
async def update_automation(
    household_id: HouseholdId,
    automation_id: AutomationId,
    body: AutomationIn,
    caller: Caller,
    request: Request,
) -> AutomationOut:
    await owner_access(request, household_id, caller.user_id, _OWNER_ONLY)
    await stored_automation(request, household_id, automation_id)
    return await _save(
        request, household_id, automation_id, body, caller.user_id, store.change_automation
    )


@router.delete(
    _AUTOMATIONS + "/{automation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404),
    summary="Delete an automation and its traces (owner)",
)
async def delete_automation(
    household_id: HouseholdId, automation_id: AutomationId, caller: Caller, request: Request
) -> None:
    ctx = context(request)
    await owner_access(request, household_id, caller.user_id, _OWNER_ONLY)
    await write_db(
        request,
        lambda db: store.remove_automation(
            db,
            household_id=household_id,
            automation_id=automation_id,
            actor_id=caller.user_id,
            now_us=now_us(ctx),
        ),
    )
    hub = ctx.homes.started_hub(household_id)
    if hub is not None:
        hub.unload(automation_id)


# ── running ───────────────────────────────────────────────────────────────────────


@router.post(
    _AUTOMATIONS + "/{automation_id}/run",
    responses=error_responses(401, 403, 404, 409),
    summary="Run an automation now (owner, drivers); answers with its trace once it finished",
)
async def run_automation(
    household_id: HouseholdId,
    automation_id: AutomationId,
    caller: Caller,
    request: Request,
    skip_conditions: Annotated[
        bool, Query(description="Run the actions even if the conditions do not hold.")
    ] = False,
) -> TraceOut:
    ctx = context(request)
    await control_access(request, household_id, caller.user_id, "running automations")
    await stored_automation(request, household_id, automation_id)
    hub = await ctx.homes.hub(household_id)
    engine = hub.engine
    broken = hub.broken.get(automation_id)
    if broken is not None or engine is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"automation {automation_id} does not fit the household any more: {broken}",
        )
    trace: Trace = await engine.run(automation_id, skip_conditions=skip_conditions)
    await hub.flush_traces()
    return trace_out(store.trace_data(trace))
