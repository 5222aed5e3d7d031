"""The scenes API: a household's named sets of device values (YAML text), checked against its
devices when saved, and applied on request. Members read them; the owner edits them; the owner
and the drivers of the household's cars activate them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from smartev.cloud import automation_store as store
from smartev.cloud import schema as t
from smartev.cloud.api.automation_traces import StepOut, wire_time
from smartev.cloud.api.automations import (
    MAX_SOURCE_CHARS,
    PROBLEMS_RESPONSE,
    ProblemOut,
    problems_of,
)
from smartev.cloud.api.common import HouseholdId, error_responses, from_us
from smartev.cloud.api.home_routes import (
    control_access,
    member_access,
    owner_access,
    read_one,
    write_db,
)
from smartev.cloud.deps import Caller, context, now_us, read_db
from smartev.cloud.home_hub import HomeHub
from smartev.ecosystem.errors import AutomationError
from smartev.ecosystem.trace import TraceStep

router = APIRouter(prefix="/api/v1/households", tags=["scenes"])

SceneId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="The scene's id.")]
_SCENES = "/{household_id}/scenes"
_OWNER_ONLY = "edit its scenes"


class SceneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        min_length=1, max_length=MAX_SOURCE_CHARS, description="The scene as YAML text."
    )


class SceneOut(BaseModel):
    id: str
    household_id: str
    name: str
    source: str
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    problems: list[ProblemOut] = Field(
        description="Why the stored text no longer fits the household (a device went away)."
    )

    @classmethod
    def of(cls, stored: store.StoredScene, hub: HomeHub) -> SceneOut:
        problems: list[ProblemOut] = []
        if stored.id not in hub.scene_names:
            try:
                hub.parse_scene(stored.source)
            except AutomationError as exc:
                problems = problems_of(exc)
        return cls(
            id=stored.id,
            household_id=stored.household_id,
            name=stored.name,
            source=stored.source,
            created_at=from_us(stored.created_us),
            updated_at=from_us(stored.updated_us),
            created_by=stored.created_by,
            problems=problems,
        )


class ActivationOut(BaseModel):
    scene_id: str
    name: str
    ok: bool = Field(description="Whether every value was applied.")
    steps: list[StepOut]


def _steps(steps: list[TraceStep]) -> list[StepOut]:
    return [
        StepOut(
            path=s.path,
            kind=s.kind,
            result=str(s.result),
            detail=s.detail,
            started=wire_time(s.started),
            finished=wire_time(s.finished),
            outputs=dict(s.outputs),
        )
        for s in steps
    ]


async def _stored(request: Request, household_id: str, scene_id: str) -> store.StoredScene:
    return await read_one(request, lambda db: store.scene(db, household_id, scene_id))


async def _save(
    request: Request,
    household_id: str,
    scene_id: str,
    body: SceneIn,
    actor_id: str,
    save: Callable[..., store.StoredScene],
) -> SceneOut:
    """Check the text against the household's devices (AutomationError: 422 with problems),
    store it with ``save`` (:func:`store.add_scene` or :func:`store.change_scene`), then put it
    in the hub."""
    ctx = context(request)
    hub = await ctx.homes.hub(household_id)
    scene = hub.parse_scene(body.source)
    stored = await write_db(
        request,
        lambda db: save(
            db,
            household_id=household_id,
            scene_id=scene_id,
            name=scene.name,
            source=body.source,
            actor_id=actor_id,
            now_us=now_us(ctx),
        ),
    )
    hub.put_scene(scene_id, scene)
    return SceneOut.of(stored, hub)


@router.get(_SCENES, responses=error_responses(401, 404), summary="The household's scenes")
async def list_scenes(
    household_id: HouseholdId, caller: Caller, request: Request
) -> list[SceneOut]:
    ctx = context(request)
    await member_access(request, household_id, caller.user_id)
    hub = await ctx.homes.hub(household_id)
    rows = await read_db(ctx, lambda db: store.scenes(db, household_id))
    return [SceneOut.of(r, hub) for r in rows]


@router.post(
    _SCENES,
    status_code=status.HTTP_201_CREATED,
    responses={**error_responses(400, 401, 403, 404, 409), **PROBLEMS_RESPONSE},
    summary="Add a scene (owner)",
)
async def create_scene(
    household_id: HouseholdId, body: SceneIn, caller: Caller, request: Request
) -> SceneOut:
    await owner_access(request, household_id, caller.user_id, _OWNER_ONLY)
    scene_id = t.new_id("scn")
    return await _save(request, household_id, scene_id, body, caller.user_id, store.add_scene)


@router.get(_SCENES + "/{scene_id}", responses=error_responses(401, 404), summary="One scene")
async def get_scene(
    household_id: HouseholdId, scene_id: SceneId, caller: Caller, request: Request
) -> SceneOut:
    await member_access(request, household_id, caller.user_id)
    hub = await context(request).homes.hub(household_id)
    return SceneOut.of(await _stored(request, household_id, scene_id), hub)


@router.put(
    _SCENES + "/{scene_id}",
    responses={**error_responses(400, 401, 403, 404, 409), **PROBLEMS_RESPONSE},
    summary="Replace a scene's text (owner)",
)
async def update_scene(
    household_id: HouseholdId,
    scene_id: SceneId,
    body: SceneIn,
    caller: Caller,
    request: Request,
) -> SceneOut:
    await owner_access(request, household_id, caller.user_id, _OWNER_ONLY)
    await _stored(request, household_id, scene_id)
    return await _save(request, household_id, scene_id, body, caller.user_id, store.change_scene)


@router.delete(
    _SCENES + "/{scene_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404),
    summary="Delete a scene (owner)",
)
async def delete_scene(
    household_id: HouseholdId, scene_id: SceneId, caller: Caller, request: Request
) -> None:
    ctx = context(request)
    await owner_access(request, household_id, caller.user_id, _OWNER_ONLY)
    await write_db(
        request,
        lambda db: store.remove_scene(
            db,
            household_id=household_id,
            scene_id=scene_id,
            actor_id=caller.user_id,
            now_us=now_us(ctx),
        ),
    )
    hub = ctx.homes.started_hub(household_id)
    if hub is not None:
        hub.drop_scene(scene_id)


@router.post(
    _SCENES + "/{scene_id}/activate",
    responses=error_responses(401, 403, 404, 409),
    summary="Apply a scene now (owner, drivers); one step per value",
)
async def activate_scene(
    household_id: HouseholdId, scene_id: SceneId, caller: Caller, request: Request
) -> ActivationOut:
    ctx = context(request)
    await control_access(request, household_id, caller.user_id, "activating scenes")
    stored = await _stored(request, household_id, scene_id)
    hub = await ctx.homes.hub(household_id)
    engine = hub.engine
    if stored.id not in hub.scene_names or engine is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"scene {scene_id} does not fit the household any more; edit it",
        )
    steps = await engine.apply_scene(hub.scene_names[stored.id])
    return ActivationOut(
        scene_id=scene_id,
        name=stored.name,
        ok=all(s.result == "ok" for s in steps),
        steps=_steps(steps),
    )
