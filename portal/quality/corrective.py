"""Corrective actions of the non-conformities of a quality control.

Once the report of a control is issued (status REPORTED), each non-conformity (NC) has a
deadline (`rules.nc_deadline`) and a state (`rules.NcStatus`):

- the OF answers it in its space: an action plan and, optionally, proof files (checked by
  their content: a refused file leaves everything as it was) → a `CorrectiveMessage` of kind
  "plan", the NC goes to "reponse", the controllers of the lead funder are mailed;
- a funder taking part in the control (lead or partner) lifts it ("levee") or keeps it
  ("maintenue", with a reason: the OF answers again); the OF's users are mailed. When every
  NC of the control is lifted, the control is closed.

The funders see the NC still open of the controls they take part in, overdue first
(`open_nonconformities`).

No request is read here: the views pass the acting user, what was typed and the files. Each
change is checked (role, state, version of the row), audited, committed once, and mailed
after the commit (a mail that cannot leave is logged and undoes nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from portal import audit
from portal.access import (
    can_answer_quality_control,
    can_edit_quality_control,
    quality_controls_scope,
)
from portal.clock import utcnow
from portal.errors import NotAllowed, Refused, Stale
from portal.extensions import db
from portal.mailing import absolute_url, send_mail
from portal.models import (
    CorrectiveKind,
    CorrectiveMessage,
    Provider,
    QualityControl,
    QualityControlPartner,
    QualityControlStatus,
    QualityFinding,
    Role,
    User,
)
from portal.pagination import PageNumbers
from portal.quality.rules import NONCONFORMITIES, Finding, NcStatus, is_overdue
from portal.routing import database_id
from portal.storage import Storage, storage_for
from portal.uploads import (
    UploadLike,
    UploadsRefused,
    discard_stored,
    max_files_per_upload,
    max_upload_bytes,
    store_all,
    too_many_files,
)

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 10_000
PER_PAGE = 50

STALE = (
    "Cette non-conformité a été modifiée entre-temps par quelqu'un d'autre : rien n'a été "
    "enregistré. Voici son état actuel ; reprenez votre saisie si elle est toujours utile."
)
NOT_ANSWERABLE = (
    "Cette non-conformité n'attend pas de réponse de votre part : elle est levée, ou votre "
    "réponse est en cours d'examen par le contrôleur."
)
NOT_DECIDABLE = (
    "Cette non-conformité ne peut plus faire l'objet d'une décision : elle est déjà levée, "
    "ou le rapport du contrôle n'est pas émis."
)
ALREADY_KEPT = (
    "Cette non-conformité est déjà maintenue : l'organisme doit d'abord répondre de nouveau."
)
MISSING_PLAN = (
    "Décrivez votre plan d'action : ce qui a été corrigé ou va l'être, comment, et quand."
)
MISSING_REASON = (
    "Dites pourquoi la non-conformité est maintenue : l'organisme doit savoir ce qu'il lui "
    "reste à corriger."
)
TOO_LONG = f"Au plus {MAX_TEXT_LENGTH} caractères."

LIFT = "lever"
KEEP = "maintenir"
DECISIONS = {LIFT: "Lever la non-conformité", KEEP: "Maintenir la non-conformité"}


# --- What may be done ------------------------------------------------------------------------


def is_nonconformity(finding: QualityFinding) -> bool:
    return finding.finding in {f.value for f in NONCONFORMITIES}


def answerable(finding: QualityFinding) -> bool:
    """The OF may send its action plan: the report is issued, the NC is waiting for it."""
    return (
        finding.control.status == QualityControlStatus.REPORTED.value
        and is_nonconformity(finding)
        and finding.nc_status in (NcStatus.OPEN.value, NcStatus.KEPT.value)
    )


def decidable(finding: QualityFinding) -> bool:
    """A funder taking part may lift or keep it: the report is issued, it is not lifted."""
    return (
        finding.control.status == QualityControlStatus.REPORTED.value
        and is_nonconformity(finding)
        and finding.nc_status not in (None, NcStatus.LIFTED.value)
    )


def _check_version(finding: QualityFinding, version: int | str | None) -> None:
    """The form's version must be the row's: otherwise someone saved in between."""
    if str(version or "").strip() != str(finding.version):
        raise Stale(STALE)


def _text_errors(text: str, name: str, missing: str | None) -> dict[str, list[str]]:
    if not text and missing:
        return {name: [missing]}
    if len(text) > MAX_TEXT_LENGTH:
        return {name: [TOO_LONG]}
    return {}


def _context(finding: QualityFinding) -> dict[str, object]:
    control = finding.control
    return {"control_id": control.id, "code": finding.code, "finding_id": finding.id}


# --- The OF answers ----------------------------------------------------------------------------


def answer(
    actor: User,
    finding: QualityFinding,
    *,
    text: str,
    files: Sequence[UploadLike | None] = (),
    version: int | str | None,
    storage: Storage | None = None,
    max_bytes: int | None = None,
) -> CorrectiveMessage:
    """The OF's action plan and proof for one NC: the NC waits for the controller's
    decision, the controllers of the lead funder are mailed. Commits."""
    control = finding.control
    if not can_answer_quality_control(actor, control):
        raise NotAllowed
    if not answerable(finding):
        raise Refused(general=NOT_ANSWERABLE)
    _check_version(finding, version)
    text = (text or "").strip()
    errors = _text_errors(text, "plan", MISSING_PLAN)
    chosen = [f for f in files if f is not None and (f.filename or "")]
    if len(chosen) > max_files_per_upload():
        errors["files"] = [too_many_files(max_files_per_upload())]
    if errors:
        raise Refused(errors)
    storage = storage or storage_for(current_app)
    try:
        stored = store_all(storage, chosen, max_bytes=max_bytes or max_upload_bytes())
    except UploadsRefused as refused:
        raise Refused({"files": refused.messages}, refused_files=refused.refused) from None
    try:
        message = CorrectiveMessage(
            author_id=actor.id,
            kind=CorrectiveKind.PLAN.value,
            body=text,
            documents=[s.as_document(actor.id) for s in stored],
        )
        finding.messages.append(message)
        finding.nc_status = NcStatus.ANSWERED.value
        finding.updated_at = utcnow()
        finding.updated_by_id = actor.id
        db.session.flush()
        audit.record(
            "quality.nc_answered",
            actor=actor,
            target=finding,
            funder_id=control.funder_id,
            details={
                **_context(finding),
                "message_id": message.id,
                "files": [
                    {"name": s.original_name, "sha256": s.sha256, "size": s.size} for s in stored
                ],
            },
        )
    except BaseException:
        discard_stored(storage, [s.key for s in stored])
        raise
    _mail_funder(control, finding, text)
    return message


def record_refusal(actor: User, finding: QualityFinding, refused: Refused) -> None:
    """Audit files refused by their content (possibly an attack), kept when the refused
    change is rolled back."""
    if not refused.refused_files:
        return
    audit.record_refusal(
        "quality.upload_refused",
        actor=actor,
        target=finding,
        funder_id=finding.control.funder_id,
        details={
            **_context(finding),
            "reasons": [reason for _, reason in refused.refused_files],
        },
    )


# --- A funder decides --------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    message: CorrectiveMessage
    closed: bool  # the control was closed: every NC is lifted


def decide(
    actor: User,
    finding: QualityFinding,
    decision: str,
    *,
    reason: str = "",
    version: int | str | None,
) -> Decision:
    """Lift or keep one NC (a reason is needed to keep it); the OF's users are mailed.
    Lifting the last NC not lifted closes the control. Commits."""
    control = finding.control
    if not can_edit_quality_control(actor, control):
        raise NotAllowed
    if not decidable(finding):
        raise Refused(general=NOT_DECIDABLE)
    _check_version(finding, version)
    reason = (reason or "").strip()
    if decision not in DECISIONS:
        raise Refused({"decision": ["Choisissez de lever ou de maintenir."]})
    if decision == KEEP and finding.nc_status == NcStatus.KEPT.value:
        raise Refused(general=ALREADY_KEPT)
    errors = _text_errors(reason, "motif", MISSING_REASON if decision == KEEP else None)
    if errors:
        raise Refused(errors)
    now = utcnow()
    lifted = decision == LIFT
    before = finding.nc_status
    message = CorrectiveMessage(
        author_id=actor.id,
        kind=(CorrectiveKind.LIFTED if lifted else CorrectiveKind.KEPT).value,
        body=reason,
    )
    finding.messages.append(message)
    finding.nc_status = (NcStatus.LIFTED if lifted else NcStatus.KEPT).value
    finding.decided_at = now
    finding.decided_by_id = actor.id
    finding.updated_at = now
    finding.updated_by_id = actor.id
    db.session.flush()
    audit.record(
        "quality.nc_lifted" if lifted else "quality.nc_kept",
        actor=actor,
        target=finding,
        funder_id=control.funder_id,
        details={
            **_context(finding),
            "from": before,
            "to": finding.nc_status,
            "reason": reason,
            "message_id": message.id,
        },
    )
    closed = False
    if lifted and all(
        f.nc_status == NcStatus.LIFTED.value for f in control.findings if is_nonconformity(f)
    ):
        control.status = QualityControlStatus.CLOSED.value
        control.closed_at = now
        control.updated_at = now
        audit.record(
            "quality.control_closed",
            actor=actor,
            target=control,
            funder_id=control.funder_id,
            details={"reason": "toutes les non-conformités sont levées"},
        )
        closed = True
    _mail_provider(control, finding, reason, closed)
    return Decision(message, closed)


# --- Mails -------------------------------------------------------------------------------------


def _active(query: Select[tuple[User]]) -> list[User]:
    return list(
        db.session.scalars(
            query.where(User.is_active.is_(True), User.password_hash.is_not(None)).order_by(User.id)
        )
    )


def funder_recipients(control: QualityControl) -> list[User]:
    """The controllers of the lead funder (its admins when it has no controller)."""
    base = select(User).where(User.funder_id == control.funder_id)
    return _active(base.where(User.role == Role.CONTROLLER.value)) or _active(
        base.where(User.role == Role.FUNDER_ADMIN.value)
    )


def provider_recipients(control: QualityControl) -> list[User]:
    return _active(
        select(User).where(
            User.provider_id == control.provider_id, User.role == Role.PROVIDER.value
        )
    )


def _send(users: Sequence[User], subject: str, template: str, **context: object) -> None:
    for user in users:
        try:
            send_mail(user.email, subject, template, user=user, **context)
        except Exception:
            logger.exception("Échec de l'envoi du courriel « %s » à %s.", subject, user.email)


def _mail_funder(control: QualityControl, finding: QualityFinding, text: str) -> None:
    _send(
        funder_recipients(control),
        f"Contrôle qualité : réponse de {control.provider.name} à une non-conformité",
        "quality/mail_nc_answered.txt",
        control=control,
        finding=finding,
        level=level_label(finding),
        text=text,
        link=absolute_url("quality.nonconformities", statut=NcStatus.ANSWERED.value),
    )


def _mail_provider(
    control: QualityControl, finding: QualityFinding, reason: str, closed: bool
) -> None:
    lifted = finding.nc_status == NcStatus.LIFTED.value
    _send(
        provider_recipients(control),
        "Contrôle qualité : non-conformité " + ("levée" if lifted else "maintenue"),
        "quality/mail_nc_decided.txt",
        control=control,
        finding=finding,
        level=level_label(finding),
        lifted=lifted,
        reason=reason,
        closed=closed,
        link=absolute_url("quality.provider_index"),
    )


# --- Lists -------------------------------------------------------------------------------------


def provider_controls(actor: User) -> list[QualityControl]:
    """The OF's controls whose report is issued, newest first, with their grid rows, the
    messages of the NC and their files (a fixed number of queries)."""
    return list(
        db.session.scalars(
            quality_controls_scope(actor)
            .options(
                joinedload(QualityControl.funder),
                selectinload(QualityControl.findings)
                .selectinload(QualityFinding.messages)
                .options(
                    joinedload(CorrectiveMessage.author),
                    selectinload(CorrectiveMessage.documents),
                ),
            )
            .order_by(QualityControl.control_date.desc(), QualityControl.id.desc())
        )
    )


def awaiting_answer(actor: User) -> list[QualityFinding]:
    """The non-conformities of the OF's reported controls that wait for its action plan
    (open, or kept by the controller), earliest deadline first (for its home page)."""
    if actor.role != Role.PROVIDER or actor.provider_id is None:
        return []
    scope = quality_controls_scope(actor).with_only_columns(QualityControl.id)
    return list(
        db.session.scalars(
            select(QualityFinding)
            .where(
                QualityFinding.control_id.in_(scope),
                QualityFinding.finding.in_([f.value for f in NONCONFORMITIES]),
                QualityFinding.nc_status.in_([NcStatus.OPEN.value, NcStatus.KEPT.value]),
            )
            .options(joinedload(QualityFinding.control).joinedload(QualityControl.funder))
            .order_by(QualityFinding.deadline, QualityFinding.id)
        )
    )


@dataclass
class NcFilters:
    """The filters of the list of open NC (query-string names are French)."""

    status: str = ""  # one of the NcStatus not lifted, or "" for all of them
    level: str = ""  # nc_mineure / nc_majeure
    provider_id: int | None = None
    overdue_only: bool = False
    errors: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, args: Mapping[str, str]) -> NcFilters:
        filters = cls()
        status = (args.get("statut") or "").strip()
        if status in OPEN_STATUSES:
            filters.status = status
        level = (args.get("niveau") or "").strip()
        if level in {f.value for f in NONCONFORMITIES}:
            filters.level = level
        provider = (args.get("organisme") or "").strip()
        filters.provider_id = database_id(provider)
        filters.overdue_only = (args.get("retard") or "") == "1"
        return filters

    def args(self) -> dict[str, str]:
        values = {
            "statut": self.status,
            "niveau": self.level,
            "organisme": str(self.provider_id or ""),
            "retard": "1" if self.overdue_only else "",
        }
        return {k: v for k, v in values.items() if v}


OPEN_STATUSES = (NcStatus.OPEN.value, NcStatus.ANSWERED.value, NcStatus.KEPT.value)


@dataclass(frozen=True)
class NcPage(PageNumbers):
    items: list[QualityFinding]
    total: int
    overdue: int  # of the whole list, not only this page
    page: int
    per_page: int


def _taking_part(actor: User) -> Select[tuple[int]]:
    partner = select(QualityControlPartner.control_id).where(
        QualityControlPartner.funder_id == actor.funder_id
    )
    return select(QualityControl.id).where(
        or_(QualityControl.funder_id == actor.funder_id, QualityControl.id.in_(partner))
    )


def _nc_conditions(actor: User, filters: NcFilters, today: date) -> list[Any]:
    conditions = [
        QualityFinding.control_id.in_(_taking_part(actor)),
        QualityControl.status == QualityControlStatus.REPORTED.value,
        QualityFinding.finding.in_([f.value for f in NONCONFORMITIES]),
        QualityFinding.nc_status.in_(OPEN_STATUSES),
    ]
    if filters.status:
        conditions.append(QualityFinding.nc_status == filters.status)
    if filters.level:
        conditions.append(QualityFinding.finding == filters.level)
    if filters.provider_id:
        conditions.append(QualityControl.provider_id == filters.provider_id)
    if filters.overdue_only:
        conditions.append(_late(today))
    return conditions


def _late(today: date) -> Any:
    return and_(QualityFinding.deadline.is_not(None), QualityFinding.deadline < today)


def count_nonconformities(actor: User, filters: NcFilters, today: date) -> Select[tuple[int]]:
    """The number of NC of the list :func:`open_nonconformities` shows under `filters`, as a
    statement (the home page puts it in its one query of counts)."""
    return (
        select(func.count(QualityFinding.id))
        .join(QualityControl, QualityControl.id == QualityFinding.control_id)
        .where(*_nc_conditions(actor, filters, today))
    )


def open_nonconformities(
    actor: User, filters: NcFilters, today: date, page: int = 1, per_page: int = PER_PAGE
) -> NcPage:
    """The NC not lifted of the reported controls the actor's funder takes part in (lead
    or partner), overdue first, then by deadline. Three queries whatever the page."""
    conditions = _nc_conditions(actor, filters, today)
    late = _late(today)
    joined = select(QualityFinding).join(
        QualityControl, QualityControl.id == QualityFinding.control_id
    )
    counts = db.session.execute(
        joined.with_only_columns(func.count(QualityFinding.id), func.count(case((late, 1)))).where(
            *conditions
        )
    ).one()
    total, overdue = int(counts[0] or 0), int(counts[1] or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = db.session.scalars(
        joined.where(*conditions)
        .options(
            contains_eager(QualityFinding.control).options(
                joinedload(QualityControl.provider), joinedload(QualityControl.funder)
            )
        )
        .order_by(
            case((late, 0), else_=1),
            QualityFinding.deadline,
            QualityControl.control_date,
            QualityFinding.position,
            QualityFinding.id,
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return NcPage(list(rows.unique()), total, overdue, page, per_page)


def provider_choices(actor: User) -> list[Provider]:
    """The OF of the reported controls the actor's funder takes part in (for the filter)."""
    return list(
        db.session.scalars(
            select(Provider)
            .where(
                Provider.id.in_(
                    select(QualityControl.provider_id).where(
                        QualityControl.id.in_(_taking_part(actor)),
                        QualityControl.status == QualityControlStatus.REPORTED.value,
                    )
                )
            )
            .order_by(Provider.name, Provider.id)
        )
    )


def overdue(finding: QualityFinding, today: date) -> bool:
    return (
        is_nonconformity(finding)
        and finding.nc_status is not None
        and is_overdue(finding.deadline, finding.nc_status, today)
    )


def level_label(finding: QualityFinding) -> str:
    """« majeure » or « mineure », as the mails write a non-conformity's level."""
    return "majeure" if finding.finding == Finding.MAJOR.value else "mineure"
