"""Telling the other side: a notice in the portal and a mail on each transition and each
message of the thread. Who is told: the ministry's liaison in charge (else every liaison
whose scope holds the signalement), the funder's author (else its admins); the funder's
admins when approval is asked; never the OF."""

from __future__ import annotations

import logging

from sqlalchemy import Select, func, select, update

from portal.clock import utcnow
from portal.extensions import db
from portal.mailing import absolute_url, send_mail
from portal.models import Role, Side, Signalement, SignalementNotification, User
from portal.signalements import workflow
from portal.signalements.workflow import Action

logger = logging.getLogger(__name__)

SIDE_LABELS = {Side.FUNDER: "Financeur", Side.MINISTRY: "Ministère"}


def side_of(user: User) -> Side:
    return Side.MINISTRY if user.role == Role.MINISTRY else Side.FUNDER


def _active(query: Select) -> list[User]:
    return list(
        db.session.scalars(
            query.where(User.is_active.is_(True), User.password_hash.is_not(None)).order_by(User.id)
        )
    )


def ministry_recipients(signalement: Signalement) -> list[User]:
    """The liaison in charge, or else every liaison whose scope holds the signalement."""
    if signalement.ministry_assignee_id is not None:
        assignee = _active(select(User).where(User.id == signalement.ministry_assignee_id))
        if assignee:
            return assignee
    query = select(User).where(User.role == Role.MINISTRY.value)
    if signalement.region_code:
        query = query.where(
            (User.region_code.is_(None)) | (User.region_code == signalement.region_code)
        )
    else:
        query = query.where(User.region_code.is_(None))
    return _active(query)


def funder_admins(signalement: Signalement) -> list[User]:
    return _active(
        select(User).where(
            User.role == Role.FUNDER_ADMIN.value, User.funder_id == signalement.funder_id
        )
    )


def funder_recipients(signalement: Signalement) -> list[User]:
    """The author (still of this funder), or else the funder's admins."""
    if signalement.author_id is not None:
        author = _active(
            select(User).where(
                User.id == signalement.author_id, User.funder_id == signalement.funder_id
            )
        )
        if author:
            return author
    return funder_admins(signalement)


def _recipients(signalement: Signalement, action: Action | None, actor: User) -> list[User]:
    if action == Action.SUBMIT:
        users = funder_admins(signalement)
    elif action == Action.RETURN:
        users = funder_recipients(signalement)
    elif action in (Action.SEND, Action.APPROVE):
        users = ministry_recipients(signalement)
        if signalement.author_id != actor.id:
            users += funder_recipients(signalement)
    elif actor.role == Role.MINISTRY:
        users = funder_recipients(signalement)
    else:
        users = ministry_recipients(signalement)
    seen: set[int] = set()
    unique = []
    for user in users:
        if user.id != actor.id and user.id not in seen:
            seen.add(user.id)
            unique.append(user)
    return unique


def notice_text(signalement: Signalement, action: Action | None, actor: User) -> str:
    who = SIDE_LABELS[side_of(actor)].lower()
    what = workflow.TRANSITIONS[action].done if action else f"nouveau message du {who}"
    return f"{signalement.reference} ({signalement.provider.name}) : {what}."[:300]


def notify(signalement: Signalement, action: Action | None, actor: User) -> list[tuple[User, str]]:
    """Leave the notices (the caller commits); return who is to be mailed, and what."""
    text = notice_text(signalement, action, actor)
    users = _recipients(signalement, action, actor)
    for user in users:
        db.session.add(
            SignalementNotification(user_id=user.id, signalement_id=signalement.id, text=text)
        )
    return [(user, text) for user in users]


def mail(signalement: Signalement, notified: list[tuple[User, str]], message: str = "") -> None:
    """Mail those notified, once the change is committed (a failure is logged only)."""
    if not notified:
        return
    link = absolute_url("signalements.detail", signalement_id=signalement.id)
    for user, text in notified:
        subject = f"Signalement {text}".rstrip(".")
        try:
            send_mail(
                user.email,
                subject,
                "signalements/mail_notification.txt",
                user=user,
                signalement=signalement,
                text=text,
                message=message,
                link=link,
            )
        except Exception:
            logger.exception("Échec de l'envoi du courriel « %s » à %s.", subject, user.email)


def unread_count(user: User) -> int:
    return int(
        db.session.scalar(
            select(func.count(SignalementNotification.id)).where(
                SignalementNotification.user_id == user.id,
                SignalementNotification.read_at.is_(None),
            )
        )
        or 0
    )


def notifications_for(user: User, limit: int = 50) -> list[SignalementNotification]:
    return list(
        db.session.scalars(
            select(SignalementNotification)
            .where(SignalementNotification.user_id == user.id)
            .order_by(SignalementNotification.id.desc())
            .limit(limit)
        )
    )


def mark_read(user: User, signalement_id: int | None = None) -> int:
    """Mark the user's notices read (those of one signalement, or all); the caller commits."""
    query = update(SignalementNotification).where(
        SignalementNotification.user_id == user.id, SignalementNotification.read_at.is_(None)
    )
    if signalement_id is not None:
        query = query.where(SignalementNotification.signalement_id == signalement_id)
    result = db.session.execute(
        query.values(read_at=utcnow()).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
