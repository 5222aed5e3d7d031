"""The traces of a household's automation runs: newest first (running ones included), and one
run in full (its trigger, each condition's and action's result). Members read them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from smartev.cloud import automation_store as store
from smartev.cloud.api.common import HouseholdId, error_responses, from_us
from smartev.cloud.api.home_routes import member_access, read_one
from smartev.cloud.deps import Caller, context, read_db
from smartev.ecosystem.trace import Outcome

router = APIRouter(prefix="/api/v1/households", tags=["automations"])

RUN_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN, description="The run's id.")]
Scalar = bool | int | float | str
_AUTOMATIONS = "/{household_id}/automations"
AutomationId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="The automation's id.")
]


class TriggerOut(BaseModel):
    path: str
    kind: str
    id: str
    description: str
    device: str
    ref: str
    from_value: Scalar | None
    to_value: Scalar | None
    ts: datetime


class StepOut(BaseModel):
    path: str
    kind: str
    result: str = Field(description="true | false | ok | failed | timeout | skipped")
    detail: str
    started: datetime
    finished: datetime
    outputs: dict[str, Scalar]


class TraceSummaryOut(BaseModel):
    run_id: str
    automation_id: str
    outcome: str = Field(description=", ".join(o.value for o in Outcome))
    started: datetime
    finished: datetime | None
    trigger: str = Field(description="What started the run, in plain words.")
    error: str


class TraceOut(BaseModel):
    run_id: str
    automation_id: str
    outcome: str
    started: datetime
    finished: datetime | None
    error: str
    caused_by: list[str]
    trigger: TriggerOut
    conditions: list[StepOut]
    actions: list[StepOut]


def wire_time(ts: float) -> datetime:
    """A clock timestamp (seconds) as a time on the wire."""
    return from_us(max(0, round(ts * 1_000_000)))


def _step(data: Mapping[str, Any]) -> StepOut:
    return StepOut(
        path=data["path"],
        kind=data["kind"],
        result=data["result"],
        detail=data["detail"],
        started=wire_time(data["started"]),
        finished=wire_time(data["finished"]),
        outputs=data["outputs"],
    )


def trace_out(data: Mapping[str, Any]) -> TraceOut:
    trigger = data["trigger"]
    finished = data["finished"]
    return TraceOut(
        run_id=data["run_id"],
        automation_id=data["automation_id"],
        outcome=data["outcome"],
        started=wire_time(data["started"]),
        finished=None if finished is None else wire_time(finished),
        error=data["error"],
        caused_by=list(data["caused_by"]),
        trigger=TriggerOut(**{**trigger, "ts": wire_time(trigger["ts"])}),
        conditions=[_step(s) for s in data["conditions"]],
        actions=[_step(s) for s in data["actions"]],
    )


def _summary(data: Mapping[str, Any]) -> TraceSummaryOut:
    finished = data["finished"]
    return TraceSummaryOut(
        run_id=data["run_id"],
        automation_id=data["automation_id"],
        outcome=data["outcome"],
        started=wire_time(data["started"]),
        finished=None if finished is None else wire_time(finished),
        trigger=data["trigger"]["description"],
        error=data["error"],
    )


async def stored_automation(
    request: Request, household_id: str, automation_id: str
) -> store.StoredAutomation:
    """The stored automation (404 when the household has none of that id)."""
    return await read_one(request, lambda db: store.automation(db, household_id, automation_id))


@router.get(
    _AUTOMATIONS + "/{automation_id}/traces",
    responses=error_responses(401, 404),
    summary="The automation's runs, newest first (running ones included)",
)
async def list_traces(
    household_id: HouseholdId,
    automation_id: AutomationId,
    caller: Caller,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=store.RUNS_KEPT, description="At most this many.")] = 20,
) -> list[TraceSummaryOut]:
    ctx = context(request)
    await member_access(request, household_id, caller.user_id)
    await stored_automation(request, household_id, automation_id)
    hub = ctx.homes.started_hub(household_id)
    running = []
    if hub is not None and hub.engine is not None:
        running = [
            store.trace_data(tr)
            for tr in hub.engine.traces(automation_id)
            if tr.outcome is Outcome.RUNNING
        ]
    rows = await read_db(ctx, lambda db: store.runs(db, automation_id, limit))
    return [_summary(d) for d in [*running, *(r.trace for r in rows)]][:limit]


@router.get(
    _AUTOMATIONS + "/{automation_id}/traces/{run_id}",
    responses=error_responses(401, 404),
    summary="One run's trace: its trigger, conditions and each action's result",
)
async def get_trace(
    household_id: HouseholdId,
    automation_id: AutomationId,
    run_id: RunId,
    caller: Caller,
    request: Request,
) -> TraceOut:
    ctx = context(request)
    await member_access(request, household_id, caller.user_id)
    await stored_automation(request, household_id, automation_id)
    hub = ctx.homes.started_hub(household_id)
    live = None if hub is None or hub.engine is None else hub.engine.trace(run_id)
    if live is not None and live.automation_id == automation_id and live.finished is None:
        return trace_out(store.trace_data(live))
    row = await read_one(request, lambda db: store.run(db, automation_id, run_id))
    return trace_out(row.trace)
