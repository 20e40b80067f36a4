"""Lists of signalements: the ministry's inbox (filters, counts per state, the stale ones),
the funder's list, an OF's page, and the exports.

Everything starts from `access.signalements_scope`: a funder's own, or for the ministry
those sent (of its region for a regional liaison). A list page costs a fixed number of
queries whatever its length (the OF, the funder and the indicators are loaded with it).

Export columns (`EXPORT_COLUMNS`), stable: new columns are only ever added at the end.

=============================  ==============================================================
``reference``                  SIG-00042
``etat``                       the state's French label
``financeur``                  the funder's name
``organisme_nda``              NDA of the OF (text)
``organisme_denomination``     name of the OF
``region``                     the OF's region code in the public list (INSEE)
``indicateurs``                RNQ indicator numbers, ``4 ; 10 ; 26``
``indicateurs_majeurs``        those of them whose breach can only be major
``gravite``                    moderee, serieuse or grave
``dossiers``                   the funder's dossier references, ``;``-separated
``preuves``                    number of pieces of evidence
``transmis_le``                date sent to the ministry (Paris)
``anciennete_jours``           days since then (until closing)
``pris_en_charge_le``          date taken in charge
``correspondant``              the liaison in charge (e-mail)
``complement_demande_le``      last request for more information
``certificateur``              the certifier it was forwarded to
``transmis_certificateur_le``  date of the transmission to the certifier
``reference_certificateur``    its reference
``issue``                      transmis_certificateur, sans_suite or fusionne
``motif``                      the coded reason of a "sans suite"
``precision``                  the reason in words, or the note of a merge
``fusionne_avec``              SIG-… it was merged with
``clos_le``                    date closed
=============================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal import clock, rnq
from portal.access import signalements_scope
from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    SIGNALEMENT_STATE_LABELS,
    Funder,
    Provider,
    Role,
    Signalement,
    SignalementEvidence,
    SignalementIndicator,
    SignalementState,
    User,
)
from portal.signalements import workflow

DEFAULT_STALE_DAYS = 30
PER_PAGE = 50
SEVERAL_FUNDERS_WINDOW = timedelta(days=365)

EXPORT_COLUMNS: tuple[str, ...] = (
    "reference",
    "etat",
    "financeur",
    "organisme_nda",
    "organisme_denomination",
    "region",
    "indicateurs",
    "indicateurs_majeurs",
    "gravite",
    "dossiers",
    "preuves",
    "transmis_le",
    "anciennete_jours",
    "pris_en_charge_le",
    "correspondant",
    "complement_demande_le",
    "certificateur",
    "transmis_certificateur_le",
    "reference_certificateur",
    "issue",
    "motif",
    "precision",
    "fusionne_avec",
    "clos_le",
)


def stale_days() -> int:
    """`SIGNALEMENT_STALE_DAYS`: a signalement sent longer ago and not closed is flagged."""
    return int(current_app.config.get("SIGNALEMENT_STALE_DAYS") or DEFAULT_STALE_DAYS)


@dataclass(frozen=True)
class Filters:
    state: str = ""
    region: str = ""
    provider: str = ""  # NDA or part of the name
    indicator: int | None = None
    funder_id: int | None = None
    older_than: int | None = None  # days since sent
    stale: bool = False

    def args(self) -> dict[str, str]:
        """The query string that reproduces them (tabs, pages, exports)."""
        values = {
            "etat": self.state,
            "region": self.region,
            "organisme": self.provider,
            "indicateur": str(self.indicator or ""),
            "financeur": str(self.funder_id or ""),
            "anciennete": str(self.older_than or ""),
            "en_retard": "1" if self.stale else "",
        }
        return {key: value for key, value in values.items() if value}


def _int(value: Any, low: int, high: int) -> int | None:
    text = str(value or "").strip()
    if not text.isdigit():
        return None
    number = int(text)
    return number if low <= number <= high else None


def read_filters(args: Any, user: User) -> Filters:
    """The filters from a query string; unknown values are ignored, never an error."""
    state = str(args.get("etat") or "")
    if state not in {s.value for s in SignalementState}:
        state = ""
    region = str(args.get("region") or "").strip()
    if user.role == Role.MINISTRY and user.region_code:
        region = ""  # the scope already is the liaison's region
    return Filters(
        state=state,
        region=region[:3],
        provider=" ".join(str(args.get("organisme") or "").split())[:100],
        indicator=_int(args.get("indicateur"), 1, rnq.INDICATORS_COUNT),
        funder_id=_int(args.get("financeur"), 1, 2**31 - 1),
        older_than=_int(args.get("anciennete"), 1, 36500),
        stale=str(args.get("en_retard") or "") == "1",
    )


def _filtered(user: User, filters: Filters, *, with_state: bool = True) -> Select:
    query = signalements_scope(user)
    if with_state and filters.state:
        query = query.where(Signalement.state == filters.state)
    if filters.region:
        query = query.where(Signalement.region_code == filters.region)
    if filters.provider:
        text = filters.provider
        matching = select(Provider.id).where(
            or_(
                Provider.nda == text.replace(" ", ""),
                Provider.name.icontains(text, autoescape=True),
            )
        )
        query = query.where(Signalement.provider_id.in_(matching))
    if filters.indicator:
        query = query.where(
            Signalement.id.in_(
                select(SignalementIndicator.signalement_id).where(
                    SignalementIndicator.number == filters.indicator
                )
            )
        )
    if filters.funder_id:
        query = query.where(Signalement.funder_id == filters.funder_id)
    now = utcnow()
    if filters.older_than:
        query = query.where(Signalement.sent_at <= now - timedelta(days=filters.older_than))
    if filters.stale:
        query = query.where(
            Signalement.state != SignalementState.CLOSED.value,
            Signalement.sent_at <= now - timedelta(days=stale_days()),
        )
    return query


def _ordered(query: Select, user: User) -> Select:
    if user.role == Role.MINISTRY:
        # The oldest waiting first would bury the new ones: newest sent first, as a mailbox.
        return query.order_by(Signalement.sent_at.desc(), Signalement.id.desc())
    return query.order_by(Signalement.updated_at.desc(), Signalement.id.desc())


def _with_relations(query: Select) -> Select:
    return query.options(
        joinedload(Signalement.provider),
        joinedload(Signalement.funder),
        selectinload(Signalement.indicator_rows),
    )


def page(user: User, filters: Filters, number: int = 1, per_page: int = PER_PAGE):
    """One page of the list (Flask-SQLAlchemy pagination)."""
    return db.paginate(
        _with_relations(_ordered(_filtered(user, filters), user)),
        page=max(number, 1),
        per_page=per_page,
        error_out=False,
    )


def count(user: User, filters: Filters) -> Select[tuple[int]]:
    """The number of signalements the list shows under `filters`, as a statement (the home
    page puts it in its one query of counts)."""
    return _filtered(user, filters).with_only_columns(func.count(Signalement.id))


def state_counts(user: User, filters: Filters) -> dict[str, int]:
    """How many per state under the other filters (one query), every state listed."""
    inner = _filtered(user, filters, with_state=False).with_only_columns(Signalement.state)
    sub = inner.subquery()
    rows = db.session.execute(select(sub.c.state, func.count()).group_by(sub.c.state)).all()
    counts = {state.value: 0 for state in SignalementState}
    counts.update({state: count for state, count in rows})
    return counts


def visible_states(user: User) -> list[SignalementState]:
    if user.role == Role.MINISTRY:
        return [s for s in SignalementState if s not in workflow.FUNDER_ONLY_STATES]
    return list(SignalementState)


def is_stale(
    signalement: Signalement, now: datetime | None = None, days: int | None = None
) -> bool:
    if signalement.state == SignalementState.CLOSED or signalement.sent_at is None:
        return False
    now = now or utcnow()
    return now - signalement.sent_at > timedelta(days=days if days is not None else stale_days())


def age_days(signalement: Signalement, now: datetime | None = None) -> int | None:
    """Days since it was sent, until it was closed."""
    if signalement.sent_at is None:
        return None
    end = signalement.closed_at or now or utcnow()
    return (end - signalement.sent_at).days


def several_funders(user: User, provider_ids: Sequence[int]) -> dict[int, int]:
    """For each OF among `provider_ids` reported by at least two funders within a year (in
    the user's scope), how many funders; one query."""
    ids = sorted(set(provider_ids))
    if not ids:
        return {}
    since = utcnow() - SEVERAL_FUNDERS_WINDOW
    scoped = (
        signalements_scope(user)
        .where(Signalement.provider_id.in_(ids), Signalement.sent_at >= since)
        .with_only_columns(Signalement.provider_id, Signalement.funder_id)
        .subquery()
    )
    rows = db.session.execute(
        select(scoped.c.provider_id, func.count(func.distinct(scoped.c.funder_id)))
        .group_by(scoped.c.provider_id)
        .having(func.count(func.distinct(scoped.c.funder_id)) >= 2)
    ).all()
    return {provider_id: count for provider_id, count in rows}


def funder_choices(user: User) -> list[tuple[int, str]]:
    """The funders that sent something in the user's scope (for the filter)."""
    scoped = signalements_scope(user).with_only_columns(Signalement.funder_id).subquery()
    rows = db.session.execute(
        select(Funder.id, Funder.name)
        .where(Funder.id.in_(select(scoped.c.funder_id)))
        .order_by(Funder.name)
    ).all()
    return [(row.id, row.name) for row in rows]


# --- An OF's page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderReport:
    provider: Provider
    signalements: list[Signalement]
    funders_within_year: int  # distinct funders that sent one within a year

    @property
    def several_funders(self) -> bool:
        return self.funders_within_year >= 2


def provider_report(user: User, provider: Provider) -> ProviderReport:
    rows = list(
        db.session.scalars(
            _with_relations(
                signalements_scope(user)
                .where(Signalement.provider_id == provider.id)
                .order_by(Signalement.sent_at.desc(), Signalement.id.desc())
            )
        )
    )
    since = utcnow() - SEVERAL_FUNDERS_WINDOW
    recent = {s.funder_id for s in rows if s.sent_at is not None and s.sent_at >= since}
    return ProviderReport(provider, rows, len(recent))


# --- Exports -----------------------------------------------------------------------------------


def _day(moment: datetime | None) -> date | None:
    return clock.local(moment).date() if moment is not None else None


def export_rows(user: User, filters: Filters) -> Iterator[tuple[Any, ...]]:
    """The rows of the export, in the list's order, in batches (a few queries per 500)."""
    query = _ordered(_filtered(user, filters), user).options(
        joinedload(Signalement.provider),
        joinedload(Signalement.funder),
        joinedload(Signalement.ministry_assignee),
        selectinload(Signalement.indicator_rows),
        selectinload(Signalement.dossiers),
    )
    now = utcnow()
    offset = 0
    batch = 500
    while True:
        rows = list(db.session.scalars(query.limit(batch).offset(offset)).unique())
        if not rows:
            return
        counts = dict(
            db.session.execute(
                select(SignalementEvidence.signalement_id, func.count())
                .where(SignalementEvidence.signalement_id.in_([s.id for s in rows]))
                .group_by(SignalementEvidence.signalement_id)
            ).all()
        )
        for s in rows:
            yield _export_row(s, counts.get(s.id, 0), now)
        offset += batch


def _export_row(s: Signalement, evidence_count: int, now: datetime) -> tuple[Any, ...]:
    numbers = s.indicators
    return (
        s.reference,
        SIGNALEMENT_STATE_LABELS[SignalementState(s.state)],
        s.funder.name,
        s.provider.nda,
        s.provider.name,
        s.region_code or "",
        " ; ".join(str(n) for n in numbers),
        " ; ".join(str(n) for n in numbers if rnq.is_major_only(n)),
        s.seriousness,
        " ; ".join(d.reference for d in s.dossiers),
        evidence_count,
        _day(s.sent_at),
        age_days(s, now),
        _day(s.taken_at),
        s.ministry_assignee.email if s.ministry_assignee else "",
        _day(s.info_requested_at),
        s.certifier_name or "",
        s.certifier_sent_on,
        s.certifier_reference or "",
        s.outcome or "",
        s.outcome_reason_code or "",
        s.outcome_reason or "",
        f"SIG-{s.merged_into_id:05d}" if s.merged_into_id else "",
        _day(s.closed_at),
    )
