"""Alerts after an import: a followed OF lost a category or left the list.

Until dossiers exist, "the OF a funder is concerned by" are the OF it follows
(`funder_providers`); the dossiers issue narrows this to OF with open dossiers and the
categories they are funded for, and names the dossiers at stake.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.mailing import send_mail
from portal.models import (
    FUNDER_ROLES,
    Funder,
    FunderProvider,
    ListChange,
    ListImport,
    Provider,
    QualiopiAlert,
    User,
)


@dataclass
class _Loss:
    left_list: bool = False
    lost: list[str] = field(default_factory=list)


def raise_alerts(run: ListImport) -> list[QualiopiAlert]:
    """Create the alerts of one import and mail them to the funders' controllers."""
    losses: dict[str, _Loss] = defaultdict(_Loss)
    for change in db.session.scalars(
        select(ListChange).where(
            ListChange.import_id == run.id, ListChange.kind.in_(("removed", "category_lost"))
        )
    ):
        loss = losses[change.nda]
        if change.kind == "removed":
            loss.left_list = True
        elif change.category:
            loss.lost.append(change.category)
    if not losses:
        return []
    followed = db.session.execute(
        select(FunderProvider.funder_id, Provider)
        .join(Provider, Provider.id == FunderProvider.provider_id)
        .where(Provider.nda.in_(list(losses)))
    ).all()
    alerts = []
    for funder_id, provider in followed:
        loss = losses[provider.nda]
        alert = QualiopiAlert(
            funder_id=funder_id,
            provider_id=provider.id,
            import_id=run.id,
            nda=provider.nda,
            left_list=loss.left_list,
            lost_categories=",".join(loss.lost),
            list_as_of=run.as_of,
        )
        db.session.add(alert)
        alerts.append(alert)
        audit.record(
            "qualiopi.alert_raised",
            actor_label="import de la liste publique",
            target=alert,
            funder_id=funder_id,
            details={"nda": provider.nda, "left_list": loss.left_list, "lost": loss.lost},
        )
    db.session.commit()
    _mail(alerts)
    return alerts


def _mail(alerts: list[QualiopiAlert]) -> None:
    by_funder: dict[int, list[QualiopiAlert]] = defaultdict(list)
    for alert in alerts:
        by_funder[alert.funder_id].append(alert)
    for funder_id, funder_alerts in by_funder.items():
        funder = db.session.get(Funder, funder_id)
        recipients = db.session.scalars(
            select(User).where(
                User.funder_id == funder_id,
                User.role.in_([r.value for r in FUNDER_ROLES]),
                User.is_active.is_(True),
                User.password_hash.is_not(None),
            )
        ).all()
        for user in recipients:
            send_mail(
                user.email,
                f"Qualiopi : {len(funder_alerts)} organisme(s) suivi(s) à vérifier",
                "qualiopi/mail_alerts.txt",
                user=user,
                funder=funder,
                alerts=funder_alerts,
            )
