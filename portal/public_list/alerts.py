"""Alerts after an import: an OF with open dossiers lost the category they are funded
for, or left the list.

One alert per funder, OF and import, raised only when at least one of the funder's open
dossiers (`en_cours`) with that OF is at stake: its category is one the OF lost, or the OF
left the list (every open dossier then). The alert names those dossiers; the funder's
active users are mailed once per import with all of their alerts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from portal import audit, formatting
from portal.extensions import db
from portal.mailing import send_mail
from portal.models import (
    FUNDER_ROLES,
    Dossier,
    DossierStatus,
    Funder,
    ListChange,
    ListImport,
    Provider,
    QualiopiAlert,
    User,
    WebhookEvent,
)
from portal.webhooks import outbox


@dataclass
class Loss:
    """What an NDA lost in one import."""

    left_list: bool = False
    lost: list[str] = field(default_factory=list)

    def puts_at_stake(self, category: str) -> bool:
        """Whether a dossier funded for `category` can no longer be paid on this list."""
        return self.left_list or category in self.lost


def losses_of(run: ListImport) -> dict[str, Loss]:
    """The NDA that left the list or lost a category in this import."""
    losses: dict[str, Loss] = defaultdict(Loss)
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
    return dict(losses)


def raise_alerts(run: ListImport) -> list[QualiopiAlert]:
    """Create the alerts of one import and mail them to the funders' users."""
    losses = losses_of(run)
    if not losses:
        return []
    open_dossiers = db.session.execute(
        select(Dossier, Provider)
        .join(Provider, Provider.id == Dossier.provider_id)
        .where(Provider.nda.in_(list(losses)), Dossier.status == DossierStatus.OPEN.value)
        .order_by(Dossier.funder_id, Provider.id, Dossier.reference)
    ).all()
    at_stake: dict[tuple[int, Provider], list[Dossier]] = defaultdict(list)
    for dossier, provider in open_dossiers:
        if losses[provider.nda].puts_at_stake(dossier.category):
            at_stake[(dossier.funder_id, provider)].append(dossier)

    alerts = []
    for (funder_id, provider), dossiers in at_stake.items():
        loss = losses[provider.nda]
        alert = QualiopiAlert(
            funder_id=funder_id,
            provider_id=provider.id,
            import_id=run.id,
            nda=provider.nda,
            left_list=loss.left_list,
            lost_categories=",".join(loss.lost),
            list_as_of=run.as_of,
            dossiers=dossiers,
        )
        db.session.add(alert)
        alerts.append(alert)
        audit.record(
            "qualiopi.alert_raised",
            actor_label="import de la liste publique",
            target=alert,
            funder_id=funder_id,
            details={
                "nda": provider.nda,
                "left_list": loss.left_list,
                "lost": loss.lost,
                "dossiers": [d.reference for d in dossiers],
            },
        )
        db.session.flush()
        outbox.emit(
            WebhookEvent.ALERT_CREATED,
            funder_id=funder_id,
            ordering_key=f"alert:{provider.id}",
            data={
                "alert_id": alert.id,
                "nda": provider.nda,
                "provider_name": provider.name,
                "left_list": loss.left_list,
                "lost_categories": list(loss.lost),
                "list_as_of": run.as_of.isoformat(),
                "dossiers": [{"id": d.id, "reference": d.reference} for d in dossiers],
            },
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
                "Qualiopi : "
                + formatting.plural(len(funder_alerts), "organisme", "organismes")
                + " à vérifier avant paiement",
                "public_list/mail_alerts.txt",
                user=user,
                funder=funder,
                alerts=funder_alerts,
            )
