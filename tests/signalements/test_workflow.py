"""The state machine as a table: every action, from every state, by every role, with and
without the funder's approval step; what is allowed leads where the issue says, what is
not is refused with a French message."""

from __future__ import annotations

import itertools

import pytest

from portal.models import SIGNALEMENT_STATE_LABELS, Role
from portal.models import SignalementState as S
from portal.signalements import workflow
from portal.signalements.workflow import Action as A
from portal.signalements.workflow import TransitionRefused

FUNDER = frozenset({Role.CONTROLLER, Role.FUNDER_ADMIN})
ADMIN = frozenset({Role.FUNDER_ADMIN})
CONTROLLER = frozenset({Role.CONTROLLER})
MINISTRY = frozenset({Role.MINISTRY})
NOBODY: frozenset[Role] = frozenset()

# (state, action): (state reached, roles allowed without approval, roles allowed with it)
ALLOWED = {
    (S.DRAFT, A.SEND): (S.SENT, FUNDER, ADMIN),
    (S.DRAFT, A.SUBMIT): (S.AWAITING_APPROVAL, NOBODY, CONTROLLER),
    (S.AWAITING_APPROVAL, A.APPROVE): (S.SENT, ADMIN, ADMIN),
    (S.AWAITING_APPROVAL, A.RETURN): (S.DRAFT, ADMIN, ADMIN),
    (S.SENT, A.TAKE): (S.UNDER_REVIEW, MINISTRY, MINISTRY),
    (S.SENT, A.MERGE): (S.CLOSED, MINISTRY, MINISTRY),
    (S.UNDER_REVIEW, A.REQUEST_INFO): (S.INFO_REQUESTED, MINISTRY, MINISTRY),
    (S.UNDER_REVIEW, A.FORWARD): (S.FORWARDED, MINISTRY, MINISTRY),
    (S.UNDER_REVIEW, A.DISMISS): (S.DISMISSED, MINISTRY, MINISTRY),
    (S.UNDER_REVIEW, A.MERGE): (S.CLOSED, MINISTRY, MINISTRY),
    (S.INFO_REQUESTED, A.ANSWER): (S.UNDER_REVIEW, FUNDER, FUNDER),
    (S.INFO_REQUESTED, A.DISMISS): (S.DISMISSED, MINISTRY, MINISTRY),
    (S.INFO_REQUESTED, A.MERGE): (S.CLOSED, MINISTRY, MINISTRY),
    (S.FORWARDED, A.CLOSE): (S.CLOSED, MINISTRY, MINISTRY),
    (S.DISMISSED, A.CLOSE): (S.CLOSED, MINISTRY, MINISTRY),
}

CASES = list(itertools.product(S, A, Role, (False, True)))


def _expected(state: S, action: A, role: Role, approval: bool) -> S | None:
    allowed = ALLOWED.get((state, action))
    if allowed is None:
        return None
    target, without, with_approval = allowed
    return target if role in (with_approval if approval else without) else None


@pytest.mark.parametrize(
    ("state", "action", "role", "approval"),
    CASES,
    ids=[
        f"{s.value}-{a.value}-{r.value}-{'approbation' if ap else 'direct'}"
        for s, a, r, ap in CASES
    ],
)
def test_every_transition_for_every_role(state: S, action: A, role: Role, approval: bool) -> None:
    expected = _expected(state, action, role, approval)
    if expected is not None:
        assert workflow.check(state, action, role, approval_required=approval) == expected
        assert action in workflow.available_actions(state, role, approval_required=approval)
        return
    with pytest.raises(TransitionRefused) as refused:
        workflow.check(state, action, role, approval_required=approval)
    message = refused.value.message
    assert message and message[0].isupper() and message.endswith(".")
    assert action not in workflow.available_actions(state, role, approval_required=approval)
    spec = workflow.TRANSITIONS[action]
    if (
        role in spec.roles
        and state not in spec.sources
        and not (action == A.SUBMIT and not approval)
        and not (action == A.SEND and approval and role != Role.FUNDER_ADMIN)
    ):
        # The right person, the wrong moment: the message names both states.
        assert f"« {SIGNALEMENT_STATE_LABELS[state]} »" in message
        assert "Rien n'a été modifié" in message


def test_the_table_covers_the_workflow_and_nothing_more() -> None:
    declared = {(s, t.action) for t in workflow.TRANSITIONS.values() for s in t.sources}
    assert declared == set(ALLOWED)
    for (state, action), (target, _, _) in ALLOWED.items():
        assert workflow.TRANSITIONS[action].target == target
        assert state in workflow.TRANSITIONS[action].sources


@pytest.mark.parametrize(
    ("state", "action", "role", "approval", "words"),
    [
        (S.SENT, A.TAKE, Role.CONTROLLER, False, "seul un correspondant ministériel"),
        (S.DRAFT, A.SEND, Role.MINISTRY, False, "seul le financeur"),
        (S.AWAITING_APPROVAL, A.APPROVE, Role.CONTROLLER, True, "administrateur du financeur"),
        (S.DRAFT, A.SEND, Role.CONTROLLER, True, "soumettez le signalement à l'approbation"),
        (S.DRAFT, A.SUBMIT, Role.CONTROLLER, False, "transmettez directement"),
        (S.CLOSED, A.TAKE, Role.MINISTRY, False, "« Clos »"),
        (S.SENT, A.FORWARD, Role.MINISTRY, False, "« En examen »"),
    ],
)
def test_refusals_say_why(state: S, action: A, role: Role, approval: bool, words: str) -> None:
    with pytest.raises(TransitionRefused, match=words):
        workflow.check(state, action, role, approval_required=approval)


def test_unknown_action_is_refused() -> None:
    with pytest.raises(TransitionRefused, match="Action inconnue"):
        workflow.check(S.DRAFT, "publier", Role.CONTROLLER)


@pytest.mark.parametrize(("state", "role"), list(itertools.product(S, Role)))
def test_only_the_funder_edits_and_only_drafts(state: S, role: Role) -> None:
    assert workflow.can_edit(state, role) is (state == S.DRAFT and role in FUNDER)


@pytest.mark.parametrize(("state", "role"), list(itertools.product(S, Role)))
def test_the_thread_is_open_to_both_sides_between_sending_and_closing(state: S, role: Role) -> None:
    open_states = {S.SENT, S.UNDER_REVIEW, S.INFO_REQUESTED, S.FORWARDED, S.DISMISSED}
    expected = state in open_states and role in (FUNDER | MINISTRY)
    assert workflow.can_write(state, role) is expected


def test_every_transition_dates_a_column_of_the_model() -> None:
    from portal.models import Signalement

    for spec in workflow.TRANSITIONS.values():
        assert hasattr(Signalement, spec.stamp), spec.stamp
