"""A funder follows an OF: a funder admin's act, never a side effect of a controller's work.

Following opens to the funder what its dossiers need of the OF (see portal.access); it is
done from the admin page or by a dossier form or import that a funder admin runs. Each
follow is audited and told by mail to the OF's active users, who also see in their space
which funders follow them and since when (`followers`).

Names: an OF's name comes from the public list (or from the OF itself). A name a funder
admin types for an OF that is not in the list stays that funder's label
(`FunderProvider.label`) and never becomes the name other tenants see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal import audit, clock
from portal.errors import NotAllowed
from portal.extensions import db
from portal.mailing import absolute_url, send_mail
from portal.models import Funder, FunderProvider, ListVersion, Provider, Role, User

NOT_FOLLOWED = (
    "Votre financeur ne suit pas encore cet organisme : demandez à un administrateur de "
    "votre financeur de l'ajouter à ses organismes suivis (Administration > Organismes "
    "suivis), puis créez le dossier."
)


def may_follow(actor: User) -> bool:
    return actor.role == Role.FUNDER_ADMIN and actor.funder_id is not None


def is_followed(funder_id: int | None, provider_id: int | None) -> bool:
    if funder_id is None or provider_id is None:
        return False
    return (
        db.session.scalar(
            select(FunderProvider.id).where(
                FunderProvider.funder_id == funder_id, FunderProvider.provider_id == provider_id
            )
        )
        is not None
    )


def list_name(nda: str) -> str | None:
    """The OF's name in the public list in force today, if it is there."""
    today = clock.today()
    return db.session.scalar(
        select(ListVersion.denomination)
        .where(ListVersion.nda == nda, ListVersion.valid_from <= today)
        .where((ListVersion.valid_to.is_(None)) | (ListVersion.valid_to >= today))
        .order_by(ListVersion.valid_from.desc())
        .limit(1)
    )


def placeholder_name(nda: str) -> str:
    return f"Organisme NDA {nda}"


def follow(
    actor: User, provider: Provider, *, reason: str, label: str | None = None
) -> FunderProvider | None:
    """Make the actor's funder follow `provider` (None when it already does)."""
    if not may_follow(actor):
        raise NotAllowed("Seul un administrateur du financeur peut suivre un organisme.")
    if provider.id is not None and is_followed(actor.funder_id, provider.id):
        return None
    link = FunderProvider(funder_id=actor.funder_id, provider=provider, label=label or None)
    db.session.add(link)
    db.session.flush()
    audit.record(
        "provider.followed",
        actor=actor,
        target=provider,
        funder_id=actor.funder_id,
        details={"nda": provider.nda, "reason": reason, "label": label or None},
    )
    _tell_the_of(actor, provider)
    return link


def _tell_the_of(actor: User, provider: Provider) -> None:
    funder = db.session.get(Funder, actor.funder_id)
    users = db.session.scalars(
        select(User).where(
            User.provider_id == provider.id,
            User.role == Role.PROVIDER,
            User.is_active.is_(True),
        )
    ).all()
    for user in users:
        send_mail(
            user.email,
            f"{funder.name} suit désormais votre organisme sur le portail",
            "mail/provider_followed.txt",
            user=user,
            funder=funder,
            provider=provider,
            link=absolute_url("home.index"),
        )


@dataclass(frozen=True)
class Follower:
    funder_name: str
    since: datetime


def followers(provider_id: int) -> list[Follower]:
    """The funders that follow an OF, and since when (for the OF's own space)."""
    rows = db.session.execute(
        select(Funder.name, FunderProvider.created_at)
        .join(FunderProvider, FunderProvider.funder_id == Funder.id)
        .where(FunderProvider.provider_id == provider_id)
        .order_by(FunderProvider.created_at, Funder.name)
    ).all()
    return [Follower(name, since) for name, since in rows]
