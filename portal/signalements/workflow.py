"""The life of a signalement, as pure data and one pure function.

    brouillon ──transmettre──────────────────────────────▶ transmis
        │  ▲                                                  │
   soumettre│ │renvoyer (approval, when the funder requires it) │ prendre en charge
        ▼  │                                                  ▼
    à approuver ──approuver──▶ transmis               en examen ◀──répondre── complément demandé
                                                      │   │   └──demander un complément──▲
                               transmettre au certificateur   classer sans suite (also from
                                                      ▼   ▼    complément demandé)
                               transmis au certificateur   classé sans suite
                                                      └─────┴──clore──▶ clos
    fusionner (transmis, en examen, complément demandé) ──▶ clos

`check(state, action, role, approval_required=…)` returns the state reached, or raises
`TransitionRefused` with a French message saying why (who may do it, from which state).
No database, no request: the services call it before changing anything, the pages call
`available_actions` to offer only what may be done, and the tests read it as a table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from portal.errors import Refused
from portal.models.accounts import Role
from portal.models.signalements import SIGNALEMENT_STATE_LABELS, SignalementState

S = SignalementState
FUNDER_SIDE = frozenset({Role.FUNDER_ADMIN, Role.CONTROLLER})
FUNDER_ADMIN = frozenset({Role.FUNDER_ADMIN})
CONTROLLER = frozenset({Role.CONTROLLER})
MINISTRY = frozenset({Role.MINISTRY})


class Action(enum.StrEnum):
    SUBMIT = "soumettre"
    APPROVE = "approuver"
    RETURN = "renvoyer"
    SEND = "transmettre"
    TAKE = "prendre_en_charge"
    REQUEST_INFO = "demander_complement"
    ANSWER = "repondre"
    FORWARD = "transmettre_certificateur"
    DISMISS = "classer_sans_suite"
    CLOSE = "clore"
    MERGE = "fusionner"


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: tuple[SignalementState, ...]
    target: SignalementState
    roles: frozenset[Role]
    verb: str  # « transmettre le signalement au ministère »
    who: str  # who may do it, for the refusal message
    done: str  # what happened, for notifications: « transmis au ministère »
    stamp: str  # the column dated by the transition


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(
            Action.SUBMIT,
            (S.DRAFT,),
            S.AWAITING_APPROVAL,
            CONTROLLER,
            "soumettre le signalement à l'approbation",
            "un contrôleur du financeur",
            "soumis à l'approbation d'un administrateur du financeur",
            "submitted_at",
        ),
        Transition(
            Action.APPROVE,
            (S.AWAITING_APPROVAL,),
            S.SENT,
            FUNDER_ADMIN,
            "approuver et transmettre le signalement",
            "un administrateur du financeur",
            "approuvé et transmis au ministère",
            "sent_at",
        ),
        Transition(
            Action.RETURN,
            (S.AWAITING_APPROVAL,),
            S.DRAFT,
            FUNDER_ADMIN,
            "renvoyer le signalement en brouillon",
            "un administrateur du financeur",
            "renvoyé en brouillon par un administrateur du financeur",
            "updated_at",
        ),
        Transition(
            Action.SEND,
            (S.DRAFT,),
            S.SENT,
            FUNDER_SIDE,
            "transmettre le signalement au ministère",
            "le financeur (contrôleur ou administrateur)",
            "transmis au ministère",
            "sent_at",
        ),
        Transition(
            Action.TAKE,
            (S.SENT,),
            S.UNDER_REVIEW,
            MINISTRY,
            "prendre le signalement en charge",
            "un correspondant ministériel",
            "pris en charge par le ministère",
            "taken_at",
        ),
        Transition(
            Action.REQUEST_INFO,
            (S.UNDER_REVIEW,),
            S.INFO_REQUESTED,
            MINISTRY,
            "demander un complément au financeur",
            "un correspondant ministériel",
            "complément d'information demandé par le ministère",
            "info_requested_at",
        ),
        Transition(
            Action.ANSWER,
            (S.INFO_REQUESTED,),
            S.UNDER_REVIEW,
            FUNDER_SIDE,
            "répondre à la demande de complément",
            "le financeur (contrôleur ou administrateur)",
            "complément apporté par le financeur",
            "info_answered_at",
        ),
        Transition(
            Action.FORWARD,
            (S.UNDER_REVIEW,),
            S.FORWARDED,
            MINISTRY,
            "transmettre le signalement au certificateur",
            "un correspondant ministériel",
            "transmis au certificateur",
            "forwarded_at",
        ),
        Transition(
            Action.DISMISS,
            (S.UNDER_REVIEW, S.INFO_REQUESTED),
            S.DISMISSED,
            MINISTRY,
            "classer le signalement sans suite",
            "un correspondant ministériel",
            "classé sans suite",
            "dismissed_at",
        ),
        Transition(
            Action.CLOSE,
            (S.FORWARDED, S.DISMISSED),
            S.CLOSED,
            MINISTRY,
            "clore le signalement",
            "un correspondant ministériel",
            "clos",
            "closed_at",
        ),
        Transition(
            Action.MERGE,
            (S.SENT, S.UNDER_REVIEW, S.INFO_REQUESTED),
            S.CLOSED,
            MINISTRY,
            "fusionner le signalement avec un autre",
            "un correspondant ministériel",
            "fusionné avec un autre signalement et clos",
            "closed_at",
        ),
    )
}

#: States the ministry never sees (the funder's own work).
FUNDER_ONLY_STATES = frozenset({S.DRAFT, S.AWAITING_APPROVAL})
#: States in which the funder may change the facts, indicators and evidence.
EDITABLE_STATES = frozenset({S.DRAFT})
#: States in which both sides may write in the thread.
THREAD_STATES = frozenset({S.SENT, S.UNDER_REVIEW, S.INFO_REQUESTED, S.FORWARDED, S.DISMISSED})

NEEDS_APPROVAL = (
    "Votre financeur demande l'approbation d'un administrateur avant l'envoi : soumettez "
    "le signalement à l'approbation."
)
NO_APPROVAL = (
    "Votre financeur ne demande pas d'approbation avant l'envoi : transmettez directement "
    "le signalement au ministère."
)


class TransitionRefused(Refused):
    """A transition that may not happen (wrong role or state); `message` is for the user
    (French). A `Refused` the views tell apart from a form's refusal: it is flashed, not
    shown in the form."""

    def __init__(self, message: str) -> None:
        super().__init__(general=message)


def _quoted(states: tuple[SignalementState, ...]) -> str:
    names = [f"« {SIGNALEMENT_STATE_LABELS[s]} »" for s in states]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " ou " + names[-1]


def check(
    state: SignalementState | str,
    action: Action | str,
    role: Role | str,
    *,
    approval_required: bool = False,
) -> SignalementState:
    """The state `action` leads to from `state` when done by `role`; raises
    `TransitionRefused` when it may not be done (wrong role, wrong state, approval)."""
    try:
        transition = TRANSITIONS[Action(action)]
    except ValueError:
        raise TransitionRefused("Action inconnue sur un signalement.") from None
    state = SignalementState(state)
    role = Role(role)
    if role not in transition.roles:
        raise TransitionRefused(
            f"Vous ne pouvez pas {transition.verb} : seul {transition.who} le peut."
        )
    if transition.action == Action.SEND and approval_required and role != Role.FUNDER_ADMIN:
        raise TransitionRefused(NEEDS_APPROVAL)
    if transition.action == Action.SUBMIT and not approval_required:
        raise TransitionRefused(NO_APPROVAL)
    if state not in transition.sources:
        raise TransitionRefused(
            f"Impossible de {transition.verb} : le signalement est « "
            f"{SIGNALEMENT_STATE_LABELS[state]} », et cette action n'est possible que s'il est "
            f"{_quoted(transition.sources)}. Rien n'a été modifié."
        )
    return transition.target


def is_allowed(
    state: SignalementState | str,
    action: Action | str,
    role: Role | str,
    *,
    approval_required: bool = False,
) -> bool:
    try:
        check(state, action, role, approval_required=approval_required)
    except TransitionRefused:
        return False
    return True


def available_actions(
    state: SignalementState | str, role: Role | str, *, approval_required: bool = False
) -> list[Action]:
    """What `role` may do now, in the order of the table."""
    return [
        action
        for action in TRANSITIONS
        if is_allowed(state, action, role, approval_required=approval_required)
    ]


def can_edit(state: SignalementState | str, role: Role | str) -> bool:
    """Change the facts, indicators, dossiers and evidence: the funder, on a draft."""
    return SignalementState(state) in EDITABLE_STATES and Role(role) in FUNDER_SIDE


def can_write(state: SignalementState | str, role: Role | str) -> bool:
    """Write in the thread: both sides, once sent and until closed."""
    return SignalementState(state) in THREAD_STATES and Role(role) in (FUNDER_SIDE | MINISTRY)
