"""The incident life cycle: every legal move, and refusals that say why in both languages."""

from __future__ import annotations

import pytest

from incidents.lifecycle import (
    Action,
    IllegalTransition,
    Resolution,
    State,
    advance,
    change_level,
    close,
    merge,
)
from incidents.model import IncidentStatus as S
from incidents.model import Level


def at(status: S, level: Level = Level.IV) -> State:
    return State(status=status, level=level)


def test_the_whole_story_moves_forward() -> None:
    state = at(S.REPORTED)
    for action, expected in [(Action.VERIFY, S.VERIFIED), (Action.RESPOND, S.RESPONDING),
                             (Action.CONTAIN, S.CONTAINED)]:
        outcome = advance(state, action)
        assert outcome.state.status is expected
        assert outcome.action is action
        assert outcome.data["from_status"] == state.status.value
        state = outcome.state
    closed = close(state, Resolution.RESOLVED)
    assert closed.state.status is S.CLOSED
    assert closed.data["resolution"] == "resolved"
    reopened = advance(closed.state, Action.REOPEN)
    assert reopened.state.status is S.RESPONDING


@pytest.mark.parametrize(("status", "action"), [
    (S.REPORTED, Action.CONTAIN), (S.REPORTED, Action.RESPOND), (S.VERIFIED, Action.VERIFY),
    (S.CLOSED, Action.VERIFY), (S.RESPONDING, Action.REOPEN), (S.CONTAINED, Action.VERIFY),
])
def test_illegal_moves_are_refused_with_a_reason(status: S, action: Action) -> None:
    with pytest.raises(IllegalTransition) as refused:
        advance(at(status), action)
    assert status.value in refused.value.en and action.value in refused.value.en
    assert "事件当前状态" in refused.value.zh


def test_a_flare_up_returns_a_contained_incident_to_responding() -> None:
    assert advance(at(S.CONTAINED), Action.RESPOND).state.status is S.RESPONDING


def test_resolved_needs_contained_and_false_alarm_needs_an_early_state() -> None:
    with pytest.raises(IllegalTransition, match="must be contained"):
        close(at(S.RESPONDING), Resolution.RESOLVED)
    assert close(at(S.VERIFIED), Resolution.FALSE_ALARM).state.status is S.CLOSED
    with pytest.raises(IllegalTransition, match="false alarm"):
        close(at(S.RESPONDING), Resolution.FALSE_ALARM)


def test_escalate_and_deescalate() -> None:
    up = change_level(at(S.VERIFIED, Level.IV), Level.II)
    assert up.action is Action.ESCALATE and up.state.level is Level.II
    assert up.data == {"from_status": "verified", "to_status": "verified",
                       "from_level": "IV", "to_level": "II"}
    down = change_level(up.state, Level.III)
    assert down.action is Action.DEESCALATE and down.state.level is Level.III
    with pytest.raises(IllegalTransition, match="already level III"):
        change_level(down.state, Level.III)
    with pytest.raises(IllegalTransition, match="closed"):
        change_level(at(S.CLOSED), Level.I)


def test_merge_keeps_the_more_severe_level_and_the_more_advanced_status() -> None:
    kept, gone = merge(at(S.VERIFIED, Level.III), at(S.RESPONDING, Level.II), same=False)
    assert kept.state == State(status=S.RESPONDING, level=Level.II)
    assert kept.action is Action.MERGE
    assert gone.state.status is S.CLOSED and gone.data["resolution"] == "merged"
    with pytest.raises(IllegalTransition):
        merge(at(S.VERIFIED), at(S.CLOSED), same=False)
    with pytest.raises(IllegalTransition, match="itself"):
        merge(at(S.VERIFIED), at(S.VERIFIED), same=True)
