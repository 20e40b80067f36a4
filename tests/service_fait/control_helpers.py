"""Helpers of the queue, control page, decisions and statistics tests: pieces and findings
written straight to the database, and the funder's staff."""

from __future__ import annotations

import hashlib
import itertools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from portal.dossiers.pieces import PIECE_CLASSES
from portal.dossiers.rules import parse_duration
from portal.extensions import db
from portal.models import (
    CheckFinding,
    Document,
    Dossier,
    Funder,
    Piece,
    PieceKind,
    Provider,
    Role,
    Severity,
    User,
)
from portal.service_fait.controls import control_for
from tests.dossiers.piece_helpers import make_dossier, month_end
from tests.factories import FunderFactory, ProviderFactory, UserFactory

_numbers = itertools.count(1)
RANKS = {Severity.BLOCKING.value: 0, Severity.WARNING.value: 1, Severity.INFO.value: 2}


def make_piece(
    dossier: Dossier,
    kind: PieceKind | str,
    start: date | None = None,
    end: date | None = None,
    *,
    created_at: datetime | None = None,
    **fields: Any,
) -> Piece:
    """A current piece with a (fake) stored document, committed; the dossier's first month
    unless a period is given. Hours (``hours_billed="13.5"``, ``"7h20"``) are stored as the
    minutes the portal keeps."""
    for name in ("hours_billed", "hours_completed", "hours_attended"):
        if name in fields:
            value = fields.pop(name)
            column = name.replace("hours_", "minutes_")
            fields[column] = None if value is None else parse_duration(value)
    number = next(_numbers)
    start = start or dossier.start_date
    end = end or month_end(start, 0)
    document = Document(
        storage_key=f"test-{number:08d}",
        sha256=hashlib.sha256(f"piece {number}".encode()).hexdigest(),
        size=1000,
        content_type="application/pdf",
        original_name=f"{PieceKind(kind).value}-{number}.pdf",
    )
    piece = PIECE_CLASSES[PieceKind(kind)](
        dossier_id=dossier.id, document=document, period_start=start, period_end=end, **fields
    )
    if created_at is not None:
        piece.created_at = created_at
    db.session.add(piece)
    db.session.commit()
    return piece


def make_invoice(
    dossier: Dossier,
    start: date | None = None,
    end: date | None = None,
    amount: str = "1000.00",
    hours: str = "70",
    **fields: Any,
) -> Piece:
    fields.setdefault("invoice_number", f"F-{next(_numbers):05d}")
    fields.setdefault("invoice_date", end or month_end(start or dossier.start_date, 0))
    return make_piece(
        dossier,
        PieceKind.INVOICE,
        start,
        end,
        amount_excl_tax=Decimal(amount),
        amount_incl_tax=Decimal(amount),
        hours_billed=hours,
        **fields,
    )


def make_certificate(dossier: Dossier, hours: str = "70", **fields: Any) -> Piece:
    return make_piece(
        dossier,
        PieceKind.COMPLETION_CERTIFICATE,
        hours_completed=hours,
        nature=dossier.category,
        signatory="Sophie Martin",
        **fields,
    )


def make_finding(
    dossier: Dossier, code: str = "AMOUNT_OVER_AGREED", severity: str = "bloquant", **fields: Any
) -> CheckFinding:
    """A finding of the automatic checks (and the dossier's control), committed."""
    control = control_for(dossier)
    finding = CheckFinding(
        control_id=control.id,
        dossier_id=dossier.id,
        code=code,
        severity=severity,
        severity_rank=RANKS[severity],
        label=fields.pop("label", f"Anomalie {code}"),
        explanation=fields.pop("explanation", f"Explication de {code}."),
        **fields,
    )
    db.session.add(finding)
    if severity == Severity.BLOCKING.value:
        control.blocking_count += 1
    elif severity == Severity.WARNING.value:
        control.warning_count += 1
    else:
        control.info_count += 1
    db.session.commit()
    return finding


def funder_with_staff() -> tuple[Funder, User, User]:
    """A funder, one of its controllers and one of its funder admins."""
    funder = FunderFactory()
    controller = UserFactory(role=Role.CONTROLLER.value, funder=funder)
    admin = UserFactory(role=Role.FUNDER_ADMIN.value, funder=funder)
    return funder, controller, admin


def dossier_of(
    funder: Funder, provider: Provider | None = None, *, control: bool = True, **values: Any
) -> Dossier:
    """A dossier and, as the checks' runner creates it for every new dossier, its control
    (`control=False`: none, as for a dossier the checks never saw)."""
    dossier = make_dossier(funder, provider or ProviderFactory(), **values)
    if control:
        control_for(dossier)
        db.session.commit()
    return dossier
