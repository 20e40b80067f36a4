"""Decisions per invoice: conforming, partly conforming, not conforming; reopening.

- **Conforming**: the amount validated is the amount invoiced (all taxes included).
- **Partly conforming**: a lower amount is validated, more than 0 and less than the amount
  invoiced, with a coded reason (:mod:`portal.service_fait.reasons`).
- **Not conforming**: nothing is validated, with a coded reason.

A free-text note may be added; the reason "autre" needs one. A decision relies on the
invoice and on the dossier's current pieces of the same period (the other kinds whose
period overlaps the invoice's): they are stored with it (`InvoiceDecision.pieces`) and
locked while it is active: the OF cannot replace them
(:func:`portal.dossiers.locks.locked_message`, called by
:func:`portal.dossiers.pieces.replace_piece`).

A funder admin may reopen a decision, with a reason: it stays on record, inactive, its
pieces are unlocked and a new decision can be taken. Both are in the audit log
(``service_fait.decision_taken``, ``service_fait.decision_reopened``).

Two controllers deciding at once: the form carries the version of the dossier's control
(`ServiceFaitControl.version`) it was rendered with; a decision bumps it. The second to
post sees a version that moved (:class:`Stale`), and if both post in the same
instant, the control's versioned UPDATE or the unique index on active decisions stops the
second one at flush (the route turns `Stale`/`IntegrityError` into the same
message). Nothing is overwritten.

Services take the acting user, flush, audit, and leave the commit to the route.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import attributes

from portal import audit
from portal.clock import utcnow
from portal.dossiers import piece_rules
from portal.dossiers.rules import RuleError
from portal.errors import NotAllowed, Refused, Stale
from portal.extensions import db
from portal.models import (
    DECISION_OUTCOME_LABELS,
    FUNDER_ROLES,
    DecisionOutcome,
    Dossier,
    Invoice,
    InvoiceDecision,
    Piece,
    PieceKind,
    Role,
    ServiceFaitControl,
    User,
    WebhookEvent,
)
from portal.service_fait import reasons
from portal.service_fait.controls import control_for, refresh_state
from portal.webhooks import outbox

ZERO = Decimal("0.00")

REASON_REQUIRED = "Choisissez le motif de la décision dans la liste : il est obligatoire."
NOTE_REQUIRED = "Précisez le motif « autre » dans la note."
OUTCOME_REQUIRED = "Choisissez la décision : conforme, partiellement conforme ou non conforme."
AMOUNT_REQUIRED = "Indiquez le montant validé."
REOPEN_REASON_REQUIRED = "Indiquez pourquoi la décision est rouverte."
CONFLICT = (
    "Ce dossier a été modifié par quelqu'un d'autre pendant votre saisie (une décision a pu "
    "être prise entre-temps) : rien n'a été enregistré. Voici son état actuel : vérifiez-le "
    "avant de décider."
)
MAX_NOTE = 5_000


# --- Reading --------------------------------------------------------------------------------


def invoiced_amount(invoice: Piece) -> Decimal:
    """The amount invoiced, all taxes included (what the funder pays)."""
    amount = invoice.amount_incl_tax
    if amount is None:
        amount = invoice.amount_excl_tax
    return amount if amount is not None else ZERO


def active_decisions(dossier_id: int) -> dict[int, InvoiceDecision]:
    """The active decision of each invoice of the dossier, by invoice id (one query)."""
    rows = db.session.scalars(
        select(InvoiceDecision).where(
            InvoiceDecision.dossier_id == dossier_id, InvoiceDecision.reopened_at.is_(None)
        )
    )
    return {decision.invoice_id: decision for decision in rows}


def dossier_decisions(dossier_id: int) -> list[InvoiceDecision]:
    """Every decision of the dossier, reopened ones included, newest first."""
    return list(
        db.session.scalars(
            select(InvoiceDecision)
            .where(InvoiceDecision.dossier_id == dossier_id)
            .order_by(InvoiceDecision.decided_at.desc(), InvoiceDecision.id.desc())
        )
    )


def relied_on(invoice: Piece) -> list[Piece]:
    """The invoice and the dossier's current pieces of other kinds whose period overlaps
    the invoice's: what a decision on it relies on."""
    others = db.session.scalars(
        select(Piece)
        .where(
            Piece.dossier_id == invoice.dossier_id,
            Piece.superseded_at.is_(None),
            Piece.kind != PieceKind.INVOICE.value,
            Piece.period_start <= invoice.period_end,
            Piece.period_end >= invoice.period_start,
        )
        .order_by(Piece.period_start, Piece.id)
    ).all()
    return [invoice, *others]


# --- Checking what was typed ------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionInput:
    outcome: str | None
    amount_validated: Any = None  # typed text, for a partly conforming decision
    reason_code: str | None = None
    note: str = ""


@dataclass
class Checked:
    outcome: DecisionOutcome | None = None
    amount_validated: Decimal = ZERO
    reason_code: str | None = None
    note: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def _money(amount: Decimal) -> str:
    return piece_rules.format_money(amount)


def check(data: DecisionInput, invoiced: Decimal) -> Checked:
    """The decision's values, or its errors in French, against the amount invoiced."""
    result = Checked(note=(data.note or "").strip())
    try:
        result.outcome = DecisionOutcome(data.outcome or "")
    except ValueError:
        result.error("outcome", OUTCOME_REQUIRED)
        return result
    if len(result.note) > MAX_NOTE:
        result.error("note", f"La note est limitée à {MAX_NOTE} caractères.")
    if result.outcome == DecisionOutcome.CONFORMING:
        result.amount_validated = invoiced
        return result  # no reason: a conforming decision has none
    code = (data.reason_code or "").strip()
    if not code:
        result.error("reason_code", REASON_REQUIRED)
    elif not reasons.is_known(code):
        result.error("reason_code", "Ce motif n'est pas dans la liste : choisissez-en un.")
    else:
        result.reason_code = code
        if code == reasons.OTHER and not result.note:
            result.error("note", NOTE_REQUIRED)
    if result.outcome == DecisionOutcome.NOT_CONFORMING:
        result.amount_validated = ZERO
        return result
    raw = data.amount_validated
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        result.error("amount_validated", AMOUNT_REQUIRED)
        return result
    try:
        amount = piece_rules.parse_money(raw)
    except RuleError as error:
        result.error("amount_validated", str(error))
        return result
    if amount <= 0:
        result.error(
            "amount_validated",
            "Un montant validé partiel est supérieur à 0 € : sinon, la facture est non conforme.",
        )
    elif amount >= invoiced:
        result.error(
            "amount_validated",
            f"Un montant validé partiel est inférieur au montant facturé ({_money(invoiced)}) : "
            "sinon, la facture est conforme.",
        )
    result.amount_validated = amount
    return result


# --- Deciding -------------------------------------------------------------------------------


def can_decide(user: User, dossier: Dossier) -> bool:
    return user.role in FUNDER_ROLES and user.funder_id == dossier.funder_id


def can_reopen(user: User, dossier: Dossier) -> bool:
    return user.role == Role.FUNDER_ADMIN and user.funder_id == dossier.funder_id


def _lock_dossier(dossier_id: int) -> None:
    """Queue writers on the dossier (a row lock on PostgreSQL; SQLite has one writer):
    decisions and replacements of pieces do not interleave."""
    db.session.execute(select(Dossier.id).where(Dossier.id == dossier_id).with_for_update())


def _bump(control: ServiceFaitControl) -> None:
    """Make the next flush UPDATE the control, so that its version moves (and is checked)."""
    if control in db.session.new:
        return
    attributes.flag_modified(control, "status")


def current_version(dossier: Dossier) -> int:
    """The version of the dossier's control a form carries (0: no control row yet)."""
    version = db.session.scalar(
        select(ServiceFaitControl.version).where(ServiceFaitControl.dossier_id == dossier.id)
    )
    return version or 0


def _check_version(
    control: ServiceFaitControl, expected_version: int | None, created: bool
) -> None:
    if expected_version is None:
        return
    actual = 0 if created else control.version
    if actual != expected_version:
        raise Stale(CONFLICT)


def _new_decision(
    actor: User, invoice: Piece, checked: Checked, invoiced: Decimal
) -> InvoiceDecision:
    assert checked.outcome is not None
    decision = InvoiceDecision(
        dossier_id=invoice.dossier_id,
        invoice_id=invoice.id,
        outcome=checked.outcome.value,
        amount_invoiced=invoiced,
        amount_validated=checked.amount_validated,
        reason_code=checked.reason_code,
        note=checked.note,
        decided_by_id=actor.id,
        decided_at=utcnow(),
    )
    decision.pieces = relied_on(invoice)
    db.session.add(decision)
    return decision


def _audit_decision(actor: User, dossier: Dossier, decision: InvoiceDecision, bulk: bool) -> None:
    audit.record(
        "service_fait.decision_taken",
        actor=actor,
        target=decision,
        funder_id=dossier.funder_id,
        details={
            "dossier_id": dossier.id,
            "invoice_id": decision.invoice_id,
            "outcome": decision.outcome,
            "amount_invoiced": str(decision.amount_invoiced),
            "amount_validated": str(decision.amount_validated),
            "reason_code": decision.reason_code,
            "note": decision.note,
            "pieces": [piece.id for piece in decision.pieces],
            **({"bulk": True} if bulk else {}),
        },
    )
    outbox.emit(
        WebhookEvent.DECISION_CREATED,
        funder_id=dossier.funder_id,
        dossier_id=dossier.id,
        data=outbox.decision_data(decision, dossier),
    )


def _control_existed(dossier: Dossier) -> bool:
    return bool(
        db.session.scalar(select(exists().where(ServiceFaitControl.dossier_id == dossier.id)))
    )


def decide(
    actor: User,
    dossier: Dossier,
    invoice_id: int,
    data: DecisionInput,
    *,
    expected_version: int | None,
) -> InvoiceDecision:
    """Take a decision on one current invoice of the dossier; the caller commits.

    Raises `Refused` (what was typed breaks a rule), `Stale` (someone
    changed the dossier's control meanwhile, or the invoice already has an active
    decision), `NotAllowed`. A simultaneous decision can still surface at flush or commit
    as `Stale` or `IntegrityError`: the caller treats them as a conflict.
    """
    if not can_decide(actor, dossier):
        raise NotAllowed()
    invoice = db.session.get(Piece, invoice_id)
    if invoice is None or invoice.dossier_id != dossier.id or invoice.kind != PieceKind.INVOICE:
        raise Refused(general="Cette facture n'est pas une pièce de ce dossier.")
    if invoice.superseded_at is not None:
        raise Stale(
            "Cette facture a été remplacée entre-temps par l'organisme : rien n'a été "
            "enregistré. Décidez sur sa nouvelle version."
        )
    invoiced = invoiced_amount(invoice)
    checked = check(data, invoiced)
    if checked.errors:
        raise Refused(checked.errors)
    _lock_dossier(dossier.id)
    created = not _control_existed(dossier)
    control = control_for(dossier)
    _check_version(control, expected_version, created)
    if active_decisions(dossier.id).get(invoice.id) is not None:
        raise Stale(CONFLICT)
    decision = _new_decision(actor, invoice, checked, invoiced)
    db.session.flush()  # the unique index on active decisions answers here
    refresh_state(control)
    _bump(control)
    db.session.flush()  # the versioned UPDATE of the control answers here
    _audit_decision(actor, dossier, decision, bulk=False)
    return decision


def reopen(actor: User, decision: InvoiceDecision, reason: str) -> InvoiceDecision:
    """Reopen an active decision (a funder admin of the dossier's funder, with a reason);
    the caller commits."""
    dossier = db.session.get(Dossier, decision.dossier_id)
    assert dossier is not None
    if not can_reopen(actor, dossier):
        raise NotAllowed()
    reason = (reason or "").strip()
    if not reason:
        raise Refused({"reason": [REOPEN_REASON_REQUIRED]})
    if len(reason) > MAX_NOTE:
        raise Refused({"reason": [f"Le motif est limité à {MAX_NOTE} caractères."]})
    if decision.reopened_at is not None:
        raise Stale("Cette décision a déjà été rouverte : rien n'a été enregistré.")
    _lock_dossier(dossier.id)
    control = control_for(dossier)
    decision.reopened_at = utcnow()
    decision.reopened_by_id = actor.id
    decision.reopen_reason = reason
    db.session.flush()
    refresh_state(control)
    _bump(control)
    db.session.flush()
    audit.record(
        "service_fait.decision_reopened",
        actor=actor,
        target=decision,
        funder_id=dossier.funder_id,
        details={
            "dossier_id": dossier.id,
            "invoice_id": decision.invoice_id,
            "outcome": decision.outcome,
            "amount_validated": str(decision.amount_validated),
            "reason": reason,
        },
    )
    outbox.emit(
        WebhookEvent.DECISION_REOPENED,
        funder_id=dossier.funder_id,
        dossier_id=dossier.id,
        data=outbox.decision_data(decision, dossier),
    )
    return decision


# --- Validating several dossiers at once (the queue's bulk action) ----------------------------


@dataclass
class BulkValidation:
    validated: list[Dossier] = field(default_factory=list)  # at least one invoice decided
    invoices: int = 0
    blocked: list[Dossier] = field(default_factory=list)  # a blocking anomaly: skipped
    nothing_to_decide: list[Dossier] = field(default_factory=list)


def validate_conforming(
    actor: User, dossiers: Sequence[Dossier], blocked_ids: set[int]
) -> BulkValidation:
    """Decide "conforming" every current undecided invoice of each dossier that has no
    blocking anomaly (`blocked_ids`: those that have one, skipped); the caller commits.

    A dossier decided meanwhile by someone else raises `Stale`/`IntegrityError`
    at flush: the caller rolls the whole batch back and says so.
    """
    result = BulkValidation()
    ids = [d.id for d in dossiers if d.id not in blocked_ids]
    result.blocked = [d for d in dossiers if d.id in blocked_ids]
    if not ids:
        return result
    undecided: dict[int, list[Invoice]] = {i: [] for i in ids}
    for invoice in db.session.scalars(
        select(Invoice)
        .where(
            Invoice.dossier_id.in_(ids),
            Invoice.superseded_at.is_(None),
            ~exists().where(
                and_(
                    InvoiceDecision.invoice_id == Invoice.id,
                    InvoiceDecision.reopened_at.is_(None),
                )
            ),
        )
        .order_by(Invoice.period_start, Invoice.id)
    ):
        undecided[invoice.dossier_id].append(invoice)
    for dossier in dossiers:
        if dossier.id in blocked_ids:
            continue
        if not can_decide(actor, dossier):
            raise NotAllowed()
        invoices = undecided[dossier.id]
        if not invoices:
            result.nothing_to_decide.append(dossier)
            continue
        _lock_dossier(dossier.id)
        control = control_for(dossier)
        decisions = []
        for invoice in invoices:
            amount = invoiced_amount(invoice)
            checked = Checked(outcome=DecisionOutcome.CONFORMING, amount_validated=amount)
            decisions.append(_new_decision(actor, invoice, checked, amount))
        db.session.flush()
        refresh_state(control)
        _bump(control)
        db.session.flush()
        for decision in decisions:
            _audit_decision(actor, dossier, decision, bulk=True)
        result.validated.append(dossier)
        result.invoices += len(decisions)
    return result


def outcome_label(outcome: str) -> str:
    try:
        return DECISION_OUTCOME_LABELS[DecisionOutcome(outcome)]
    except ValueError:
        return outcome
