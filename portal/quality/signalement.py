"""From a quality control to a signalement draft.

A control with a major non-conformity (counting the requalified minors), or with
non-conformities not lifted, calls for a signalement (`rules.Result.calls_for_signalement`).
A funder taking part in it may then draft one about the controlled OF, prefilled:

- the facts: what (each NC with its indicator, level, observations, deadline and state),
  when (the control date), where (the scope of the control);
- the RNQ indicators of the NC (the Certif'Région indicators are not RNQ indicators: they
  are named in the facts only);
- the sampled dossiers that belong to the actor's funder;
- the evidence of the NC: the controller's files (kind FILE), the pieces of dossiers (kind
  PIECE, those of the actor's funder's dossiers only), the proof files sent by the OF.

The draft is created through `portal.signalements.services.create_draft` (which commits),
then filled and linked to the control (`control.signalement_id`), audited, committed. A
control already linked to a signalement is not drafted twice: the existing one is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal import audit, clock, formatting, rnq
from portal.access import can_edit_quality_control, can_view_signalement
from portal.errors import NotAllowed, Refused
from portal.extensions import db
from portal.models import (
    CONTROL_MODE_LABELS,
    ControlMode,
    Document,
    Dossier,
    EvidenceKind,
    QualityControl,
    QualityControlStatus,
    QualityFinding,
    Seriousness,
    Signalement,
    SignalementEvidence,
    User,
)
from portal.quality import rules
from portal.quality.controls import control_result
from portal.quality.corrective import is_nonconformity, overdue
from portal.signalements import services as signalements
from portal.signalements.common import MAX_SHORT_TEXT, one_line
from portal.signalements.rules import MAX_FACTS_LENGTH
from portal.uploads import max_size_label

NOT_CALLED_FOR = (
    "Ce contrôle ne compte ni non-conformité majeure ni non-conformité non levée : il "
    "n'appelle pas de signalement."
)
NOT_REPORTED = "Le rapport de ce contrôle n'est pas encore émis : le signalement attendra."


def linked_signalement(control: QualityControl) -> Signalement | None:
    if control.signalement_id is None:
        return None
    return db.session.get(Signalement, control.signalement_id)


@dataclass(frozen=True)
class Offer:
    """What `_signalement_offer.html` shows to a funder taking part."""

    called_for: bool
    signalement: Signalement | None  # already drafted from this control, visible to the actor
    elsewhere: bool  # drafted by another funder taking part: not visible to the actor
    can_draft: bool


def offer(actor: User, control: QualityControl, result: rules.Result) -> Offer:
    existing = linked_signalement(control)
    visible = existing if existing is not None and can_view_signalement(actor, existing) else None
    return Offer(
        called_for=result.calls_for_signalement,
        signalement=visible,
        elsewhere=existing is not None and visible is None,
        can_draft=(
            existing is None
            and result.calls_for_signalement
            and control.status != QualityControlStatus.PLANNED.value
            and can_edit_quality_control(actor, control)
        ),
    )


# --- The prefilled facts -----------------------------------------------------------------------


def _nonconformities(control: QualityControl) -> list[QualityFinding]:
    return [f for f in control.findings if is_nonconformity(f)]


def _funders(control: QualityControl) -> str:
    names = [control.funder.name, *(p.funder.name for p in control.partners)]
    return ", ".join(names)


def facts_what(control: QualityControl, result: rules.Result) -> str:
    """The facts as the ministry reads them: the control, its result, each NC."""
    today = clock.today()
    mode = CONTROL_MODE_LABELS.get(ControlMode(control.mode), control.mode).lower()
    lines = [
        f"Contrôle de la qualité effective ({mode}) de {control.provider.name} "
        f"(NDA {control.provider.nda}), le {formatting.date_fr(control.control_date)}, mené par "
        f"{_funders(control)}.",
        f"Résultat : {result.summary()}",
    ]
    if result.requalified_majors:
        lines.append(
            f"Règle appliquée : {result.minors_per_major} non-conformités mineures comptent "
            "pour une majeure (règle à confirmer)."
        )
    if control.reported_at is not None:
        lines.append(f"Rapport émis le {formatting.date_fr(control.reported_at)}.")
    lines.append("")
    lines.append("Non-conformités constatées :")
    for finding in _nonconformities(control):
        label = rules.FINDING_LABELS[rules.Finding(finding.finding)].lower()
        line = f"- {rnq.code_label(finding.code)} : {label}."
        if not finding.code.isdigit():
            line += " (Indicateur du label Certif'Région, hors référentiel national qualité.)"
        if finding.observations.strip():
            line += f" Constat : {one_line(finding.observations)}"
            if not line.endswith("."):
                line += "."
        if finding.deadline is not None:
            line += f" À corriger avant le {formatting.date_fr(finding.deadline)}"
            status = rules.NcStatus(finding.nc_status or rules.NcStatus.OPEN.value)
            line += f" ; état : {rules.NC_STATUS_LABELS[status].lower()}"
            if overdue(finding, today):
                line += " (délai dépassé)"
            line += "."
        lines.append(line)
    text = "\n".join(lines)
    if len(text) > MAX_FACTS_LENGTH:
        text = text[: MAX_FACTS_LENGTH - 1] + "…"
    return text


def facts_where(control: QualityControl) -> str:
    scope = one_line(control.scope_actions)
    text = f"Périmètre du contrôle : {scope}" if scope else f"Contrôle de {control.provider.name}"
    return text if len(text) <= MAX_SHORT_TEXT else text[: MAX_SHORT_TEXT - 1] + "…"


def rnq_indicators(control: QualityControl) -> list[int]:
    numbers = {rnq.code_indicator_number(f.code) for f in _nonconformities(control)}
    return sorted(n for n in numbers if n is not None)


def _evidence(actor: User, control: QualityControl) -> list[SignalementEvidence]:
    """The controller's files and pieces of the NC, then the OF's proof files."""
    items: list[SignalementEvidence] = []
    pieces: set[int] = set()
    documents: set[int] = set()
    for finding in _nonconformities(control):
        where = f"indicateur {finding.code}" if finding.code.isdigit() else finding.code
        for item in finding.evidence:
            if item.piece_id is not None and item.piece is not None:
                dossier = item.piece.dossier
                if dossier.funder_id != actor.funder_id or item.piece_id in pieces:
                    continue
                pieces.add(item.piece_id)
                items.append(
                    SignalementEvidence(
                        kind=EvidenceKind.PIECE.value,
                        piece_id=item.piece_id,
                        dossier_id=dossier.id,
                        title=item.title[:MAX_SHORT_TEXT],
                        details=(
                            f"Pièce du dossier {dossier.reference}, preuve du contrôle qualité "
                            f"({where}). SHA-256 {item.piece.document.sha256}."
                        ),
                        added_by_id=actor.id,
                    )
                )
            elif item.document_id is not None and item.document_id not in documents:
                documents.add(item.document_id)
                items.append(
                    _file(actor, item.document, item.title, f"Preuve du contrôle ({where})")
                )
        for message in finding.messages:
            for document in message.documents:
                if document.id in documents:
                    continue
                documents.add(document.id)
                items.append(
                    _file(
                        actor,
                        document,
                        f"Preuve de l'organisme — {document.original_name}",
                        f"Envoyée par l'organisme en réponse à la non-conformité ({where}) le "
                        f"{formatting.date_fr(message.created_at)}",
                    )
                )
    return items


def _file(actor: User, document: Document, title: str, context: str) -> SignalementEvidence:
    return SignalementEvidence(
        kind=EvidenceKind.FILE.value,
        document_id=document.id,
        title=title[:MAX_SHORT_TEXT],
        details=(
            f"{context}. Fichier {document.original_name} ({max_size_label(document.size)}), "
            f"SHA-256 {document.sha256}."
        ),
        added_by_id=actor.id,
    )


# --- Drafting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drafted:
    signalement: Signalement
    created: bool  # False: the control already had one


def draft(actor: User, control: QualityControl) -> Drafted:
    """The signalement draft of `control`, created and prefilled unless it has one."""
    if not can_edit_quality_control(actor, control):
        raise NotAllowed
    existing = linked_signalement(control)
    if existing is not None:
        if not can_view_signalement(actor, existing):
            raise Refused(
                "Un autre financeur participant a déjà rédigé un signalement à partir de ce "
                "contrôle."
            )
        return Drafted(existing, created=False)
    if control.status == QualityControlStatus.PLANNED.value:
        raise Refused(NOT_REPORTED)
    result = control_result(control)
    if not result.calls_for_signalement:
        raise Refused(NOT_CALLED_FOR)
    dossiers: Sequence[Dossier] = [
        d
        for d in control.dossiers
        if d.funder_id == actor.funder_id and d.provider_id == control.provider_id
    ]
    try:
        signalement = signalements.create_draft(actor, control.provider, dossiers=dossiers)
    except Refused as refused:
        raise Refused(str(refused)) from None
    signalement.facts_what = facts_what(control, result)
    signalement.facts_when = f"Contrôle qualité du {formatting.date_fr(control.control_date)}"
    signalement.facts_where = facts_where(control)
    signalement.seriousness = (
        Seriousness.SERIOUS.value if result.total_majors else Seriousness.MODERATE.value
    )
    signalement.set_indicators(rnq_indicators(control))
    signalement.evidence.extend(_evidence(actor, control))
    signalement.updated_at = signalement.created_at
    control.signalement_id = signalement.id
    audit.record(
        "quality.signalement_drafted",
        actor=actor,
        target=control,
        funder_id=actor.funder_id,
        details={
            "signalement_id": signalement.id,
            "indicators": signalement.indicators,
            "dossier_ids": [d.id for d in dossiers],
            "evidence": len(signalement.evidence),
        },
    )
    return Drafted(signalement, created=True)
