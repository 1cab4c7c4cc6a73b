"""The permission table: what each role may do, and a liaison's agency scope."""

from __future__ import annotations

import pytest

from dashboard.auth.roles import PERMISSIONS, STAFF, Action, AuthMethod, Role, User, can


def user(role: Role, agency: str | None = None) -> User:
    return User(username="u", display_name="U", role=role, agency=agency,
                via=AuthMethod.SESSION)


@pytest.mark.parametrize(("role", "allowed"), [
    (Role.OPERATOR, {Action.VIEW, Action.REPORT}),
    (Role.LEADER, {Action.VIEW, Action.REPORT, Action.INCIDENT_ACT, Action.DISPATCH,
                   Action.CONFERENCE, Action.AGENCY_TASK}),
    (Role.LIAISON, {Action.VIEW, Action.AGENCY_TASK}),
    (Role.ADMIN, set(Action)),
])
def test_each_role_may_do_exactly_its_actions(role: Role, allowed: set[Action]) -> None:
    assert {action for action in Action if can(role, action)} == allowed


def test_every_staff_role_has_a_row_and_may_view() -> None:
    assert set(PERMISSIONS) == STAFF
    assert all(can(role, Action.VIEW) for role in STAFF)


def test_units_and_cameras_may_do_nothing_on_the_dashboard() -> None:
    assert not any(can(role, action) for role in (Role.UNIT, Role.CAMERA) for action in Action)


def test_only_admin_administers_and_only_leader_or_admin_dispatch() -> None:
    assert [r for r in Role if can(r, Action.ADMIN)] == [Role.ADMIN]
    assert {r for r in Role if can(r, Action.DISPATCH)} == {Role.LEADER, Role.ADMIN}


def test_a_liaison_acts_on_their_own_agency_only() -> None:
    fire = user(Role.LIAISON, "fire")
    assert fire.may(Action.AGENCY_TASK, "fire")
    assert not fire.may(Action.AGENCY_TASK, "police")
    assert fire.may(Action.VIEW, "police"), "liaisons see everything read-only"
    assert not fire.may(Action.DISPATCH)
    assert not fire.may(Action.INCIDENT_ACT, "fire")


def test_leaders_act_on_every_agency() -> None:
    assert user(Role.LEADER).may(Action.AGENCY_TASK, "police")
    assert user(Role.ADMIN).may(Action.AGENCY_TASK, "water")
    assert not user(Role.OPERATOR).may(Action.AGENCY_TASK, "police")


def test_roles_and_actions_have_both_labels() -> None:
    for role in Role:
        assert role.label_zh and role.label_en and role.label_zh != role.label_en
    for action in Action:
        assert action.label_zh and action.label_en
