"""Quality controls of an OF: planning, the grid of findings, evidence, the result and the
issue of the report.

No request here: the views pass the acting user and what was typed; each function checks,
changes the models, writes its audit event (`portal.audit.record`) and leaves the commit to
the caller (once). A refusal raises :class:`Refused` (French messages by field)
before anything is changed; a form carrying an old version raises :class:`Stale`.

The rules (findings allowed, deadlines, the result) are `portal.quality.rules`'; the grid
codes are `portal.rnq.indicator_codes`'. The access checks are `portal.access`': callers
load the control with `get_quality_control_or_404(..., need="edit")` first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal import audit, formatting, rnq
from portal.access import quality_controls_scope
from portal.clock import utcnow
from portal.errors import Refused, Stale
from portal.extensions import db
from portal.mailing import absolute_url, send_mail
from portal.models import (
    CONTROL_MODE_LABELS,
    PIECE_KIND_LABELS,
    PROFILE_FIELDS,
    QUALITY_CONTROL_STATUS_LABELS,
    ControlMode,
    CorrectiveMessage,
    Document,
    Dossier,
    Funder,
    FunderProvider,
    Piece,
    Provider,
    QualityControl,
    QualityControlPartner,
    QualityControlStatus,
    QualityEvidence,
    QualityFinding,
    Role,
    User,
)
from portal.pagination import PageNumbers
from portal.quality import rules
from portal.routing import database_id
from portal.uploads import StoredFile

PER_PAGE = 25

CONFLICT = (
    "Ce contrôle a été modifié entre-temps (dans une autre fenêtre ou par un autre "
    "contrôleur) : rien n'a été enregistré. Voici sa version actuelle : reportez vos "
    "changements."
)
FINDING_CONFLICT = (
    "Cet indicateur a été modifié entre-temps par quelqu'un d'autre : rien n'a été "
    "enregistré. Voici ce qui est enregistré maintenant : reportez vos changements."
)
FIXED = "Le rapport de ce contrôle est émis : les constats, les preuves et le périmètre sont figés."


def minors_per_major() -> int:
    """The setting QUALITY_MINORS_PER_MAJOR (5 by default, to confirm; 0: no requalification)."""
    value = current_app.config.get("QUALITY_MINORS_PER_MAJOR", rules.DEFAULT_MINORS_PER_MAJOR)
    try:
        return int(value)
    except (TypeError, ValueError):
        return rules.DEFAULT_MINORS_PER_MAJOR


# --- What a funder may choose when planning ------------------------------------------------------


def followed_providers(user: User) -> list[Provider]:
    """The OF the user's funder follows, by name."""
    return list(
        db.session.scalars(
            select(Provider)
            .join(FunderProvider, FunderProvider.provider_id == Provider.id)
            .where(FunderProvider.funder_id == user.funder_id)
            .order_by(Provider.name, Provider.id)
        )
    )


def partner_choices(user: User, lead_funder_id: int | None = None) -> list[Funder]:
    """The funders that may control together with the lead (every other active funder)."""
    lead = lead_funder_id if lead_funder_id is not None else user.funder_id
    return list(
        db.session.scalars(
            select(Funder)
            .where(Funder.id != lead, Funder.is_active.is_(True))
            .order_by(Funder.name)
        )
    )


def dossier_choices(user: User, provider_id: int | None) -> list[Dossier]:
    """The user's funder's dossiers of that OF: those it may sample."""
    if provider_id is None:
        return []
    return list(
        db.session.scalars(
            select(Dossier)
            .where(Dossier.funder_id == user.funder_id, Dossier.provider_id == provider_id)
            .order_by(Dossier.reference)
        )
    )


@dataclass
class PlanData:
    """What the planning form says (already typed: dates are dates, ids are ints)."""

    provider_id: int | None
    mode: str
    control_date: date | None
    scope_actions: str = ""
    participants: str = ""
    dossier_ids: set[int] = field(default_factory=set)
    partner_ids: set[int] = field(default_factory=set)
    profile: dict[str, bool] = field(default_factory=dict)
    certif_region: bool = False
    shared: bool = False

    def action_profile(self) -> rnq.ActionProfile:
        return rnq.ActionProfile(
            **{name: bool(self.profile.get(name)) for name, _ in PROFILE_FIELDS}
        )


def profile_of(control: QualityControl) -> rnq.ActionProfile:
    return rnq.ActionProfile(**{name: bool(getattr(control, name)) for name, _ in PROFILE_FIELDS})


def plan_values(control: QualityControl) -> dict[str, Any]:
    """The control as the planning form shows it."""
    values: dict[str, Any] = {
        "provider": control.provider_id,
        "mode": control.mode,
        "control_date": control.control_date,
        "scope_actions": control.scope_actions,
        "participants": control.participants,
        "dossiers": [d.id for d in control.dossiers],
        "partners": [p.funder_id for p in control.partners],
        "certif_region": control.certif_region,
        "shared": control.shared,
    }
    values.update({name: getattr(control, name) for name, _ in PROFILE_FIELDS})
    return values


def _check_plan(actor: User, data: PlanData, lead_funder_id: int) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if data.provider_id is None or not db.session.scalar(
        select(
            select(FunderProvider.id)
            .where(
                FunderProvider.funder_id == actor.funder_id,
                FunderProvider.provider_id == data.provider_id,
            )
            .exists()
        )
    ):
        errors["provider"] = ["Choisissez un organisme que votre financeur suit."]
    if data.mode not in {m.value for m in ControlMode}:
        errors["mode"] = ["Choisissez un contrôle sur site ou à distance."]
    if data.control_date is None:
        errors["control_date"] = ["Indiquez la date du contrôle."]
    if not data.scope_actions.strip():
        errors["scope_actions"] = ["Décrivez les actions contrôlées (intitulés, sessions)."]
    if data.dossier_ids and "provider" not in errors:
        allowed = {d.id for d in dossier_choices(actor, data.provider_id)}
        if not data.dossier_ids <= allowed:
            errors["dossiers"] = [
                "Seuls les dossiers de votre financeur avec cet organisme peuvent être "
                "échantillonnés."
            ]
    if data.partner_ids:
        if lead_funder_id in data.partner_ids:
            errors["partners"] = ["Le financeur qui pilote le contrôle n'est pas un partenaire."]
        else:
            known = set(
                db.session.scalars(
                    select(Funder.id).where(
                        Funder.id.in_(data.partner_ids), Funder.is_active.is_(True)
                    )
                )
            )
            if known != data.partner_ids:
                errors["partners"] = ["Financeur partenaire inconnu."]
    return errors


def _set_plan(control: QualityControl, data: PlanData) -> None:
    control.mode = data.mode
    control.scope_actions = data.scope_actions.strip()
    control.participants = data.participants.strip()
    for name, _ in PROFILE_FIELDS:
        setattr(control, name, bool(data.profile.get(name)))
    control.certif_region = data.certif_region
    control.shared = data.shared


def create_control(actor: User, data: PlanData) -> QualityControl:
    """Plan a control led by the actor's funder, with its grid (one row per applicable
    indicator code, in order). The caller commits."""
    errors = _check_plan(actor, data, actor.funder_id)
    if errors:
        raise Refused(errors)
    assert data.control_date is not None and data.provider_id is not None
    control = QualityControl(
        funder_id=actor.funder_id,
        provider_id=data.provider_id,
        created_by_id=actor.id,
        control_date=data.control_date,
        status=QualityControlStatus.PLANNED.value,
    )
    _set_plan(control, data)
    control.dossiers = _dossiers(data.dossier_ids)
    control.partners = [QualityControlPartner(funder_id=fid) for fid in sorted(data.partner_ids)]
    codes = rnq.indicator_codes(profile_of(control), certif_region=control.certif_region)
    control.findings = [QualityFinding(code=code, position=i) for i, code in enumerate(codes)]
    db.session.add(control)
    audit.record(
        "quality_control.created",
        actor=actor,
        target=control,
        funder_id=actor.funder_id,
        details={
            "provider_id": control.provider_id,
            "control_date": control.control_date.isoformat(),
            "mode": control.mode,
            "codes": codes,
            "dossiers": sorted(data.dossier_ids),
            "partners": sorted(data.partner_ids),
            "shared": control.shared,
        },
    )
    return control


def _dossiers(ids: Iterable[int]) -> list[Dossier]:
    ids = list(ids)
    if not ids:
        return []
    return list(db.session.scalars(select(Dossier).where(Dossier.id.in_(ids))))


def check_version(control: QualityControl, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != control.version:
        raise Stale(CONFLICT)


def refuse_if_fixed(control: QualityControl) -> None:
    if control.status != QualityControlStatus.PLANNED.value:
        raise Refused(general=FIXED)


def update_control(
    actor: User, control: QualityControl, data: PlanData, expected_version: int | None
) -> dict[str, Any]:
    """Change the plan of a control still planned. The grid follows the profile: rows are
    added, and rows without a finding removed; a row with a finding is never dropped (the
    change is refused). A new control date moves the deadlines of the non-conformities.
    Returns what changed (also in the audit event). The caller commits."""
    check_version(control, expected_version)
    refuse_if_fixed(control)
    data.provider_id = control.provider_id  # the OF of a control never changes
    errors = _check_plan(actor, data, control.funder_id)
    if errors:
        raise Refused(errors)
    assert data.control_date is not None
    before = plan_values(control)
    codes = rnq.indicator_codes(data.action_profile(), certif_region=data.certif_region)
    wanted = set(codes)
    kept_with_finding = [f for f in control.findings if f.code not in wanted and f.finding]
    if kept_with_finding:
        labels = ", ".join(rnq.code_label(f.code) for f in kept_with_finding)
        raise Refused(
            general=(
                f"Ce changement retirerait de la grille des indicateurs qui ont déjà un "
                f"constat ({labels}) : effacez d'abord ces constats, ou gardez le profil "
                "des actions."
            )
        )
    _set_plan(control, data)
    date_changed = control.control_date != data.control_date
    control.control_date = data.control_date
    # The sample: the actor's funder's dossiers are those of the form; others stay.
    own = {d.id for d in dossier_choices(actor, control.provider_id)}
    others = [d for d in control.dossiers if d.id not in own]
    control.dossiers = others + _dossiers(data.dossier_ids)
    current_partners = {p.funder_id: p for p in control.partners}
    control.partners = [
        current_partners.get(fid) or QualityControlPartner(funder_id=fid)
        for fid in sorted(data.partner_ids)
    ]
    added, removed = sync_grid(control, codes)
    if date_changed:
        recompute_deadlines(control)
    control.updated_at = utcnow()
    after = plan_values(control)
    changes = {
        key: {"avant": _plain(before[key]), "apres": _plain(after[key])}
        for key in after
        if before[key] != after[key]
    }
    audit.record(
        "quality_control.updated",
        actor=actor,
        target=control,
        funder_id=control.funder_id,
        details={"changes": changes, "codes_added": added, "codes_removed": removed},
    )
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return sorted(value)
    return value


def sync_grid(control: QualityControl, codes: Sequence[str]) -> tuple[list[str], list[str]]:
    """Make the grid hold exactly `codes`, in that order; rows without a finding that are no
    longer wanted are removed (the caller has refused to drop a row with a finding)."""
    by_code = {f.code: f for f in control.findings}
    wanted = set(codes)
    removed = [f.code for f in control.findings if f.code not in wanted]
    rows = []
    added = []
    for position, code in enumerate(codes):
        row = by_code.get(code)
        if row is None:
            row = QualityFinding(code=code, position=position)
            added.append(code)
        elif row.position != position:
            row.position = position
        rows.append(row)
    control.findings = rows
    return added, removed


def recompute_deadlines(control: QualityControl) -> None:
    for row in control.findings:
        if row.finding in rules.NONCONFORMITIES:
            row.deadline = rules.nc_deadline(control.control_date, row.finding)


# --- The grid ------------------------------------------------------------------------------------


def get_row(control: QualityControl, code: str) -> QualityFinding | None:
    return next((f for f in control.findings if f.code == code), None)


def record_finding(
    actor: User,
    control: QualityControl,
    row: QualityFinding,
    *,
    finding: str | None,
    not_applicable_reason: str = "",
    observations: str = "",
    expected_version: int | None = None,
) -> QualityFinding:
    """Record what was found for one indicator. A non-conformity gets its deadline (from the
    control date) and an open corrective action; another finding clears both. The caller
    commits."""
    refuse_if_fixed(control)
    if expected_version is not None and expected_version != row.version:
        raise Stale(FINDING_CONFLICT)
    finding = (finding or "").strip() or None
    reason = not_applicable_reason.strip()
    errors = rules.finding_errors(row.code, finding, reason)
    if errors:
        field_name = (
            "not_applicable_reason" if finding == rules.Finding.NOT_APPLICABLE else "finding"
        )
        raise Refused({field_name: errors})
    before = {"finding": row.finding, "deadline": row.deadline}
    row.finding = finding
    row.not_applicable_reason = reason if finding == rules.Finding.NOT_APPLICABLE else ""
    row.observations = observations.strip()
    if finding in rules.NONCONFORMITIES:
        row.deadline = rules.nc_deadline(control.control_date, finding)
        row.nc_status = rules.NcStatus.OPEN.value
    else:
        row.deadline = None
        row.nc_status = None
    row.updated_at = utcnow()
    row.updated_by_id = actor.id
    audit.record(
        "quality_finding.recorded",
        actor=actor,
        target=row,
        funder_id=control.funder_id,
        details={
            "control_id": control.id,
            "code": row.code,
            "finding": finding,
            "previous": before["finding"],
            "deadline": row.deadline.isoformat() if row.deadline else None,
        },
    )
    return row


def rows_awaiting(control: QualityControl, *, provider_side: bool) -> set[str]:
    """The codes of the grid rows whose non-conformity awaits the reader: the OF's answer
    to review (funder side), or an action plan to send (the OF): they open by default."""
    if control.status == QualityControlStatus.PLANNED.value:
        return set()
    waiting = (
        (rules.NcStatus.OPEN.value, rules.NcStatus.KEPT.value)
        if provider_side
        else (rules.NcStatus.ANSWERED.value,)
    )
    return {row.code for row in control.findings if row.nc_status in waiting}


@dataclass(frozen=True)
class ConformingPlan:
    """What « conforme » for a criterion, or « tout conforme sauf… », would record: the rows
    still to fill in the scope, but those excepted; the rows already assessed are kept."""

    to_record: list[QualityFinding]
    excepted: list[QualityFinding]
    kept: list[QualityFinding]  # already assessed: left as they are

    @property
    def codes(self) -> list[str]:
        return [row.code for row in self.to_record]


def conforming_plan(
    control: QualityControl, scope: str = "", excepted: Iterable[str] = ()
) -> ConformingPlan:
    """`scope`: a group key of :func:`grid_groups` ("critere-3"), or "" for the whole grid;
    `excepted`: codes left to fill."""
    rows = control.findings
    if scope:
        group = next((g for g in grid_groups(control) if g.key == scope), None)
        rows = group.rows if group is not None else []
    skipped = set(excepted)
    return ConformingPlan(
        to_record=[r for r in rows if not r.finding and r.code not in skipped],
        excepted=[r for r in rows if not r.finding and r.code in skipped],
        kept=[r for r in rows if r.finding],
    )


def record_conforming(
    actor: User, control: QualityControl, plan: ConformingPlan, *, scope: str = ""
) -> int:
    """Record « conforme » for each row of `plan` (each audited as a finding, and the whole
    in one more entry). Flushes; the caller commits. Returns how many were recorded."""
    refuse_if_fixed(control)
    for row in plan.to_record:
        record_finding(actor, control, row, finding=rules.Finding.CONFORMING.value)
    audit.record(
        "quality_findings.bulk_conforming",
        actor=actor,
        target=control,
        funder_id=control.funder_id,
        details={
            "scope": scope or "grille",
            "codes": plan.codes,
            "excepted": [row.code for row in plan.excepted],
        },
    )
    db.session.flush()
    return len(plan.to_record)


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    rows: list[QualityFinding]

    @property
    def to_fill(self) -> int:
        return sum(1 for row in self.rows if not row.finding)


def grid_groups(control: QualityControl) -> list[Group]:
    """The grid rows grouped by RNQ criterion, Certif'Région's in a group of their own."""
    groups: dict[str, Group] = {}
    for row in control.findings:
        number = rnq.code_indicator_number(row.code)
        if number is None:
            key = "certif-region"
            title = f"Certif'Région — {rnq.CERTIF_REGION_CRITERION[1]}"
        else:
            criterion = next(c for c in rnq.CRITERIA if number in c.indicators)
            key = f"critere-{criterion.number}"
            title = f"Critère {criterion.number} — {criterion.title}"
        groups.setdefault(key, Group(key, title, [])).rows.append(row)
    return list(groups.values())


def preload_grid(control: QualityControl) -> None:
    """Load the grid's rows with their evidence and corrective messages in a fixed number
    of queries (the control page shows them all). The rows become `control.findings`: the
    session only holds loaded objects weakly, so they must be kept somewhere."""
    rows = db.session.scalars(
        select(QualityFinding)
        .where(QualityFinding.control_id == control.id)
        .options(
            selectinload(QualityFinding.evidence).options(
                joinedload(QualityEvidence.document),
                joinedload(QualityEvidence.piece).joinedload(Piece.dossier),
            ),
            selectinload(QualityFinding.messages).options(
                joinedload(CorrectiveMessage.author),
                selectinload(CorrectiveMessage.documents),
            ),
        )
        .order_by(QualityFinding.position)
    ).all()
    set_committed_value(control, "findings", list(rows))


def control_result(control: QualityControl) -> rules.Result:
    return rules.result(
        (rules.Row(f.finding, f.nc_status) for f in control.findings), minors_per_major()
    )


# --- Evidence ------------------------------------------------------------------------------------


def piece_choices(user: User, control: QualityControl) -> list[Piece]:
    """The current pieces of the sampled dossiers that the user's funder holds."""
    ids = [d.id for d in control.dossiers if d.funder_id == user.funder_id]
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Piece)
            .where(Piece.dossier_id.in_(ids), Piece.superseded_at.is_(None))
            .options(joinedload(Piece.dossier), joinedload(Piece.document))
            .order_by(Piece.dossier_id, Piece.period_start, Piece.id)
        )
    )


def piece_title(piece: Piece) -> str:
    kind = PIECE_KIND_LABELS.get(piece.kind, piece.kind)
    return (
        f"{piece.dossier.reference} — {kind} du {formatting.date_fr(piece.period_start)} au "
        f"{formatting.date_fr(piece.period_end)} ({piece.document.original_name})"
    )[:300]


def add_evidence_files(
    actor: User, control: QualityControl, row: QualityFinding, stored: Sequence[StoredFile]
) -> list[QualityEvidence]:
    """Files the controller uploaded (already checked by content and stored)."""
    refuse_if_fixed(control)
    added = []
    for item in stored:
        document = item.as_document(actor.id)
        evidence = QualityEvidence(
            document=document, title=item.original_name, added_by_id=actor.id
        )
        row.evidence.append(evidence)
        added.append(evidence)
    db.session.flush()
    audit.record(
        "quality_evidence.added",
        actor=actor,
        target=row,
        funder_id=control.funder_id,
        details={
            "control_id": control.id,
            "code": row.code,
            "files": [
                {"name": s.original_name, "sha256": s.sha256, "size": s.size} for s in stored
            ],
        },
    )
    return added


def add_evidence_pieces(
    actor: User, control: QualityControl, row: QualityFinding, piece_ids: Iterable[int]
) -> list[QualityEvidence]:
    """Pieces of the sampled dossiers (the actor's funder's), each joined once."""
    refuse_if_fixed(control)
    wanted = set(piece_ids)
    if not wanted:
        raise Refused({"pieces": ["Cochez au moins une pièce."]})
    choices = {p.id: p for p in piece_choices(actor, control)}
    if not wanted <= choices.keys():
        raise Refused(
            {"pieces": ["Seules les pièces des dossiers échantillonnés peuvent être jointes."]}
        )
    already = {e.piece_id for e in row.evidence}
    added = []
    for piece_id in sorted(wanted - already):
        piece = choices[piece_id]
        evidence = QualityEvidence(piece=piece, title=piece_title(piece), added_by_id=actor.id)
        row.evidence.append(evidence)
        added.append(evidence)
    if added:
        db.session.flush()
        audit.record(
            "quality_evidence.added",
            actor=actor,
            target=row,
            funder_id=control.funder_id,
            details={
                "control_id": control.id,
                "code": row.code,
                "pieces": [e.piece_id for e in added],
            },
        )
    return added


def remove_evidence(actor: User, control: QualityControl, evidence: QualityEvidence) -> None:
    """Take a piece of evidence off its row (an uploaded file stays in the store: the audit
    log names it). The caller commits."""
    refuse_if_fixed(control)
    row = evidence.finding
    audit.record(
        "quality_evidence.removed",
        actor=actor,
        target=row,
        funder_id=control.funder_id,
        details={
            "control_id": control.id,
            "code": row.code,
            "evidence_id": evidence.id,
            "title": evidence.title,
            "piece_id": evidence.piece_id,
            "document_id": evidence.document_id,
        },
    )
    row.evidence.remove(evidence)


def evidence_document(evidence: QualityEvidence) -> Document | None:
    if evidence.document is not None:
        return evidence.document
    return evidence.piece.document if evidence.piece is not None else None


def record_download(actor: User, control: QualityControl, evidence: QualityEvidence) -> None:
    audit.record(
        "quality_evidence.downloaded",
        actor=actor,
        target=evidence,
        funder_id=control.funder_id,
        details={"control_id": control.id, "title": evidence.title},
    )


# --- The report ----------------------------------------------------------------------------------


def issue_report(actor: User, control: QualityControl, expected_version: int | None) -> list[User]:
    """Issue the report: every row must have a finding. The findings are fixed from then
    on, the non-conformities' corrective actions begin. Returns the OF's users to mail
    (after the commit: :func:`mail_report`). The caller commits."""
    check_version(control, expected_version)
    refuse_if_fixed(control)
    result = control_result(control)
    if not result.complete:
        missing = [rnq.code_label(f.code) for f in control.findings if not f.finding]
        raise Refused(
            general=(
                f"Le rapport ne peut être émis que lorsque chaque indicateur a un constat : "
                f"{len(missing)} reste{'nt' if len(missing) > 1 else ''} à renseigner "
                f"({', '.join(missing[:5])}{' …' if len(missing) > 5 else ''})."
            )
        )
    control.status = QualityControlStatus.REPORTED.value
    control.reported_at = utcnow()
    control.updated_at = control.reported_at
    recipients = list(
        db.session.scalars(
            select(User)
            .where(
                User.role == Role.PROVIDER.value,
                User.provider_id == control.provider_id,
                User.is_active.is_(True),
            )
            .order_by(User.id)
        )
    )
    audit.record(
        "quality_control.reported",
        actor=actor,
        target=control,
        funder_id=control.funder_id,
        details={
            "summary": result.summary(),
            "majors": result.majors,
            "minors": result.minors,
            "requalified_majors": result.requalified_majors,
            "notified": [u.email for u in recipients],
        },
    )
    return recipients


def mail_report(control: QualityControl, recipients: Iterable[User]) -> None:
    """Tell the OF's users that the report is issued (after the commit; a mail that cannot
    leave is logged and undoes nothing)."""
    result = control_result(control)
    link = absolute_url("quality.control", control_id=control.id)
    ncs = [f for f in control.findings if f.finding in rules.NONCONFORMITIES]
    for user in recipients:
        try:
            send_mail(
                user.email,
                f"Contrôle qualité du {formatting.date_fr(control.control_date)} : rapport émis",
                "quality/mail_report_issued.txt",
                user=user,
                control=control,
                result=result,
                nonconformities=ncs,
                code_label=rnq.code_label,
                finding_labels=rules.FINDING_LABELS,
                link=link,
            )
        except Exception:
            current_app.logger.exception(
                "Échec de l'envoi du rapport de contrôle à %s.", user.email
            )


def set_shared(
    actor: User, control: QualityControl, shared: bool, expected_version: int | None
) -> None:
    """Share the control with the other funders of the OF (read only), or stop sharing."""
    check_version(control, expected_version)
    if control.shared == shared:
        return
    control.shared = shared
    control.updated_at = utcnow()
    audit.record(
        "quality_control.shared" if shared else "quality_control.unshared",
        actor=actor,
        target=control,
        funder_id=control.funder_id,
    )


# --- The list ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    status: str = ""
    provider_id: int | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        status = args.get("statut", "")
        if status not in QUALITY_CONTROL_STATUS_LABELS:
            status = ""
        provider = args.get("organisme", "")
        return cls(status, database_id(provider))

    def as_args(self) -> dict[str, str]:
        args = {}
        if self.status:
            args["statut"] = self.status
        if self.provider_id is not None:
            args["organisme"] = str(self.provider_id)
        return args


@dataclass(frozen=True)
class ListedControl:
    control: QualityControl
    place: str  # "pilote", "partenaire", "partage"
    overdue: int
    open_ncs: int


PLACE_LABELS = {
    "pilote": "Pilote",
    "partenaire": "Partenaire (contrôle conjoint)",
    "partage": "Partagé par un autre financeur (lecture seule)",
}


@dataclass(frozen=True)
class Page(PageNumbers):
    items: list[ListedControl]
    total: int
    page: int
    per_page: int


def list_controls(
    user: User, filters: Filters, today: date, page: int = 1, per_page: int = PER_PAGE
) -> Page:
    """One page of the controls the user sees, newest first, with its place in each and the
    counts of open and overdue non-conformities. Four queries whatever the page."""
    scope = quality_controls_scope(user)
    if filters.status:
        scope = scope.where(QualityControl.status == filters.status)
    if filters.provider_id is not None:
        scope = scope.where(QualityControl.provider_id == filters.provider_id)
    total = db.session.scalar(select(func.count()).select_from(scope.subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    controls = list(
        db.session.scalars(
            scope.options(
                joinedload(QualityControl.provider),
                joinedload(QualityControl.funder),
                selectinload(QualityControl.partners).joinedload(QualityControlPartner.funder),
            )
            .order_by(QualityControl.control_date.desc(), QualityControl.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).unique()
    )
    counts = nc_counts([c.id for c in controls], today)
    items = []
    for control in controls:
        if control.funder_id == user.funder_id:
            place = "pilote"
        elif any(p.funder_id == user.funder_id for p in control.partners):
            place = "partenaire"
        else:
            place = "partage"
        open_ncs, overdue = counts.get(control.id, (0, 0))
        items.append(ListedControl(control, place, overdue, open_ncs))
    return Page(items, total, page, per_page)


def nc_counts(control_ids: Sequence[int], today: date) -> dict[int, tuple[int, int]]:
    """control id → (non-conformities not lifted, of which overdue), in one query."""
    if not control_ids:
        return {}
    not_lifted = QualityFinding.finding.in_([f.value for f in rules.NONCONFORMITIES]) & (
        QualityFinding.nc_status != rules.NcStatus.LIFTED.value
    )
    overdue = not_lifted & (QualityFinding.deadline < today)
    rows = db.session.execute(
        select(
            QualityFinding.control_id,
            func.count().filter(not_lifted),
            func.count().filter(overdue),
        )
        .where(QualityFinding.control_id.in_(control_ids))
        .group_by(QualityFinding.control_id)
    )
    return {control_id: (open_ncs, late) for control_id, open_ncs, late in rows}


def labels() -> dict[str, Any]:
    """Labels the templates need."""
    return {
        "mode_labels": {k.value: v for k, v in CONTROL_MODE_LABELS.items()},
        "status_labels": {k.value: v for k, v in QUALITY_CONTROL_STATUS_LABELS.items()},
        "finding_labels": {k.value: v for k, v in rules.FINDING_LABELS.items()},
        "nc_status_labels": {k.value: v for k, v in rules.NC_STATUS_LABELS.items()},
        "profile_fields": PROFILE_FIELDS,
        "place_labels": PLACE_LABELS,
        "piece_kind_labels": PIECE_KIND_LABELS,
    }
