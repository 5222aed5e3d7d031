"""The screens beside the car, in the real demo world (tests/web/world.py) through Debian's
Chromium: a scene's per-value result, "Run now" and its trace, a run arriving live in the list,
an automation added from the template, switched off and deleted, a member's role changed and
taken back, an invite made and cancelled, and every screen fitting a phone's width.

The end-to-end walk of issue 8 (tests/web/test_app_e2e.py) covers the rest: the garage opening
live, the editor's errors at their line, the drive charts, a guest's read-only views.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.world import (
    LiveWorld,
    Login,
    world_fixture,  # noqa: F401 (the module's `world` fixture)
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOW_MS = 20_000  # a safety net for a busy machine, not a time under test
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}


class Screen:
    """One person's browser on the app, with the page's uncaught errors."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def sel(self, name: str) -> Any:
        return self.page.locator(f"[data-test={name}]")

    def go(self, route: str) -> None:
        self.page.evaluate("route => { location.hash = route; }", route)


@pytest.fixture
def open_screen(browser: Browser, world: LiveWorld) -> Iterator[Any]:
    contexts = []
    screens: list[Screen] = []

    def open_one(login: Login, viewport: dict[str, int] = DESKTOP) -> Screen:
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        contexts.append(context)
        screen = Screen(context.new_page())
        screens.append(screen)
        screen.page.goto(world.url)
        screen.sel("login-email").fill(login.email)
        screen.sel("login-password").fill(login.password)
        screen.sel("login-submit").click()
        expect(screen.sel("car-card")).to_be_visible(timeout=SHOW_MS)
        return screen

    yield open_one
    for context in contexts:
        context.close()
    for screen in screens:
        assert not screen.errors, f"uncaught errors in the page: {screen.errors}"


def test_activating_a_scene_shows_what_each_value_did(
    open_screen: Any, world: LiveWorld, artifacts: Path
) -> None:
    s = open_screen(world.owner)
    s.go("#/home")
    away = s.sel("scene-row").filter(has_text="away")
    expect(away).to_have_count(1, timeout=SHOW_MS)
    away.locator("[data-test=scene-activate]").click()
    steps = away.locator(".scene-result li")
    expect(steps).to_have_count(3, timeout=SHOW_MS)
    expect(away).to_contain_text("light:hall/light.on")
    expect(away).to_contain_text("door_lock:front/lock.locked")
    s.page.screenshot(path=str(artifacts / "home-scene-activated.png"), full_page=True)


def test_run_now_adds_a_run_whose_trace_opens_with_each_step(
    open_screen: Any, world: LiveWorld, artifacts: Path
) -> None:
    s = open_screen(world.owner)
    s.go("#/automations")
    s.sel("automation-row").filter(has_text="Leaving home").click()
    expect(s.sel("automation-detail")).to_be_visible(timeout=SHOW_MS)
    by_hand = s.sel("trace-row").filter(has_text="run by hand")
    expect(by_hand).to_have_count(0)
    s.page.locator("[data-test=automation-run]").click()
    expect(by_hand).to_have_count(1, timeout=SHOW_MS)
    newest = by_hand.first
    expect(newest).to_have_attribute("data-outcome", "finished")
    # The run just made is shown open: each step with its result.
    expect(newest).to_contain_text("called garage_door:main door.close", timeout=SHOW_MS)
    expect(newest).to_contain_text("applied scene away")
    s.page.screenshot(path=str(artifacts / "automation-run-trace.png"), full_page=True)


def test_a_run_appears_in_the_list_without_a_reload(open_screen: Any, world: LiveWorld) -> None:
    s = open_screen(world.owner)
    s.go("#/automations")
    row = s.sel("automation-row").filter(has_text="Pre-heat before departure")
    expect(row).to_have_count(1, timeout=SHOW_MS)
    s.page.evaluate("window.__noReload = 1")
    with world.api(world.owner) as api:
        listed = api.get(f"/households/{world.household_id}/automations")
        preheat = next(a for a in listed if a["alias"] == "Pre-heat before departure")
        trace = api.post(f"/households/{world.household_id}/automations/{preheat['id']}/run")
    last = row.locator(".last-run")
    expect(last).to_have_attribute("data-run", trace["run_id"], timeout=SHOW_MS)
    expect(last.locator("[data-outcome]")).to_have_attribute("data-outcome", trace["outcome"])
    assert s.page.evaluate("window.__noReload") == 1, "the page was reloaded"


def test_the_owner_adds_an_automation_switches_it_off_and_deletes_it(
    open_screen: Any, world: LiveWorld
) -> None:
    s = open_screen(world.owner)
    s.go("#/automations/new")
    expect(s.sel("automation-editor")).to_be_editable(timeout=SHOW_MS)
    s.sel("automation-validate").click()
    expect(s.page.locator(".editor-status")).to_contain_text("It fits", timeout=SHOW_MS)
    s.sel("automation-save").click()
    expect(s.sel("automation-detail").locator("h1")).to_have_text(
        "Plug-in reminder", timeout=SHOW_MS
    )
    automation_id = s.page.evaluate("location.hash").rsplit("/", 1)[1]
    url = f"/households/{world.household_id}/automations/{automation_id}"

    s.page.locator("[data-test=automation-enabled]").uncheck()
    with world.api(world.owner) as api:
        expect(s.sel("automation-detail")).to_contain_text("disabled", timeout=SHOW_MS)
        assert api.get(url)["enabled"] is False

        s.page.get_by_role("button", name="Delete…").click()
        s.page.locator("[data-test=automation-delete-confirm]").click()
        expect(s.sel("automation-row")).to_have_count(4, timeout=SHOW_MS)
        api.request("GET", url, expect=404)


def test_the_owner_changes_a_members_role_and_takes_it_back(
    open_screen: Any, world: LiveWorld, artifacts: Path
) -> None:
    s = open_screen(world.owner)
    s.go("#/household")
    family = s.sel("member-row").filter(has_text=world.family.email)
    role = family.locator("[data-test=member-role]").first
    expect(role).to_contain_text("guest", timeout=SHOW_MS)

    family.locator("[data-test=member-role-edit]").first.click()
    family.locator(".role-form select").select_option("driver")
    family.get_by_role("button", name="Save role").click()
    expect(role).to_have_text("driver", timeout=SHOW_MS)
    s.page.screenshot(path=str(artifacts / "household-role-changed.png"), full_page=True)

    family.locator("[data-test=member-revoke]").first.click()
    family.locator("[data-test=member-revoke-confirm]").first.click()
    expect(role).to_have_text("no role", timeout=SHOW_MS)
    with world.api(world.owner) as api:
        grants = api.get(f"/households/{world.household_id}/cars/{world.car_id}/grants")
        assert all(g["user_id"] != _user_id(api, world, world.family) for g in grants)


def test_an_invite_is_made_listed_and_cancelled(open_screen: Any, world: LiveWorld) -> None:
    s = open_screen(world.owner)
    s.go("#/household")
    s.page.get_by_label("E-mail address (optional)").fill("friend@example.com")
    s.sel("invite-create").click()
    expect(s.sel("invite-code")).not_to_be_empty(timeout=SHOW_MS)
    invite = s.page.locator(".invite-row").filter(has_text="friend@example.com")
    expect(invite).to_have_count(1)
    invite.locator("[data-test=invite-cancel]").click()
    invite.locator("[data-test=invite-cancel-confirm]").click()
    expect(invite).to_have_count(0, timeout=SHOW_MS)


@pytest.mark.parametrize("route", ["#/trips", "#/home", "#/automations", "#/household"])
def test_each_screen_fits_a_phone(
    open_screen: Any, world: LiveWorld, artifacts: Path, route: str
) -> None:
    s = open_screen(world.owner, PHONE)
    s.go(route)
    expect(s.page.locator(f".view-{route.strip('#/')}")).to_be_visible(timeout=SHOW_MS)
    s.page.wait_for_load_state("networkidle")
    width = s.page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"{route} is {width} px wide on a {PHONE['width']} px phone"
    s.page.screenshot(path=str(artifacts / f"phone-{route.strip('#/')}.png"), full_page=True)


def _user_id(api: Any, world: LiveWorld, login: Login) -> str:
    household = api.get(f"/households/{world.household_id}")
    return next(m["user_id"] for m in household["members"] if m["email"] == login.email)
