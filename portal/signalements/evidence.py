"""The evidence of a signalement: what the dossiers concerned offer (their current pieces,
the results of their service-fait checks, the active decisions on their invoices), copied
when chosen; and the files uploaded with it, checked by their content and stored as every
upload is (`portal.uploads`, `portal.storage`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal import formatting
from portal.dossiers import pieces as pieces_service
from portal.dossiers.calendar import Period
from portal.dossiers.piece_rules import format_money
from portal.errors import Refused
from portal.extensions import db
from portal.models import (
    DECISION_OUTCOME_LABELS,
    SEVERITY_LABELS,
    CheckFinding,
    DecisionOutcome,
    Dossier,
    EvidenceKind,
    InvoiceDecision,
    Piece,
    Severity,
    SignalementEvidence,
    SignalementMessage,
    User,
)
from portal.service_fait import reasons
from portal.signalements.common import MAX_SHORT_TEXT, one_line
from portal.storage import Storage
from portal.uploads import (
    StoredFile,
    UploadLike,
    UploadsRefused,
    discard_stored,
    max_files_per_upload,
    max_size_label,
    too_many_files,
)
from portal.uploads import store_all as store_all_uploads

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """Something of the linked dossiers that may be joined as evidence."""

    key: str
    kind: EvidenceKind
    dossier_id: int
    dossier_reference: str
    title: str
    details: str
    file_name: str | None = None
    piece_id: int | None = None
    finding_id: int | None = None
    decision_id: int | None = None


def existing_key(evidence: SignalementEvidence) -> str:
    return f"preuve-{evidence.id}"


def _piece_candidate(piece: Piece) -> Candidate:
    period = Period(piece.period_start, piece.period_end).label()
    figures = "; ".join(f"{label} : {value}" for label, value in pieces_service.figures(piece))
    details = f"Déposée le {formatting.date_fr(piece.created_at)}"
    if figures:
        details += f". {figures}"
    details += f". SHA-256 {piece.document.sha256}."
    return Candidate(
        key=f"piece-{piece.id}",
        kind=EvidenceKind.PIECE,
        dossier_id=piece.dossier_id,
        dossier_reference=piece.dossier.reference,
        title=f"{piece.kind_label} {period} — {piece.document.original_name}"[:MAX_SHORT_TEXT],
        details=details,
        file_name=piece.document.original_name,
        piece_id=piece.id,
    )


def _finding_candidate(finding: CheckFinding, reference: str) -> Candidate:
    severity = SEVERITY_LABELS.get(Severity(finding.severity), finding.severity)
    details = finding.explanation
    if finding.period_start and finding.period_end:
        details += f" (période {Period(finding.period_start, finding.period_end).label()})"
    return Candidate(
        key=f"constat-{finding.id}",
        kind=EvidenceKind.FINDING,
        dossier_id=finding.dossier_id,
        dossier_reference=reference,
        title=f"{severity} : {finding.label}"[:MAX_SHORT_TEXT],
        details=details,
        finding_id=finding.id,
    )


def _decision_candidate(decision: InvoiceDecision, reference: str) -> Candidate:
    outcome = DECISION_OUTCOME_LABELS.get(DecisionOutcome(decision.outcome), decision.outcome)
    number = decision.invoice.invoice_number or f"n° {decision.invoice_id}"
    parts = [
        f"Montant facturé {format_money(decision.amount_invoiced)}, validé "
        f"{format_money(decision.amount_validated)}",
    ]
    if decision.reason_code:
        parts.append(f"motif : {reasons.label(decision.reason_code)}")
    if decision.note:
        parts.append(f"note : {one_line(decision.note)}")
    parts.append(f"décidée le {formatting.date_fr(decision.decided_at)}")
    return Candidate(
        key=f"decision-{decision.id}",
        kind=EvidenceKind.DECISION,
        dossier_id=decision.dossier_id,
        dossier_reference=reference,
        title=f"Décision « {outcome} » sur la facture {number}"[:MAX_SHORT_TEXT],
        details="; ".join(parts) + ".",
        decision_id=decision.id,
    )


def evidence_candidates(
    dossiers: Sequence[Dossier], used: Sequence[SignalementEvidence] = ()
) -> list[Candidate]:
    """The current pieces, check results and active decisions of `dossiers` not already
    joined (`used`); three queries whatever the number of dossiers."""
    ids = [d.id for d in dossiers]
    if not ids:
        return []
    references = {d.id: d.reference for d in dossiers}
    used_pieces = {e.piece_id for e in used if e.piece_id}
    used_decisions = {e.decision_id for e in used if e.decision_id}
    used_findings = {e.finding_id for e in used if e.finding_id}
    used_snapshots = {(e.dossier_id, e.title, e.details) for e in used}
    found: list[Candidate] = []
    pieces = db.session.scalars(
        select(Piece)
        .where(Piece.dossier_id.in_(ids), Piece.superseded_at.is_(None))
        .options(joinedload(Piece.document), joinedload(Piece.dossier))
        .order_by(Piece.dossier_id, Piece.period_start, Piece.kind, Piece.id)
    )
    found.extend(_piece_candidate(p) for p in pieces if p.id not in used_pieces)
    findings = db.session.scalars(
        select(CheckFinding)
        .where(CheckFinding.dossier_id.in_(ids))
        .order_by(CheckFinding.dossier_id, CheckFinding.severity_rank, CheckFinding.id)
    )
    for finding in findings:
        candidate = _finding_candidate(finding, references[finding.dossier_id])
        snapshot = (candidate.dossier_id, candidate.title, candidate.details)
        if finding.id not in used_findings and snapshot not in used_snapshots:
            found.append(candidate)
    decisions = db.session.scalars(
        select(InvoiceDecision)
        .where(InvoiceDecision.dossier_id.in_(ids), InvoiceDecision.reopened_at.is_(None))
        .options(joinedload(InvoiceDecision.invoice))
        .order_by(InvoiceDecision.dossier_id, InvoiceDecision.id)
    )
    found.extend(
        _decision_candidate(d, references[d.dossier_id])
        for d in decisions
        if d.id not in used_decisions
    )
    return found


def evidence_from(candidate: Candidate, actor: User) -> SignalementEvidence:
    return SignalementEvidence(
        kind=candidate.kind.value,
        dossier_id=candidate.dossier_id,
        piece_id=candidate.piece_id,
        finding_id=candidate.finding_id,
        decision_id=candidate.decision_id,
        title=candidate.title,
        details=candidate.details,
        added_by_id=actor.id,
    )


def file_evidence(
    stored: StoredFile, actor: User, message: SignalementMessage | None = None
) -> SignalementEvidence:
    document = stored.as_document(actor.id)
    return SignalementEvidence(
        kind=EvidenceKind.FILE.value,
        document=document,
        title=stored.original_name,
        details=f"Fichier joint ({max_size_label(stored.size)}), SHA-256 {stored.sha256}.",
        added_by_id=actor.id,
        message_id=message.id if message is not None else None,
    )


discard = discard_stored


def store_all(storage: Storage, files: Sequence[UploadLike], max_bytes: int) -> list[StoredFile]:
    """Store every file, or none: checked by content (`portal.uploads`), as for pieces."""
    try:
        return store_all_uploads(storage, files, max_bytes=max_bytes)
    except UploadsRefused as refused:
        raise Refused({"files": refused.messages}, refused_files=refused.refused) from None


def chosen_files(files: Sequence[UploadLike | None], errors: dict[str, list[str]]) -> list:
    chosen = [f for f in files if f is not None and (f.filename or "")]
    max_files = max_files_per_upload()
    if len(chosen) > max_files:
        errors["files"] = [too_many_files(max_files)]
    return chosen
